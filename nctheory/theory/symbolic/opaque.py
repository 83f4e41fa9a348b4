"""Row sums through a nonlinearity: ``x' = A x + B sigma``, derived with the nonlinear
output kept opaque.

Where a chain holds an entrywise nonlinear transformation (a sign, a division by a second
moment), the row sum of the update is not a function of row sums, and
:mod:`nctheory.theory.symbolic.rowsum` refuses a recurrence. What remains exact is the
*linear part around* the nonlinearity: run the chain on sympy scalars, replace the output
of every nonlinear transformation by an opaque symbol ``sigma_k`` (its state is then part
of the opaque map), and the rest of the step is linear in the weights ``s``, the gradient
``g``, the buffers of the linear transformations and the ``sigma_k``. Applying the row-sum
map ``R(X) = 1_K^T X`` (it commutes with scalar-coefficient linear maps) and Lemma 1
(``R(G) = 0``) gives

``x_{t+1} = A x_t + B (R sigma_t)``, with ``x = (s, row sums of the linear buffers)``.

For SignGD with coupled decay this yields ``s' = s - eta R(sign(G + lambda W))``; with
decoupled decay ``s' = (1 - eta lambda) s - eta R(sign(G))`` (THEORY.md section 4) --
derived from the chain, not typed. The *arguments* of the nonlinearities are kept too:
decay is **coupled** when the weights enter an argument (``sign(G + lambda W)``),
**decoupled** when they do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.theory import ops
from nctheory.theory.symbolic.rowsum import (GRADIENT_ROW_SUM, STEP, WEIGHT_ROW_SUM, _cached,
                                             _nonlinear_part)
from nctheory.theory.transforms import LINEAR


@dataclass(frozen=True)
class OpaqueDynamics:
    """``x' = A x + B sigma`` for one coordinate of the row sums (regular step).

    Attributes:
        state: symbols of ``x``: the weights' row sum ``s`` and the row sums of the buffers
            of linear transformations.
        opaque: the symbols ``sigma_k``, one per nonlinear transformation, in chain order.
        arguments: the input of each nonlinear transformation, as a function of ``s``, ``g``
            and the buffers (before any row sum is taken).
        matrix: ``A`` (exact, symbolic in the unset hyperparameters).
        input_matrix: ``B``.
        nonlinear: the nonlinear transformations, in chain order.
    """

    state: tuple
    opaque: tuple
    arguments: tuple
    matrix: sp.Matrix
    input_matrix: sp.Matrix
    nonlinear: tuple

    @property
    def coupled(self) -> bool:
        """Whether the weights enter the argument of a nonlinearity (coupled decay)."""
        return any(arg.has(WEIGHT_ROW_SUM) for arg in self.arguments)

    def substituted(self, values: dict) -> "OpaqueDynamics":
        """The same dynamics with ``{symbol: value}`` substituted in A and B."""
        return OpaqueDynamics(self.state, self.opaque, self.arguments,
                              self.matrix.subs(values), self.input_matrix.subs(values), self.nonlinear)


def _opaque_step(spec, initialised: bool = True):
    """Run the chain on sympy scalars with every nonlinear output replaced by ``sigma_k``.

    ``initialised``: the buffers of linear transformations hold symbols and step counters
    ``t - 1`` (a regular step); otherwise the chain starts from its initial state (the
    first step of a fresh optimizer, torch's ``b_1 = d_0`` included)."""
    hp = spec.hp()
    state = list(spec.init_state(WEIGHT_ROW_SUM, ops.SYMBOLIC))
    updates = GRADIENT_ROW_SUM
    buffer_symbols, new_buffers, sigmas, arguments, nonlinear = [], [], [], [], []
    for index, transform in enumerate(spec.chain):
        sub = dict(state[index])
        if "step" in sub and initialised:
            sub["step"] = STEP - 1
        if transform.nature != LINEAR:
            sigma = sp.Symbol(f"sigma_{len(sigmas) + 1}")
            sigmas.append(sigma)
            arguments.append(sp.expand(updates))
            nonlinear.append(transform)
            updates = sigma
            continue
        for name in transform.buffers:
            sub[name] = sp.Symbol(f"{transform.letter(name)}_{index}") if initialised else sub[name]
        updates, new_sub = transform.update(updates, WEIGHT_ROW_SUM, sub, hp, ops.SYMBOLIC)
        for name in transform.buffers:
            buffer_symbols.append(sp.Symbol(f"{transform.letter(name)}_{index}"))
            new_buffers.append(sp.expand(new_sub[name]))
    return sp.expand(WEIGHT_ROW_SUM + updates), buffer_symbols, new_buffers, sigmas, arguments, nonlinear


def _generic_opaque(spec) -> OpaqueDynamics:
    new_w, buffers, new_buffers, sigmas, arguments, nonlinear = _opaque_step(spec)
    state = [WEIGHT_ROW_SUM, *buffers]
    variables = [*state, GRADIENT_ROW_SUM, *sigmas]
    outputs = [new_w, *new_buffers]
    for expr in outputs:
        reason = _nonlinear_part(expr, variables)
        if reason is not None:
            raise NCTheoryError(
                f"{spec.name}: with its nonlinear outputs held opaque the step still {reason}; "
                f"a transformation declared linear is not")
    # Lemma 1: the gradient's row sum vanishes wherever it enters linearly.
    outputs = [sp.expand(o.subs(GRADIENT_ROW_SUM, 0)) for o in outputs]
    matrix = sp.Matrix(outputs).jacobian(state).applyfunc(sp.factor)
    inputs = sp.Matrix(outputs).jacobian(sigmas).applyfunc(sp.factor) if sigmas else sp.zeros(len(state), 0)
    return OpaqueDynamics(tuple(state), tuple(sigmas), tuple(arguments), matrix, inputs, tuple(nonlinear))


def opaque_dynamics(spec) -> OpaqueDynamics:
    """``x' = A x + B sigma`` of ``spec``, with its set hyperparameters substituted."""
    generic = _cached("opaque", spec, _generic_opaque)
    return generic.substituted(spec.substitution()) if spec.values else generic
