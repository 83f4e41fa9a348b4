"""Matrix optimizers keep zero row sums (THEORY.md section 4b): derived here, independently.

* The reflection ``R = I - (2/K) 1 1^T``: ``R^2 = I`` and ``1^T R = -1^T`` for symbolic K (a
  2 x 2 representation of the algebra spanned by I and J = 1 1^T, written here) and as
  explicit matrices for K = 2..6; ``R X = X`` for centred X.
* Newton-Schulz commutes with every orthogonal Q on the left (noncommutative algebra with
  ``Q^T Q = I``, written here) for 1..3 iterations, and with the normalisation.
* The package's Newton-Schulz transform (the object under test) on exact rational matrices
  of random sizes and entries: ``1^T U = 0`` for centred inputs, and equal to Newton-Schulz
  written here; non-centred inputs give nonzero row sums.
* The spec ``muon``'s own step on exact rationals moves the row sums by ``1 - eta lambda``
  (three steps, centred gradients); ``muon_coupled``'s does not. The engine's recurrence of
  ``muon`` equals the matrix typed here; ``muon_coupled`` has none.
* The theorem object proves every step and fails on a wrong reflection or sign.
"""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperparameter_strategies import rational_matrices
from nctheory.errors import NCTheoryError
from nctheory.optimizers import get_spec, optimizer
from nctheory.theorems.matrix_row_sums import MATRIX_ROW_SUMS, MatrixRowSums
from nctheory.theory.matrix_transforms import newton_schulz_orthogonalisation
from nctheory.theory.ops import SYMBOLIC

K = sp.Symbol("K", positive=True, integer=True)
TORCH = {"ns_a": sp.Rational("3.4445"), "ns_b": sp.Rational("-4.775"), "ns_c": sp.Rational("2.0315"),
         "ns_steps": 5, "eps": sp.Rational(1, 10 ** 7)}


def algebra(a, b):
    """``a I + b J`` as the 2 x 2 matrix of its action on span(I, J): J^2 = K J."""
    return sp.Matrix([[a, 0], [b, a + K * b]])


def centre(M: sp.Matrix) -> sp.Matrix:
    return M - sp.ones(M.rows, 1) * (sp.ones(1, M.rows) * M) / M.rows


def newton_schulz_here(G: sp.Matrix, steps: int = 5) -> sp.Matrix:
    a, b, c = TORCH["ns_a"], TORCH["ns_b"], TORCH["ns_c"]
    flip = G.rows > G.cols
    Y = (G.T if flip else G) / G.norm()
    for _ in range(steps):
        S = Y * Y.T
        Y = (a * Y + b * S * Y + c * S * S * Y).applyfunc(sp.expand)
    return Y.T if flip else Y


def zero(M) -> bool:
    """Exactly 0: every entry expands to 0 (terms in the same square roots cancel under expand)."""
    return all(sp.expand(e) == 0 for e in M)


def test_the_reflection_for_symbolic_k():
    R = algebra(1, -2 / K)
    assert (R * R).applyfunc(sp.simplify) == sp.eye(2)
    # 1^T (a I + b J) = (a + K b) 1^T: the second eigenvalue of the representation
    assert sp.simplify(R[1, 1]) == -1


@pytest.mark.parametrize("k", range(2, 7))
def test_the_reflection_as_explicit_matrices(k):
    R = sp.eye(k) - sp.Rational(2, k) * sp.ones(k, k)
    assert R * R == sp.eye(k) and R.T == R
    assert sp.ones(1, k) * R == -sp.ones(1, k)
    X = centre(sp.Matrix(k, 2, lambda i, j: (i + 1) * (j + 2) ** 2))
    assert R * X == X


def test_newton_schulz_commutes_with_orthogonal_maps():
    X, Xt, Q, Qt = sp.symbols("X Xt Q Qt", commutative=False)
    a, b, c = sp.symbols("a b c")

    def step(Y, Yt):
        return a * Y + b * Y * Yt * Y + c * Y * Yt * Y * Yt * Y, a * Yt + b * Yt * Y * Yt + c * Yt * Y * Yt * Y * Yt

    def reduce(e):
        e = sp.expand(e)
        while (r := sp.expand(e.subs(Qt * Q, 1))) != e:
            e = r
        return e

    Y, Yt, Z, Zt = Q * X, Xt * Qt, X, Xt
    for _ in range(2):
        (Y, Yt), (Z, Zt) = step(Y, Yt), step(Z, Zt)
        assert sp.expand(reduce(Y) - Q * Z) == 0
    assert reduce(Xt * Qt * Q * X) == Xt * X


def _transform_is_exact_and_centred(G, steps) -> bool:
    """Newton-Schulz of centred ``G`` is rational up to its two roots, has zero column sums
    and equals the iteration written here."""
    k, d = G.shape
    U, _ = newton_schulz_orthogonalisation.update(G, None, {}, {**TORCH, "ns_steps": steps}, SYMBOLIC)
    # U = sqrt(max(1, k/d)) (G / ||G||_F) p(G^T G / ||G||_F^2): rational once both roots are divided out
    rational = (U * G.norm() / sp.sqrt(sp.Max(1, sp.Rational(k, d)))).applyfunc(sp.expand)
    return (all(e.is_Rational for e in rational) and sp.ones(1, k) * rational == sp.zeros(1, d)
            and zero(rational - newton_schulz_here(G, steps) * G.norm()))


@pytest.mark.parametrize("rows", [[[1, 2], [3, -1], [0, 1]], [[1, 2, 0], [3, -1, 2], [-4, -1, 1], [0, 0, -3]]])
def test_the_package_transform_with_torch_steps_keeps_zero_row_sums_exactly(rows):
    assert _transform_is_exact_and_centred(centre(sp.Matrix(rows)), 5)  # 3 x 2, and 4 x 3 (the transposed branch)


@settings(max_examples=15, deadline=None)
@given(k=st.integers(2, 4), d=st.integers(1, 4), steps=st.integers(0, 2), data=st.data())
def test_the_package_transform_keeps_zero_row_sums_exactly(k, d, steps, data):
    """Random sizes and rational entries; 0..2 iterations (the exact rationals of 5 quintic
    iterations have degree 5^5 in the entries: slow, and covered by the fixed instances)."""
    G = centre(sp.Matrix(data.draw(rational_matrices(k, d))).applyfunc(sp.Rational))
    assert G.norm() == 0 or _transform_is_exact_and_centred(G, steps)


def test_a_non_centred_input_keeps_a_row_sum():
    G = sp.Matrix([[1, 2], [3, -1], [-3, -1]])  # column sums (1, 0)
    U, _ = newton_schulz_orthogonalisation.update(G, None, {}, TORCH, SYMBOLIC)
    assert not zero(sp.ones(1, 3) * U)


def _exact_steps(name, W, gradients, values):
    spec = optimizer(name, **values)
    state = tuple({"momentum_buffer": sp.zeros(*W.shape)} if t.buffers else {} for t in spec.chain)
    sums = [sp.ones(1, W.rows) * W]
    for G in gradients:
        W, state = spec.step(W, G, state, hp=spec.hp(), ops=SYMBOLIC)
        sums.append(sp.ones(1, W.rows) * W)
    return sums, spec


def test_the_spec_step_moves_the_row_sums_by_one_minus_eta_lambda():
    W = sp.Matrix([[1, 0], [2, 1], [0, 3]])
    gradients = [centre(sp.Matrix([[1, 2], [3, -1], [0, 1]])), centre(sp.Matrix([[2, 0], [1, 1], [-1, 2]])),
                 centre(sp.Matrix([[0, 1], [1, 0], [2, 2]]))]
    values = {"lr": 0.02, "weight_decay": 0.1, "momentum": 0.95, "ns_steps": 1}  # one iteration: fast exact rationals
    sums, spec = _exact_steps("muon", W, gradients, values)
    factor = 1 - sp.Rational(2, 100) * sp.Rational(1, 10)
    for before, after in zip(sums, sums[1:]):
        assert zero(after - factor * before)
    coupled, _ = _exact_steps("muon_coupled", W, gradients[:1], values)
    assert not zero(coupled[1] - factor * coupled[0])


def test_the_engine_derives_the_recurrence_and_refuses_the_coupled_one():
    eta, lam, mu = sp.symbols("eta lambda mu")
    spec = get_spec("muon")
    names = {str(s): s for s in spec.recurrence().free_symbols}
    typed = sp.Matrix([[1 - eta * lam, 0], [0, mu]]).subs({sp.Symbol(n): s for n, s in names.items()})
    assert sp.expand(spec.recurrence() - typed) == sp.zeros(2, 2)
    assert spec.family.exact_recurrence and spec.family.protocol == "trajectory"
    with pytest.raises(NCTheoryError, match="weights enter"):
        get_spec("muon_coupled").recurrence()
    assert get_spec("muon_coupled").family.coupling == "coupled"


def test_the_theorem_object_proves_and_refutes_wrong_claims():
    assert MATRIX_ROW_SUMS.prove().holds
    assert not MatrixRowSums(reflection=-1).prove().holds
    assert not MatrixRowSums(flip=1).prove().holds
