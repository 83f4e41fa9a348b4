"""The theory a run is judged against: which spec (the run's own, or another as a negative
control), which kind of theory it is, and the exact facts the verdicts quote from it
(excited modes, Lemma 1 for the run's loss, the learning rates it predicts with)."""

from __future__ import annotations

import math

import numpy as np

from nctheory.errors import NCTheoryError


def resolve_theory(theory, record):
    """The spec a run is judged against (see :func:`judged_spec`)."""
    return judged_spec(theory, record)[0]


def judged_spec(theory, run):
    """``(spec, explicit_lr)``: the spec a run is judged against, and whether its lr was
    chosen independently of the run (then the recorded schedule is rescaled to it).

    ``run`` is the spec that ran (an OptimizerSpec with values) or its record:

    * None: the run's own spec, as it ran (:func:`nctheory.verdict.record.run_spec`);
    * an :class:`~nctheory.theory.spec.OptimizerSpec`: as is;
    * a designator ``NAME`` or ``NAME:key=value,...`` (:mod:`nctheory.theory.designator`):
      the registered spec of that name -- or the run's own spec when NAME is its
      unregistered name -- with the run's hyperparameters where it declares them, its
      example values for the others, then the overrides.
    """
    from dataclasses import replace

    from nctheory.optimizers import REGISTRY, get_spec
    from nctheory.theory.designator import parse_theory
    from nctheory.theory.spec import OptimizerSpec
    from nctheory.verdict.record import run_spec as spec_of

    run_lr = run.values.get("lr") if isinstance(run, OptimizerSpec) else run.hparams.get("lr")
    if isinstance(theory, OptimizerSpec):
        th_lr = theory.values.get("lr")
        explicit = th_lr is not None and run_lr is not None and not math.isclose(
            float(th_lr), float(run_lr), rel_tol=1e-15)
        return theory, explicit
    if not (theory is None or isinstance(theory, str)):
        raise NCTheoryError(f"theory must be None, an optimizer name or an OptimizerSpec, got {type(theory).__name__}")
    if theory is None:
        return (run if isinstance(run, OptimizerSpec) else spec_of(run)), False
    name, overrides = parse_theory(theory)
    own = run if isinstance(run, OptimizerSpec) else getattr(run, "spec", None)
    if name not in REGISTRY and own is not None and name == own.name:
        base = replace(own, values={}, initial_buffers=None)
    else:
        base = get_spec(name)
    values = base.example_values()
    values.update({k: v for k, v in (own.values if own is not None else run.hparams).items() if k in values})
    values.update(overrides)
    return base.with_hparams(**values), "lr" in overrides


def theory_kind(spec) -> str:
    """The derived family's name ("linear", "sign_coupled", ..., "matrix");
    see :mod:`nctheory.theory.family`."""
    from nctheory.theory.family import family

    return family(spec).name


def sign_structure(spec) -> str | None:
    """"coupled" / "decoupled" if the step direction is sign-valued, read off the chain by
    :mod:`nctheory.theory.symbolic.opaque` (the weights inside the sign's argument:
    coupled); None otherwise."""
    from nctheory.theory.family import family

    fam = family(spec)
    return fam.coupling if fam.sign_valued else None


def theory_lrs(record, theory) -> tuple[np.ndarray, str | None]:
    """The learning rates the theory predicts with: the recorded ones, rescaled when the
    theory's lr differs from the run's (a theory with another lr is another theory)."""
    lrs = np.asarray(record.learning_rates, dtype=float)
    run_lr = record.hparams.get("lr")
    th_lr = float(theory.values["lr"]) if "lr" in theory.values else None
    if th_lr is None or run_lr is None or math.isclose(th_lr, float(run_lr), rel_tol=1e-15):
        return lrs, None
    # the run's reference lr: its own, or -- when it was 0 at the start (a warm-up from 0) --
    # the largest it used; a run that never moved (all 0) stays as it is
    reference = float(run_lr) if float(run_lr) > 0 else float(np.max(lrs, initial=0.0))
    if reference == 0:
        return lrs, f"the theory's lr = {th_lr:g} differs from the run's, but the run used lr = 0 throughout"
    return lrs * (th_lr / reference), (f"the theory's lr = {th_lr:g} differs from the run's "
                                       f"{reference:g}: the recorded schedule was rescaled by their ratio")


def hp_text(spec) -> str:
    return ", ".join(f"{k}={float(v):g}" for k, v in spec.values.items())


def excited_modes(theory):
    """``(rate, minimal polynomial, unexcited factor)`` as text, from
    :meth:`nctheory.theory.symbolic.rowsum.RowSumDynamics.excited_modes`; all None when the theory
    starts from initialised buffers (every mode is then generically excited) or is still
    symbolic. ``unexcited`` is "" when every mode is excited."""
    import sympy as sp

    dyn = theory.row_sum_dynamics()
    if theory.initial_buffers is not None or dyn.matrix.free_symbols or dyn.first_matrix.free_symbols:
        return None, None, None
    modes = dyn.excited_modes()
    unexcited = "" if modes.unexcited == 1 else str(modes.unexcited)
    return modes.rate, str(sp.sympify(modes.minimal_polynomial)), unexcited


def excited_rate(theory) -> tuple[float | None, str | None]:
    """``(rate, minimal polynomial)`` of :func:`excited_modes`."""
    rate, minpoly, _ = excited_modes(theory)
    return rate, minpoly


def loss_invariance(loss: str):
    """Lemma 1's test for a registered loss name (decided once per process by
    :func:`nctheory.theory.losses.shift_invariance`); None for an unknown name."""
    from nctheory.theory.losses import LOSSES, shift_invariance

    return shift_invariance(loss) if loss in LOSSES else None
