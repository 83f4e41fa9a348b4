"""Which theory applies to a spec, derived from its chain (never from its name).

The transformations declare their nature (:mod:`nctheory.theory.transforms`); the
symbolic engine derives the rest:

* **linear** -- every transformation linear: the exact row-sum recurrence of THEORY.md
  section 3 (:mod:`.symbolic.rowsum`); checked by whole trajectories.
* **sign** -- one stateless elementwise transformation with values in {-1, 0, 1} (sign
  descent) amid stateless linear ones: THEORY.md section 4's scaling laws, checked over
  several step sizes.
* **adaptive** -- any other elementwise nonlinearity (second-moment divisions, sign of a
  momentum as in Lion): empirical thresholds on NC0_rel.
* **matrix** -- a transformation on whole matrices (Newton-Schulz, Shampoo, SOAP). Where
  every matrix map keeps zero row sums (declared left-orthogonal equivariance) and only ever
  sees centred arguments -- the decay decoupled, the argument built from gradients -- the row
  sums follow an exact linear recurrence (:mod:`.symbolic.centring`; decoupled Muon:
  ``s' = (1 - eta lambda) s``): ``exact_recurrence``, checked by whole trajectories like the
  linear kind. Coupled decay breaks it (the weights enter the map's argument): the O(eta)
  neighbourhood of Theorem 2's centred stationary points, checked over several step sizes.

For the nonlinear kinds, ``coupling`` comes from :mod:`.symbolic.opaque`: *coupled* when
the weights enter the argument of the nonlinearity (``sign(G + lambda W)``, torch's
``Adam(weight_decay)``), *decoupled* otherwise (``(1 - eta lambda) W - eta sign(G)``,
``AdamW``); a chain without decay counts as decoupled (nothing pulls the row sums to 0).
The box bound applies when the derived weight update is exactly
``s' = (1 - eta lambda) s - eta sigma`` with a sign-valued ``sigma``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.theory.hyperparams import SYMBOLS
from nctheory.theory.transforms import ELEMENTWISE, LINEAR, MATRIX, SIGN_OUTPUT

LINEAR_KIND, SIGN_KIND, ADAPTIVE_KIND, MATRIX_KIND = "linear", "sign", "adaptive", "matrix"
COUPLED, DECOUPLED = "coupled", "decoupled"
#: How a theory is checked: one run compared step by step, runs at several step sizes for a
#: scaling law, or one run long enough in physical time ``eta * t``.
TRAJECTORY, STEP_SIZE_SCALING, PHYSICAL_TIME, NO_PROTOCOL = (
    "trajectory", "step_size_scaling", "physical_time", "none")
_PROTOCOLS = {LINEAR_KIND: TRAJECTORY, SIGN_KIND: STEP_SIZE_SCALING, ADAPTIVE_KIND: PHYSICAL_TIME,
              MATRIX_KIND: STEP_SIZE_SCALING}


@dataclass(frozen=True)
class Family:
    """What the chain of a spec implies for its NC0 theory.

    Attributes:
        kind: "linear", "sign", "adaptive" or "matrix".
        coupling: "coupled" / "decoupled" for nonlinear kinds, None for linear ones.
        sign_valued: every nonlinear output lies in {-1, 0, 1} (integer row sums).
        box_bounded: the weight update is ``(1 - eta lambda) W - eta sigma`` with a
            sign-valued ``sigma``: ``||W_t||_inf <= max(||W_0||_inf, 1/lambda)``.
        exact_recurrence: a matrix chain whose row sums nevertheless follow ``x' = A x``
            (:mod:`.symbolic.centring`); checked like the linear kind.
    """

    kind: str
    coupling: str | None = None
    sign_valued: bool = False
    box_bounded: bool = False
    exact_recurrence: bool = False

    @property
    def name(self) -> str:
        """"linear", "sign_coupled", "sign_decoupled", "adaptive_coupled", ..."""
        return self.kind if self.coupling is None else f"{self.kind}_{self.coupling}"

    @property
    def protocol(self) -> str:
        return TRAJECTORY if self.exact_recurrence else _PROTOCOLS[self.kind]

    @property
    def is_linear(self) -> bool:
        """Whether the row sums follow an exact linear recurrence (the linear kind, or a matrix
        chain with ``exact_recurrence``)."""
        return self.kind == LINEAR_KIND or self.exact_recurrence


def _derive(spec) -> Family:
    natures = [t.nature for t in spec.chain]
    if MATRIX in natures:
        from nctheory.theory.symbolic.centring import centred_dynamics

        dyn = centred_dynamics(spec)
        return Family(MATRIX_KIND, COUPLED if dyn.coupled else DECOUPLED, exact_recurrence=dyn.reason is None)
    if all(n == LINEAR for n in natures):
        from nctheory.theory.symbolic.rowsum import nonlinearity

        reason = nonlinearity(spec)
        if reason is not None:
            raise NCTheoryError(f"{spec.name}: every transformation is declared linear, but {reason}")
        return Family(LINEAR_KIND)
    from nctheory.theory.symbolic.opaque import opaque_dynamics

    dynamics = opaque_dynamics(spec)
    nonlinear = [t for t in spec.chain if t.nature == ELEMENTWISE]
    sign_valued = all(t.output == SIGN_OUTPUT for t in nonlinear)
    stateless = all(not t.buffers for t in spec.chain)
    kind = SIGN_KIND if (len(nonlinear) == 1 and sign_valued and stateless) else ADAPTIVE_KIND
    coupling = COUPLED if dynamics.coupled else DECOUPLED
    eta, lam = SYMBOLS["lr"], SYMBOLS["weight_decay"]
    box = (sign_valued and len(dynamics.opaque) == 1 and dynamics.matrix.shape == (1, 1)
           and sp.expand(dynamics.matrix[0, 0] - (1 - eta * lam)) == 0
           and sp.expand(dynamics.input_matrix[0, 0] + eta) == 0)
    return Family(kind, coupling, sign_valued, bool(box))


_FAMILIES: dict = {}


def family(spec) -> Family:
    """The :class:`Family` of ``spec``'s chain (structural: hyperparameter values do not matter)."""
    key = (spec.chain, spec.hyperparameters)
    if key not in _FAMILIES:
        _FAMILIES[key] = _derive(spec.without(*spec.hyperparameter_names))
    return _FAMILIES[key]
