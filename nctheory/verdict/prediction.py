"""A prediction, computed once: what the theory a run is judged against says about it.

ARCHITECTURE.md's arrows are spec -> prediction -> verdict -> report. :class:`Prediction`
is the middle object: the theory (a spec with values), the exact facts of its row-sum
recurrence that the verdict and the report quote (rate, eigenvalues, characteristic
polynomial, excited modes), THEORY.md section 4's statements for nonlinear theories, and --
once bound to a run -- the learning rates it predicts with, the predicted row-sum
trajectory from the run's ``s_0`` and Lemma 1's verdict on the run's loss.

* :func:`predict_theory` -- the run-independent part (the command line shows it before it
  trains);
* :func:`for_run` -- bound to one record (the theory takes the run's lr unless it chose
  its own; the recorded schedule is rescaled then);
* :func:`predict_runs` -- the predictions for several records against one theory.

The verdicts (:mod:`nctheory.verdict`) are pure functions of records and predictions; the
report (:mod:`nctheory.render.report`) renders a prediction without recomputing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from nctheory.theory.spec import OptimizerSpec
from nctheory.verdict.theory import excited_modes, judged_spec, loss_invariance, theory_lrs


@dataclass(frozen=True, eq=False)
class Prediction:
    """What a theory predicts, computed once.

    Attributes:
        spec: the theory: an OptimizerSpec with values.
        explicit_lr: the theory's lr was chosen apart from the run's (the recorded schedule
            is then rescaled to it instead of the theory taking the run's lr).
        rate: spectral radius of the row-sum recurrence (linear theories, else None).
        eigenvalues: its eigenvalues with multiplicities (sympy ``roots``).
        charpoly: its characteristic polynomial (sympy, in ``x``).
        excited_rate, excited_minimal_polynomial, unexcited_factor: the modes a fresh
            optimizer state excites (:func:`nctheory.verdict.theory.excited_modes`; None
            when the theory starts from initialised buffers).
        buffers_stay_zero: the buffers' row sums start at 0 and only ever see gradients,
            whose row sums vanish (Lemma 1), so they stay 0 and their modes are never
            excited (SGDW's momentum buffer).
        statements: THEORY.md section 4's statements for a nonlinear theory.
        learning_rates: the learning rates the theory predicts the run with (bound only).
        lr_note: why they differ from the recorded ones, if they do (bound only).
        row_sums: the predicted ``s_0 .. s_T`` from the run's ``s_0`` (bound linear theories
            of runs with at least one step).
        loss: the run's loss (bound only); lemma1: Lemma 1's test for it
            (:func:`nctheory.theory.losses.shift_invariance`; None for an unregistered loss).
        schedules: the run's per-step hyperparameters besides lr that the prediction used
            (:func:`run_schedules`; bound only).
    """

    spec: OptimizerSpec
    explicit_lr: bool = False
    rate: float | None = None
    eigenvalues: dict = field(default_factory=dict)
    charpoly: object = None
    excited_rate: float | None = None
    excited_minimal_polynomial: str | None = None
    unexcited_factor: str | None = None
    buffers_stay_zero: bool = False
    statements: tuple = ()
    learning_rates: np.ndarray | None = None
    lr_note: str | None = None
    row_sums: np.ndarray | None = None
    loss: str | None = None
    lemma1: object = None
    schedules: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def family(self):
        """The theory's family (:mod:`nctheory.theory.family`)."""
        return self.spec.family

    @property
    def is_linear(self) -> bool:
        return self.family.is_linear

    @property
    def nc0(self) -> np.ndarray | None:
        """Predicted ``||s_t||`` (bound linear predictions)."""
        return None if self.row_sums is None else np.linalg.norm(self.row_sums, axis=1)


def _buffers_stay_zero(spec) -> bool:
    """Whether every buffer's row sum is 0 after the first step and never receives ``s``:
    ``A_first[1:, 0] = 0`` and ``A[1:, 0] = 0`` (then ``A`` keeps the buffer part at 0)."""
    dyn = spec.row_sum_dynamics()
    n = dyn.matrix.shape[0]
    return n > 1 and all(dyn.first_matrix[i, 0] == 0 and dyn.matrix[i, 0] == 0 for i in range(1, n))


def predict_theory(spec: OptimizerSpec, explicit_lr: bool = False) -> Prediction:
    """The run-independent prediction of ``spec`` (every hyperparameter it uses set)."""
    if not spec.family.is_linear:
        return Prediction(spec, explicit_lr, statements=tuple(spec.nonlinear_theory()))
    ex_rate, minpoly, unexcited = excited_modes(spec)
    return Prediction(spec, explicit_lr, rate=spec.rate(), eigenvalues=spec.eigenvalues(),
                      charpoly=spec.charpoly(), excited_rate=ex_rate, excited_minimal_polynomial=minpoly,
                      unexcited_factor=unexcited, buffers_stay_zero=_buffers_stay_zero(spec))


def for_run(prediction: Prediction, record) -> Prediction:
    """``prediction`` bound to one record: the theory at the run's lr (unless the theory
    chose its own), the learning rates it predicts with, the predicted trajectory from the
    run's ``s_0`` (linear theories, runs with at least one step) and Lemma 1 for the run's loss."""
    spec = prediction.spec
    if not prediction.explicit_lr and "lr" in record.hparams and "lr" in spec.hyperparameter_names:
        at_run_lr = spec.with_hparams(lr=float(record.hparams["lr"]))
        if at_run_lr.values != spec.values:
            prediction = predict_theory(at_run_lr)
            spec = at_run_lr
    lrs, note = theory_lrs(record, spec)
    schedules = run_schedules(record, spec)
    rows = None
    if prediction.is_linear and record.steps_done > 0:
        rows = spec.predict(np.asarray(record.row_sums, dtype=np.float64)[0], record.steps_done, lr_schedule=lrs,
                            schedules=schedules or None)
    return replace(prediction, learning_rates=lrs, lr_note=note, row_sums=rows, loss=record.loss,
                   lemma1=loss_invariance(record.loss), schedules=schedules)


def run_schedules(record, spec) -> dict:
    """The run's per-step hyperparameters (``record.schedules``: a cycled momentum, a decay
    schedule) that the theory predicts with: those it declares and whose value it shares with
    the run (a theory with another constant value -- a negative control -- keeps its own)."""
    out = {}
    for name, values in (getattr(record, "schedules", None) or {}).items():
        run_value = record.hparams.get(name)
        if name in spec.hyperparameter_names and name in spec.values and run_value is not None \
                and float(spec.values[name]) == float(run_value):
            out[name] = np.asarray(values, dtype=np.float64)
    return out


def predict_runs(records, theory=None) -> list[Prediction]:
    """One bound prediction per record, against ``theory``: None (the spec of the first
    run), an OptimizerSpec, a theory designator ``NAME`` / ``NAME:key=value,...``
    (:func:`nctheory.verdict.theory.judged_spec`), or a :class:`Prediction` already made
    (the command line's, shown before training) -- computed once, bound to each run."""
    if isinstance(theory, Prediction):
        base = theory
    else:
        base = predict_theory(*judged_spec(theory, records[0]))
    return [for_run(base, r) for r in records]
