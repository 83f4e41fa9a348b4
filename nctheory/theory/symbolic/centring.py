r"""When a chain with matrix transformations still has an exact row-sum recurrence.

A MATRIX transformation (Newton-Schulz, Shampoo, SOAP) has no scalar form: the row sum of
its output is not a function of row sums. But a *left-orthogonally equivariant* one
(:data:`~nctheory.theory.transforms.LEFT_ORTHOGONAL`) keeps zero row sums: if every input it
has received has ``1_K^T X = 0``, so has its output (the matrix theorem,
:mod:`nctheory.theorems.matrix_row_sums`). The engine derives when that hypothesis holds at
every step, never from a name:

1. Run the chain with every nonlinear output held opaque (:mod:`.opaque`):
   ``x' = A x + B sigma`` for ``x = (s, row sums of the linear buffers)``, and the argument of
   each opaque map as a linear form in ``(x, g, sigma)``. Lemma 1 sets ``g = 0``.
2. Every opaque map must be a MATRIX transformation declared left-orthogonally equivariant
   (an elementwise one -- a sign, Adam's division -- does not keep zero row sums: the
   AdamW-like negative control).
3. Induction on t. Suppose every matrix output so far had zero row sums; then the state
   followed ``x_{t+1} = A x_t`` (sigma = 0), from ``x_1 = A_first (s_0, 0, ..)`` (the first
   step from the fresh state, derived the same way), so ``x_t`` lies in the Krylov space
   ``span{A^j A_first e_1}``. The argument of every matrix map at step t is ``c^T x_t`` (and
   ``c_first^T (s_0, 0, ..)`` at the first step), which vanishes for every ``s_0`` iff
   ``c_first^T e_1 = 0`` and ``c^T A^j A_first e_1 = 0`` for ``j < n`` (Cayley-Hamilton) --
   identities in the hyperparameters, decided exactly. Then the matrix outputs have zero
   row sums at step t too (the theorem), and ``x' = A x`` holds at every step.

Where step 3 fails because ``s`` enters an argument (coupled decay: ``1^T (G + lambda W) =
lambda s``), the input of the matrix map is not centred, the reflection that fixes it no
longer fixes the input, and the row sum of the output depends on the whole matrices: no
recurrence in the row sums exists, and :func:`obstruction` says why.

Decoupled Muon: ``x = (s, u)``, ``A = diag(1 - eta lambda, mu)``, ``A_first = A`` (torch's
buffer starts at 0), argument ``(1 - mu) g + mu u'`` with ``c = (0, mu^2)``; ``A e_1 = (1 -
eta lambda) e_1`` so ``c^T A^j e_1 = 0``: ``s' = (1 - eta lambda) s`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from nctheory.theory.symbolic.opaque import _opaque_step
from nctheory.theory.symbolic.rowsum import GRADIENT_ROW_SUM, WEIGHT_ROW_SUM, _cached, _nonlinear_part, buffer_symbols
from nctheory.theory.transforms import LEFT_ORTHOGONAL, MATRIX


@dataclass(frozen=True)
class CentredDynamics:
    """The derivation for one chain (hyperparameters symbolic).

    Attributes:
        reason: None when the recurrence holds; else why not, in a sentence.
        coupled: the weights' row sum enters the argument of a matrix map.
        state: the row-sum state symbols (as :mod:`.rowsum` names them: ``s``, buffer letters).
        matrix, first_matrix: ``A`` and ``A_first`` with every matrix output's row sum set to 0
            (meaningful only when ``reason`` is None).
        arguments: each matrix map's argument row sum after Lemma 1, regular step, as a linear
            form in the state.
    """

    reason: str | None
    coupled: bool
    state: tuple
    matrix: sp.Matrix
    first_matrix: sp.Matrix
    arguments: tuple


def _names(transform) -> str:
    return type(transform).__name__


def _outputs(spec, initialised: bool):
    """``(outputs, arguments, sigmas, nonlinear, opaque state symbols)`` of one opaque step,
    with Lemma 1 applied (g = 0)."""
    new_w, buffers, new_buffers, sigmas, arguments, nonlinear = _opaque_step(spec, initialised)
    zero_g = {GRADIENT_ROW_SUM: 0}
    outputs = [sp.expand(o.subs(zero_g)) for o in [new_w, *new_buffers]]
    arguments = [sp.expand(a.subs(zero_g)) for a in arguments]
    return outputs, arguments, sigmas, nonlinear, [WEIGHT_ROW_SUM, *buffers]


def _derive(spec) -> CentredDynamics:
    regular, args, sigmas, nonlinear, opaque_state = _outputs(spec, True)
    first, first_args, _, _, _ = _outputs(spec, False)
    state = (WEIGHT_ROW_SUM, *[symbol for _, _, symbol in buffer_symbols(spec)])
    if len(state) != len(opaque_state):  # a matrix transformation listed per-element buffers
        raise ValueError(f"{spec.name}: a MATRIX transformation declares buffers; its state is not a row-sum "
                         f"buffer (list it under other keys)")
    rename = dict(zip(opaque_state, state))
    n = len(state)
    empty = sp.zeros(n, n)
    coupled = any(a.has(WEIGHT_ROW_SUM) for a in args)
    for transform, sigma in zip(nonlinear, sigmas):
        if transform.nature != MATRIX:
            return CentredDynamics(
                f"the update applies the elementwise map {_names(transform)}, whose output's row sum is not "
                f"determined by row sums (it is not a matrix map that keeps zero row sums)", coupled, state,
                empty, empty, ())
        if transform.equivariance != LEFT_ORTHOGONAL:
            return CentredDynamics(
                f"the matrix map {_names(transform)} declares no left-orthogonal equivariance: nothing is known "
                f"of its output's row sums", coupled, state, empty, empty, ())
    no_sigma = {sigma: 0 for sigma in sigmas}
    variables = [*opaque_state, *sigmas]
    for expr in [*regular, *first]:
        why = _nonlinear_part(expr, variables) if expr != 0 else None
        if why is not None:
            return CentredDynamics(f"with its matrix outputs held opaque the step still {why}", coupled, state,
                                   empty, empty, ())
    A = sp.Matrix([o.subs(no_sigma) for o in regular]).jacobian(opaque_state).applyfunc(sp.factor)
    A_first = sp.Matrix([o.subs(no_sigma) for o in first]).jacobian(opaque_state).applyfunc(sp.factor)
    forms = [sp.Matrix([[sp.diff(a.subs(no_sigma), v) for v in opaque_state]]) for a in args]
    first_forms = [sp.diff(a.subs(no_sigma), WEIGHT_ROW_SUM) for a in first_args]
    arguments = tuple(sp.expand(a.subs(no_sigma).subs(rename)) for a in args)
    krylov = [A_first[:, 0]]
    for _ in range(n - 1):
        krylov.append(A * krylov[-1])
    for k, (transform, form, first_form) in enumerate(zip(nonlinear, forms, first_forms)):
        hits = [sp.cancel(first_form)] + [sp.cancel((form * v)[0, 0]) for v in krylov]
        if any(h != 0 for h in hits):
            what = ("the weights enter its argument directly (coupled decay: 1^T (G + lambda W) = lambda s)"
                    if args[k].subs(no_sigma).has(WEIGHT_ROW_SUM) or first_args[k].has(WEIGHT_ROW_SUM) else
                    "a buffer that receives the weights' row sum enters its argument")
            return CentredDynamics(
                f"the argument of the matrix map {_names(transform)} has row sum {arguments[k]} after Lemma 1, and "
                f"{what}: its input is not centred, so the matrix theorem does not apply and the row sum of the "
                f"update depends on the whole matrices, not on row sums", coupled, state, empty, empty, arguments)
    return CentredDynamics(None, coupled, state, A.subs(rename), A_first.subs(rename), arguments)


def centred_dynamics(spec) -> CentredDynamics:
    """The derivation for ``spec``'s chain (structural: hyperparameter values do not matter)."""
    return _cached("centring", spec, _derive)


def has_matrix_transform(spec) -> bool:
    return any(t.nature == MATRIX for t in spec.chain)


def obstruction(spec) -> str | None:
    """None if the row sums of a chain with matrix transformations follow ``x' = A x``; else why not."""
    return centred_dynamics(spec).reason


def centred_matrices(spec):
    """``(state, A, A_first)`` with hyperparameters symbolic, for :mod:`.rowsum`
    (call only where :func:`obstruction` is None)."""
    dyn = centred_dynamics(spec)
    return dyn.state, dyn.matrix, dyn.first_matrix


def matrix_statements(family) -> tuple:
    """THEORY.md section 4b's statement for a matrix chain without an exact recurrence:
    coupled decay -> the O(eta) neighbourhood; otherwise none is claimed."""
    from nctheory.theory.symbolic.signbased import Statement

    if family.exact_recurrence or family.coupling != "coupled":
        return ()
    return (Statement(
        "coupled_matrix_neighbourhood",
        "stationary points of L + lambda/2 ||W||^2 have NC0 = 0 (Theorem 2); the orthogonalised step keeps its "
        "nonzero singular values near 1 however small the gradient, so with a constant eta only an O(eta) "
        "neighbourhood is reached: the NC0_rel plateau falls below a tenth of its start and scales like eta",
        ("coupled weight decay lambda > 0", "shift-invariant loss (Lemma 1)", "constant step size eta",
         "weights not collapsed to 0"),
        "checked numerically",
        r"\limsup_{t\to\infty} \mathrm{NC0}_{\mathrm{rel}}(W_t) = O(\eta)"),)
