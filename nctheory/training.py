"""Training runs that measure what the theory predicts (INTERFACE -- being implemented).

This module is the contract between the numerical layer (models, data, backends) and the
verdict / check / tracker layer. ``run_training`` trains a classifier with the optimizer
of a spec and records the last layer's row sums at every step and the NC metrics every
``record_every`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrainingRecord:
    """Everything a run measured. Arrays are float64 numpy arrays on the host.

    Attributes:
        optimizer: registry name of the spec that was run.
        hparams: the hyperparameters as floats (torch names).
        model: "ufm", "mlp", "cnn", "gaussian_mlp" or "user".
        backend: "torch", "numpy" or "cupy"; device: "cpu" or "cuda"; dtype: "float64" / "float32".
        seed: the seed everything was drawn from.
        num_classes: K.
        row_sums: shape (steps_done + 1, d): ``W_t^T 1_K`` after every step (t = 0 first).
        learning_rates: shape (steps_done,): the learning rate used at each step.
        metric_steps: steps at which ``metrics`` were recorded (0 and every record_every).
        metrics: name -> array over metric_steps: "nc0", "nc0_rel", "nc1", "nc2", "nc3",
            "nc4", "loss", "accuracy" (NaN where a metric is undefined for the model).
        diverged_at: the first step whose loss or weights were NaN/inf, else None.
        loss: the loss's registry name ("cross_entropy", "label_smoothing", "mse", ...).
        stopped_early: True when interrupted (KeyboardInterrupt) -- what was computed is kept.
    """

    optimizer: str
    hparams: dict
    model: str
    backend: str
    device: str
    dtype: str
    seed: int
    num_classes: int
    row_sums: np.ndarray
    learning_rates: np.ndarray
    metric_steps: np.ndarray
    metrics: dict = field(default_factory=dict)
    diverged_at: int | None = None
    loss: str = "cross_entropy"
    stopped_early: bool = False

    @property
    def steps_done(self) -> int:
        return len(self.learning_rates)
