"""Row-sum recurrences derived from an optimizer spec by Lemma 1 (THEORY.md section 3).

Let R(X) = 1_K^T X be the row-sum map. The spec's update acts entrywise with scalar
coefficients, so if it is *linear* in (W, G, buffers) -- a homogeneous polynomial of
degree one in them -- then R commutes with it:
``R(W') = f(R W, R G, R B)``. Lemma 1 gives ``R G = 0`` for every shift-invariant loss,
so ``(s, u) = (R W, R B)`` follows the data-independent recurrence ``x' = A x``.

The engine never types a matrix by hand: it runs the spec's own step on sympy scalars
``s, g, u`` (one entry of the row sums), checks linearity, sets ``g = 0`` and reads ``A``
off as the Jacobian. Where the step is not linear (sign, square root, division by a
function of the gradient) the row sum of the update is not a function of row sums, and
:class:`~nctheory.errors.NoLinearRecurrenceError` says so. Chains with matrix maps
(Newton-Schulz, Shampoo) are decided by :mod:`.centring`: exact where every matrix map keeps
zero row sums and only ever sees centred arguments (decoupled Muon), refused otherwise.

The first step may differ: torch creates the momentum buffer as ``b_1 = d_0``. That
step is derived the same way, from the chain's initial state, giving ``A_first``.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import sympy as sp

from nctheory.theory import ops
from nctheory.errors import MissingHyperparameterError, NoLinearRecurrenceError

WEIGHT_ROW_SUM = sp.Symbol("s")
GRADIENT_ROW_SUM = sp.Symbol("g")
STEP = sp.Symbol("t", integer=True, positive=True)
X = sp.Symbol("x")


def buffer_symbols(spec) -> list[tuple[int, str, sp.Symbol]]:
    """(transform index, buffer name, symbol) for every buffer of the chain."""
    out = []
    for index, transform in enumerate(spec.chain):
        for name in transform.buffers:
            out.append((index, name, sp.Symbol(transform.letter(name))))
    return out


def symbolic_step(spec, initialised: bool, weights=WEIGHT_ROW_SUM, grad=GRADIENT_ROW_SUM,
                  hp=None):
    """Run the spec's step on sympy scalars.

    With ``initialised`` the buffers hold symbols and step counters hold ``t - 1``
    (so the step is the t-th); otherwise the chain starts from its initial state.
    Returns ``(new_weight, {buffer symbol: new value})``.
    """
    hp = spec.hp() if hp is None else hp
    state = list(spec.init_state(weights, ops.SYMBOLIC))
    if initialised:
        for index, name, symbol in buffer_symbols(spec):
            state[index] = {**state[index], name: symbol}
        for index, sub in enumerate(state):
            if "step" in sub:
                state[index] = {**sub, "step": STEP - 1}
    new_weight, new_state = spec.step(weights, grad, tuple(state), hp=hp, ops=ops.SYMBOLIC)
    new_buffers = {symbol: new_state[index][name] for index, name, symbol in buffer_symbols(spec)}
    return sp.expand(new_weight), {k: sp.expand(v) for k, v in new_buffers.items()}


def _describe(f) -> str:
    if isinstance(f, sp.Pow):
        if f.exp == -1:
            return "a division"
        return "a square root" if f.exp == sp.Rational(1, 2) else f"a power with exponent {f.exp}"
    return f"the function {f.func.__name__}"


def _nonlinear_part(expr, variables) -> str | None:
    """Why ``expr`` is not a homogeneous linear form in ``variables`` (None if it is)."""
    try:
        poly = sp.Poly(expr, *variables)
    except sp.PolynomialError:
        poly = None
    if poly is None or any(c.has(*variables) for c in poly.coeffs()):
        culprits = [f for f in sp.preorder_traversal(expr)
                    if isinstance(f, (sp.Function, sp.Pow)) and f.has(*variables)
                    and not (isinstance(f, sp.Pow) and f.exp.is_Integer and f.exp > 0)]
        what = _describe(culprits[0]) if culprits else "a nonlinear term"
        return f"applies {what} to the state (weights, gradient, buffers)"
    if poly.total_degree() > 1:
        return f"has terms of degree {poly.total_degree()} in the state (e.g. a squared gradient)"
    if poly.coeff_monomial(1) != 0:
        return "has a term that does not depend on the state"
    return None


_CACHE: dict = {}
#: The matrices with a spec's values substituted, keyed on structure and values (bounded).
_BOUND_CACHE: dict = {}
_BOUND_CACHE_SIZE = 1024


def _cached(kind: str, spec, compute):
    """Memoise a derivation on the spec's structure (name, chain, declarations), not its values."""
    key = (kind, spec.name, spec.chain, spec.hyperparameters)
    if key not in _CACHE:
        _CACHE[key] = compute(spec.without(*spec.hyperparameter_names))
    return _CACHE[key]


def _generic_nonlinearity(spec) -> str | None:
    from nctheory.theory.symbolic.centring import has_matrix_transform, obstruction

    if has_matrix_transform(spec):  # matrix maps: exact only where they keep zero row sums
        return obstruction(spec)
    for initialised in (True, False):
        new_w, new_b = symbolic_step(spec, initialised)
        variables = [WEIGHT_ROW_SUM, GRADIENT_ROW_SUM, *new_b.keys()]
        for target, expr in [("the weight update", new_w), *[(f"the buffer {k}", v) for k, v in new_b.items()]]:
            reason = _nonlinear_part(expr, variables)
            if reason:
                return f"{target} {reason}"
    return None


def nonlinearity(spec) -> str | None:
    """None if the spec's step is linear in (W, G, buffers); else the reason it is not."""
    return _cached("nonlinearity", spec, _generic_nonlinearity)


def _generic_matrices(spec):
    from nctheory.theory.symbolic.centring import centred_matrices, has_matrix_transform

    if has_matrix_transform(spec):  # every matrix output's row sum is 0 (symbolic.centring)
        return centred_matrices(spec)
    state = [WEIGHT_ROW_SUM] + [symbol for _, _, symbol in buffer_symbols(spec)]
    matrices = []
    for initialised in (True, False):
        new_w, new_b = symbolic_step(spec, initialised)
        outputs = [new_w] + [new_b[symbol] for symbol in state[1:]]
        # Lemma 1: the gradient's row sum is zero for every shift-invariant loss.
        outputs = [sp.expand(o.subs(GRADIENT_ROW_SUM, 0)) for o in outputs]
        matrices.append(sp.Matrix(outputs).jacobian(state).applyfunc(sp.factor))
    return tuple(state), matrices[0], matrices[1]


@dataclass(frozen=True)
class RowSumDynamics:
    """``x_{t+1} = A x_t`` for ``x = (s, u, ...)``, one coordinate of the row sums.

    ``first_matrix`` is the transition of the first step from a fresh optimizer state
    (torch's ``b_1 = d_0``); ``matrix`` every later one. Entries are exact: symbolic in
    hyperparameters left unset, rationals for those set. This is the constant-
    hyperparameter case of ``A_t = A(h_t; initialised_t)`` (:func:`general_transition`,
    :func:`transition_at`; schedules: :mod:`nctheory.theory.symbolic.schedules`).
    """

    spec: object
    state: tuple
    matrix: sp.Matrix
    first_matrix: sp.Matrix

    def transition(self, initialised: bool = True) -> sp.Matrix:
        """``matrix`` (buffers hold values) or ``first_matrix`` (fresh state, torch's ``b_1 = d_0``)."""
        return self.matrix if initialised else self.first_matrix

    def charpoly(self, x: sp.Symbol | None = None) -> sp.Expr:
        x = X if x is None else x
        return self.matrix.charpoly(x).as_expr()

    def eigenvalues(self) -> dict:
        return sp.roots(sp.Poly(self.charpoly(), X))

    def rate(self) -> float:
        """Spectral radius, from the exact characteristic polynomial at 40 digits."""
        unset = sorted(str(s) for s in self.matrix.free_symbols)
        if unset:
            names = [n for n, sym in self.spec.symbols().items() if str(sym) in unset]
            self.spec.require_values(*names)
        coeffs = [sp.Rational(c) for c in sp.Poly(self.charpoly(), X).all_coeffs()]
        return spectral_radius_of_coefficients(coeffs)


    def excited_modes(self) -> "ExcitedModes":
        """The modes a fresh optimizer state excites (all hyperparameters must be set).

        One coordinate evolves as ``x_t = A^(t-1) A_first (s_0, 0, ...)``; its modes are
        the roots of the minimal polynomial of ``v = A_first e_1`` under A, found exactly
        from the first linear dependence among ``v, A v, A^2 v, ...``. For SGDW the buffer's
        row sum starts and stays at 0, so the ``x - mu`` factor is never excited: the row
        sums decay exactly as ``(1 - eta lambda)^t`` even where ``mu > 1 - eta lambda``
        makes the spectral radius ``mu``.
        """
        if self.matrix.free_symbols or self.first_matrix.free_symbols:
            self.spec.require_values()
        n = self.matrix.shape[0]
        charpoly = sp.Poly(self.charpoly(X), X)
        vectors = [self.first_matrix[:, 0]]
        if all(x == 0 for x in vectors[0]):
            return ExcitedModes(0.0, sp.Integer(1), charpoly.monic().as_expr())
        while True:  # at most n iterations: n + 1 vectors in R^n are dependent
            following = self.matrix * vectors[-1]
            basis = sp.Matrix.hstack(*vectors)
            if sp.Matrix.hstack(basis, following).rank() == basis.shape[1]:
                k = basis.shape[1]
                coeffs = basis.solve_least_squares(following) if k < n else basis.solve(following)
                minimal = sp.Poly(X ** k - sum(coeffs[i] * X ** i for i in range(k)), X)
                rate = spectral_radius_of_coefficients([sp.Rational(c) for c in minimal.all_coeffs()])
                quotient, _ = sp.div(charpoly, minimal)
                return ExcitedModes(rate, minimal.monic().as_expr(), quotient.monic().as_expr())
            vectors.append(following)


@dataclass(frozen=True)
class ExcitedModes:
    """``rate``: largest modulus of the excited modes; ``minimal_polynomial``: their polynomial;
    ``unexcited``: the factor of the characteristic polynomial a fresh run never sees (1 if none)."""

    rate: float
    minimal_polynomial: sp.Expr
    unexcited: sp.Expr


def spectral_radius_of_coefficients(coeffs) -> float:
    """Largest root modulus of the polynomial with exact rational ``coeffs`` (leading first)."""
    coeffs = list(coeffs)
    while len(coeffs) > 1 and coeffs[-1] == 0:  # roots at zero
        coeffs.pop()
    if len(coeffs) == 1:
        return 0.0
    with mpmath.workdps(40):
        mp_coeffs = [mpmath.mpf(c.p) / c.q for c in coeffs]
        roots = mpmath.polyroots(mp_coeffs, maxsteps=200, extraprec=200)
        return float(max(abs(r) for r in roots))


def row_sum_dynamics(spec, loss=None) -> RowSumDynamics:
    """The exact row-sum recurrence of ``spec`` (values substituted where set).

    Hypotheses (Lemma 1): the loss is invariant under ``z -> z + c 1_K``. Pass ``loss``
    (an :class:`nctheory.theory.losses.Loss` or a registered loss name) to have it checked;
    a loss that fails raises :class:`~nctheory.errors.LossNotShiftInvariantError`.
    """
    if loss is not None:
        from nctheory.theory.losses import require_shift_invariant

        require_shift_invariant(loss)
    reason = nonlinearity(spec)
    if reason is not None:
        raise NoLinearRecurrenceError(
            f"{spec.name}: no linear row-sum recurrence exists: {reason}. The row sum of the "
            f"update is then not determined by the row sums of weights, gradient and buffers; "
            f"see spec.nonlinear_theory() for what THEORY.md section 4 does give.")
    key = (spec.name, spec.chain, spec.hyperparameters, tuple(sorted(spec.values.items())))
    if key not in _BOUND_CACHE:
        if len(_BOUND_CACHE) >= _BOUND_CACHE_SIZE:
            _BOUND_CACHE.clear()
        state, matrix, first = _cached("matrices", spec, _generic_matrices)
        sub = spec.substitution()
        _BOUND_CACHE[key] = (state, matrix.subs(sub).applyfunc(sp.factor), first.subs(sub).applyfunc(sp.factor))
    state, matrix, first = _BOUND_CACHE[key]
    return RowSumDynamics(spec, state, matrix, first)


def general_transition(spec, initialised: bool, loss=None) -> sp.Matrix:
    """``A(h; initialised)``: one step's transition with every hyperparameter a symbol.

    ``initialised=False`` is the first step from a fresh optimizer state (torch's
    ``b_1 = d_0``), ``True`` every step whose buffers already hold values. The entries are
    rational functions of the hyperparameter symbols and, for a chain whose transforms read
    their step counter, of :data:`STEP` (the 1-based index of the step being taken). This is
    the object schedules evaluate: ``A_t = A(h_t; initialised_t)`` at ``STEP = t + 1``.
    """
    dyn = row_sum_dynamics(spec.without(*spec.hyperparameter_names), loss=loss)
    return dyn.matrix if initialised else dyn.first_matrix


def transition_at(spec, step_index: int, values=None, initialised: bool = True) -> sp.Matrix:
    """The exact transition ``A_t`` of step ``t = step_index`` (0-based) given its hyperparameters.

    ``values`` maps hyperparameter names to that step's values (exact numbers or sympy
    expressions); names it omits take the spec's values, or stay symbolic if unset. The
    step index enters only through :data:`STEP` (``STEP = step_index + 1``), so a spec
    whose transition depends on ``t`` -- e.g. modulo a period, as Lookahead's
    synchronisation every k steps does -- needs nothing beyond its chain (see
    :mod:`nctheory.theory.symbolic.schedules`).
    """
    general = general_transition(spec, initialised)
    symbols = spec.symbols()
    sub = {symbols[name]: value for name, value in {**spec.values, **(values or {})}.items()}
    if STEP in general.free_symbols:
        sub[STEP] = sp.Integer(step_index) + 1
    return general.subs(sub)


def require_numeric(spec, expr, what: str) -> None:
    """Raise MissingHyperparameterError if ``expr`` still has hyperparameter symbols."""
    leftover = {str(s) for s in sp.sympify(expr).free_symbols}
    names = [n for n, sym in spec.symbols().items() if str(sym) in leftover]
    if names:
        spec.require_values(*names)
    if leftover - {str(spec.symbols()[n]) for n in spec.symbols()}:
        raise MissingHyperparameterError(f"{spec.name}: {what} is not numeric: {expr}")
