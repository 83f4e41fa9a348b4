r"""The numerical check of :mod:`nctheory.theorems.matrix_row_sums`, in float64.

Rows (predicted and measured side by side):

1. **Trajectories.** Every registered spec with a matrix map whose derived family has an
   exact recurrence is trained on the UFM (K = 5, d = 20, float64, minibatches of 16) with
   its reference implementation (``torch.optim.Muon`` with Newton-Schulz in float64,
   pytorch-optimizer's Shampoo / SOAP) and judged by :mod:`nctheory.verdict`: the whole
   row-sum trajectory against ``x' = A x`` to 1e-9.
2. **Reflection test** of every matrix transformation the registered chains declare
   left-orthogonally equivariant: three centred float64 inputs (K x d = 5 x 7 and 3 x 10: d >= K,
   so that the left statistic of one input has a simple, well separated eigenvalue on 1 --
   SOAP's hypothesis), ``max |1^T U| / ||U||_F``, at each spec's example hyperparameters. Tolerance :data:`REFLECTION_TOLERANCE`, above the largest
   rounding bound of these maps: Newton-Schulz, O(10) matrix products of inner dimension
   n <= 7 each rounding with relative error ``gamma_n = n u`` (Higham 2002, section 3.5),
   magnified by at most ``a^5 ~ 490`` on the normalised spectrum:
   ``sqrt(K) * 10 * 490 * 7 * 1.1e-16 ~ 1e-11``; Shampoo (momentum 0): the rounding of
   ``1^T G`` times ``eps^(-1/4)`` twice, ``~1e3 u`` = 1e-13; SOAP: the rounding of the rotated
   first moment on 1, ``u ||m||``, divided by ``eps`` = 1e-6: ``~1e-10`` times
   ``||m|| / ||U|| <= 10``. A map that does not keep zero row sums leaves O(1) (the control:
   elementwise Adam, 0.5). ``info`` rows show 7 x 5 (K > d: Newton-Schulz's transposed branch,
   proved exactly in :mod:`nctheory.theorems.matrix_row_sums`; ``K - 1 > d`` is outside SOAP's
   hypothesis: its first eigenbasis is arbitrary in a 2-dimensional null space holding 1, and
   its row sums are O(0.1)). Near ``K - 1 = d`` SOAP's floor grows with the conditioning of its
   statistic: the computed null eigenvector is off by ``u kappa``, and Adam divides what that
   leaves by ``eps`` (6 x 5: 1e-7).
3. **Controls** (must be refuted): the same optimizer with its matrix map replaced by
   elementwise Adam (:data:`~nctheory.theory.transforms.scale_by_adam`), and with the decay moved
   before the momentum (coupled), each run with the package's own step and judged against the
   exact recurrence; and the reflection test of elementwise Adam.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nctheory.theorems.base import Comparison, NumericalCheck, holds_from, refuted_from

REFLECTION_TOLERANCE = 1e-8
STEPS = 200
SHAPES = ((5, 7), (3, 10))
OUTSIDE = (7, 5)


def _matrix_specs():
    from nctheory.optimizers import REGISTRY
    from nctheory.theory.transforms import MATRIX

    return [s for s in REGISTRY.values() if any(t.nature == MATRIX for t in s.chain)]


def _declared_transforms(specs):
    """``(transform, a spec using it)`` for every distinct matrix map declared left-orthogonal."""
    from nctheory.theory.transforms import LEFT_ORTHOGONAL, MATRIX

    out = []
    for spec in specs:
        for t in spec.chain:
            if t.nature == MATRIX and t.equivariance == LEFT_ORTHOGONAL and all(t != o for o, _ in out):
                out.append((t, spec))
    return out


def reflection_residual(transform, spec, seed: int, shape) -> float:
    """``max_t |1^T U_t| / ||U_t||_F`` over three centred float64 inputs fed to ``transform``
    (its state carried), with ``spec``'s example hyperparameters."""
    from nctheory.theory import ops

    rng = np.random.default_rng(seed)
    hp = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
          **{k: float(v) for k, v in spec.with_hparams(**spec.example_values()).values.items()}}
    params = rng.normal(size=shape)
    namespace = ops.for_array(params)
    state = transform.init(params, namespace)
    worst = 0.0
    for _ in range(3):
        G = rng.normal(size=shape)
        G -= G.mean(axis=0)
        U, state = transform.update(G, params, state, hp, namespace)
        norm = float(np.linalg.norm(U))
        if norm > 0:
            worst = max(worst, float(np.abs(U.sum(axis=0)).max()) / norm)
    return worst


def _run_and_judge(spec, theory, seed):
    from nctheory.runs.training import run_training
    from nctheory.verdict import check_records

    record = run_training(spec, model="ufm", steps=STEPS, seed=seed, record_every=max(1, STEPS // 20), batch_size=16)
    return check_records([record], theory=theory), record


def _control_specs(spec):
    """The elementwise-Adam and the coupled variants of ``spec``'s chain (built here, named after it)."""
    from nctheory.theory import hyperparams as hp
    from nctheory.theory import transforms as tf

    chain = spec.chain
    declared = {h.name for h in spec.hyperparameters}
    extra = tuple(h for h in (hp.BETA1, hp.BETA2, hp.EPS) if h.name not in declared)
    adam_chain = tuple(tf.scale_by_adam if t.nature == tf.MATRIX else t for t in chain)
    adam = replace(spec, name=f"{spec.name}_elementwise_adam", chain=adam_chain,
                   hyperparameters=spec.hyperparameters + extra, torch=(), reference_implementation=None)
    adam = adam.with_hparams(**{h.name: h.default for h in extra})
    out = [("elementwise Adam instead of the matrix map", adam)]
    if tf.add_decayed_weights in chain:
        moved = (tf.add_decayed_weights,) + tuple(t for t in chain if t is not tf.add_decayed_weights)
        coupled = replace(spec, name=f"{spec.name}_decay_first", chain=moved, torch=(), reference_implementation=None)
        out.append(("decay moved before the momentum (coupled)", coupled))
    return out


def check_matrix_row_sums(name: str, seed: int = 0) -> NumericalCheck:
    from nctheory.theory import transforms as tf

    specs = _matrix_specs()
    exact = [s.with_hparams(**s.example_values()) for s in specs if s.family.exact_recurrence]
    rows = []
    for spec in exact:
        verdict, record = _run_and_judge(spec, None, seed)
        rows.append(Comparison(f"{spec.name}: whole row-sum trajectory vs x' = A x ({record.implementation})",
                               "verified", verdict.verdict, holds_from(verdict.verdict),
                               f"max relative error {verdict.max_rel_error:.3g} (tolerance 1e-9)"))
    for transform, spec in _declared_transforms(specs):
        for shape in SHAPES:
            residual = reflection_residual(transform, spec, seed, shape)
            rows.append(Comparison(f"{type(transform).__name__} {shape[0]}x{shape[1]}: max |1^T U| / ||U||_F",
                                   f"<= {REFLECTION_TOLERANCE:g}", residual, residual <= REFLECTION_TOLERANCE))
        residual = reflection_residual(transform, spec, seed, OUTSIDE)
        rows.append(Comparison(f"{type(transform).__name__} {OUTSIDE[0]}x{OUTSIDE[1]} (K - 1 > d)", "-", residual,
                               None, "Newton-Schulz's transposed branch; outside SOAP's hypothesis (eigenvalue on 1 "
                                     "not simple at the first step)", role="info"))
    if exact:
        spec = exact[0]
        for label, control in _control_specs(spec):
            verdict, _ = _run_and_judge(control.with_hparams(**{k: float(v) for k, v in spec.values.items()
                                                                 if k in control.hyperparameter_names}), spec, seed)
            rows.append(Comparison(f"{label}, judged by {spec.name}'s recurrence (wrong theory)", "refuted",
                                   verdict.verdict, refuted_from(verdict.verdict), role="control"))
        residual = reflection_residual(tf.scale_by_adam, spec, seed, SHAPES[0])
        rows.append(Comparison("elementwise Adam: max |1^T U| / ||U||_F (must not keep zero row sums)",
                               f"> {1e5 * REFLECTION_TOLERANCE:g}", residual, residual > 1e5 * REFLECTION_TOLERANCE,
                               role="control"))
    setting = (f"UFM K = 5, d = 20, {STEPS} steps, float64, minibatches of 16, seed {seed}; example hyperparameters "
               f"of {', '.join(s.name for s in exact) or 'no exact matrix spec'}")
    return NumericalCheck(name, setting, tuple(rows))
