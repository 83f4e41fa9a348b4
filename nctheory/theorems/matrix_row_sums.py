r"""Matrix optimizers keep zero row sums; with decoupled decay, ``s' = (1 - eta lambda) s``
(THEORY.md section 4b -- beyond the paper).

**Setting.** ``1 = 1_K``, ``J = 1 1^T`` (so ``J^2 = K J``), ``R = I - (2/K) J``: the reflection
that fixes ``1^perp`` and sends ``1`` to ``-1``. A matrix map ``f`` takes the inputs ``X_0 ..
X_t`` (K x d) it has received and returns ``U = c g(X_0, .., X_t)`` with ``c`` any scalar
(a normalisation, a grafting norm) and ``g`` *left-equivariant under R*:
``g(R X_0, .., R X_t) = R g(X_0, .., X_t)``.

**Theorem.** If ``1^T X_j = 0`` for every j, then ``1^T U = 0``.

*Proof* (general K, exact in the algebra spanned by I and J). ``R^2 = I`` (R is orthogonal
and symmetric), ``1^T R = -1^T``, and ``R X_j = X_j - (2/K) 1 (1^T X_j) = X_j``. So
``g = g(R X) = R g``, hence ``1^T g = 1^T R g = -1^T g``: ``1^T g = 0`` and ``1^T U = 0``.

**Which maps qualify** (each proved for general sizes in noncommutative algebra with the only
rule ``Q^T Q = I``, so for every orthogonal Q, R included):

* Newton-Schulz (Muon; Jordan et al. 2024): ``N(X) = a X + b X X^T X + c X X^T X X^T X`` has
  ``N(QX) = Q N(X)``; the normalisation ``||QX||_F = ||X||_F``; the transposed branch computes
  the same polynomial (``(X X^T)^k X = X (X^T X)^k``); composition keeps equivariance.
* Shampoo (Gupta, Koren & Singer 2018): ``L = eps I + sum X_j X_j^T -> Q L Q^T``,
  ``(Q L Q^T)^n = Q L^n Q^T`` so every polynomial, hence every primary matrix function
  (``L^(-1/4)``: it agrees with the polynomial interpolating it on the spectrum, which
  ``Q . Q^T`` preserves; Higham, *Functions of Matrices*, SIAM 2008, Thm 1.13(c)), commutes;
  ``sum X_j^T X_j`` is unchanged. Directly: ``L 1 = eps 1``.
* SOAP (Vyas et al. 2024): Adam in the eigenbasis ``Q_L``. Elementwise Adam is odd in its
  first moment (``N(-m, v) = -N(m, v)``), so flipping the sign of an eigenvector changes
  nothing; if ``1/sqrt(K)`` is a column of ``Q_L`` (the eigenvalue of L on 1 is simple), the
  rotated moment's row on it vanishes, so does Adam's output there, and ``1^T U = 0``.

**What breaks it** (exact witnesses): elementwise preconditioning (Adam in the original
basis: ``1^T sign(X) != 0`` for the centred column ``(1, 1, -2)``); coupled decay (the input
``G + lambda W`` has row sums ``lambda s``, and Newton-Schulz of a non-centred input has
nonzero row sums); a left map not built from ``X X^T`` (row normalisation).

**Consequence for the engine** (:mod:`nctheory.theory.symbolic.centring`): a chain whose matrix
maps are declared left-orthogonally equivariant and see only arguments built from gradients
has ``x' = A x`` exactly; the weight row of A is ``(1 - eta lambda, 0, ..)`` for decoupled decay.
The numerical check is :mod:`nctheory.theorems.matrix_check`.
"""

from __future__ import annotations

import sympy as sp

from nctheory.theorems.base import Theorem, distinct, fact, identity

K = sp.Symbol("K", integer=True, positive=True)
ETA, LAMBDA = sp.Symbol("eta", positive=True), sp.Symbol("lambda", nonnegative=True)
X, Xt, Q, Qt, L = sp.symbols("X X^T Q Q^T L", commutative=False)
A_NS, B_NS, C_NS, EPS = sp.symbols("a b c epsilon")
#: torch's Newton-Schulz coefficients as exact rationals (Jordan et al. 2024).
TORCH_NS = (sp.Rational("3.4445"), sp.Rational("-4.7750"), sp.Rational("2.0315"))


def j_product(x, y):
    """``(a1 I + b1 J)(a2 I + b2 J) = a1 a2 I + (a1 b2 + a2 b1 + K b1 b2) J`` (``J^2 = K J``)."""
    return (sp.expand(x[0] * y[0]), sp.expand(x[0] * y[1] + x[1] * y[0] + K * x[1] * y[1]))


def ones_times(x):
    """``1^T (a I + b J) = (a + K b) 1^T``: the coefficient of ``1^T``."""
    return sp.expand(x[0] + K * x[1])


def newton_schulz_word(x, xt, coefficients=(A_NS, B_NS, C_NS)):
    """One Newton-Schulz iteration as a noncommutative polynomial."""
    a, b, c = coefficients
    return a * x + b * x * xt * x + c * x * xt * x * xt * x


def orthogonal(expr):
    """``expr`` with ``Q^T Q = I`` applied until nothing changes."""
    expr = sp.expand(expr)
    while True:
        reduced = sp.expand(expr.subs(Qt * Q, 1))
        if reduced == expr:
            return expr
        expr = reduced


def ones_row(n: int) -> sp.Matrix:
    return sp.ones(1, n)


def centred(rows) -> sp.Matrix:
    """A K x d rational matrix whose last row makes every column sum to 0."""
    M = sp.Matrix(rows)
    return M.col_join(-ones_row(M.rows) * M)


def exact_newton_schulz(G, steps=5, coefficients=TORCH_NS):
    """Newton-Schulz written here (not the package's code): ``G / ||G||_F`` then ``steps``
    iterations, on the transpose when G has more rows than columns."""
    a, b, c = coefficients
    Y = G.T if G.rows > G.cols else G
    Y = Y / Y.norm()
    for _ in range(steps):
        gram = Y * Y.T
        Y = a * Y + (b * gram + c * gram * gram) * Y
    return Y.T if G.rows > G.cols else Y


class MatrixRowSums(Theorem):
    """The reflection argument, the equivariance of Newton-Schulz / Shampoo / SOAP, the
    failures, and the engine's derived recurrences. ``reflection`` (the J-coefficient of R)
    and ``flip`` (the sign 1^T R = flip 1^T) can be replaced to test that wrong claims fail."""

    name = "matrix_row_sums"
    title = "Matrix optimizers keep zero row sums (Muon, Shampoo, SOAP)"
    statement = ("Let R = I - (2/K) 1 1^T. If U = c g(X_0, .., X_t) with g(R X_0, .., R X_t) = R g(X_0, .., X_t) "
                 "and 1^T X_j = 0 for every j, then 1^T U = 0. Newton-Schulz (Muon), Shampoo's "
                 "L^(-1/4) X R^(-1/4) and SOAP (eigenvalue of L on 1 simple) are such maps; with gradients "
                 "(Lemma 1) and decoupled decay the row sums follow s' = (1 - eta lambda) s exactly.")
    statement_latex = (r"$R = I - \tfrac2K \mathbf 1\mathbf 1^\top$, $g(RX_0,\dots,RX_t) = R\,g(X_0,\dots,X_t)$, "
                       r"$\mathbf 1^\top X_j = 0\ \forall j \;\Rightarrow\; \mathbf 1^\top c\,g(X_0,\dots,X_t) = 0$; "
                       r"decoupled decay: $s_{t+1} = (1-\eta\lambda)\,s_t$.")
    hypotheses = ("every input of the matrix map has zero row sums: built linearly from gradients of a "
                  "shift-invariant loss (Lemma 1), never from the weights (decoupled decay)",
                  "the map is left-equivariant under R up to a scalar factor: its left statistics are built from "
                  "X X^T, its right statistics from X^T X (Newton-Schulz, Shampoo); SOAP: the eigenvalue of its "
                  "left statistic on 1 is simple, so that 1/sqrt(K) is a column of its eigenbasis",
                  "exact arithmetic (bfloat16 Newton-Schulz breaks it by rounding: theorem bfloat16_floor)")
    reference = ("Jordan et al. 2024 (Muon); Gupta, Koren & Singer, ICML 2018 (Shampoo); Vyas et al., "
                 "arXiv:2409.11321 (SOAP); Higham, Functions of Matrices, SIAM 2008, Thm 1.13(c)")
    status = ("proved symbolically for every K and every size (the reflection in the algebra of I and J; "
              "equivariance in noncommutative algebra with Q^T Q = I); exact rational instances of the package's "
              "Newton-Schulz transform for K x d = 3 x 2 and 4 x 3; failures by exact witnesses")

    def __init__(self, reflection=-2, flip=-1):
        self.reflection = reflection
        self.flip = flip

    def check(self, seed: int = 0):
        """The float64 runs of :mod:`nctheory.theorems.matrix_check` (seeded: computed once per seed)."""
        from nctheory.theorems.matrix_check import check_matrix_row_sums

        cache = self.__dict__.setdefault("_checks", {})
        if seed not in cache:
            cache[seed] = check_matrix_row_sums(self.name, seed)
        return cache[seed]

    def paper_tex(self) -> str:
        """Statement and proof as a paper writes them (:mod:`nctheory.theorems.prose_beyond`)."""
        from nctheory.theorems.prose_beyond import matrix_row_sums_tex

        return matrix_row_sums_tex(self)

    def steps(self):
        yield from self._reflection_steps()
        yield from self._equivariance_steps()
        yield from self._soap_steps()
        yield from self._instance_steps()
        yield from self._failure_steps()
        yield from self._engine_steps()

    def _reflection_steps(self):
        R = (sp.Integer(1), sp.sympify(self.reflection) / K)
        yield identity("R^2 = I for every K (J^2 = K J): R is an orthogonal reflection", sp.Matrix(j_product(R, R)),
                       sp.Matrix([1, 0]))
        yield identity("1^T R = -1^T for every K", ones_times(R), self.flip)
        y = sp.Symbol("y")  # one entry of 1^T g
        yield fact("R X = X - (2/K) 1 (1^T X) = X when 1^T X = 0; so g(X..) = g(R X..) = R g(X..) and "
                   "1^T g = 1^T R g = -1^T g, whose only solution is 1^T g = 0 (then 1^T (c g) = 0)",
                   (sp.Eq(y, -y),), sp.solve(sp.Eq(y, ones_times(R) * y), y) == [0])

    def _equivariance_steps(self):
        yield identity("Newton-Schulz iteration, every size: N(Q X) = Q N(X) for Q^T Q = I",
                       orthogonal(newton_schulz_word(Q * X, Xt * Qt)), Q * newton_schulz_word(X, Xt))
        yield identity("the normalisation: (QX)^T (QX) = X^T X, so ||QX||_F = ||X||_F",
                       orthogonal(Xt * Qt * Q * X), Xt * X)
        yield identity("the transposed branch (more rows than columns) is the same polynomial: "
                       "(X X^T)^2 X = X (X^T X)^2", (X * Xt) ** 2 * X, X * (Xt * X) ** 2)
        yield identity("Shampoo: (Q L Q^T)^4 = Q L^4 Q^T, so every polynomial and every primary matrix function "
                       "of the left statistic commutes with Q (Higham 2008, Thm 1.13(c))",
                       orthogonal((Q * L * Qt) ** 4), Q * L ** 4 * Qt)
        G = centred([[1, 2], [3, -1]])
        Lmat = EPS * sp.eye(3) + G * G.T
        yield identity("Shampoo, directly: L = eps I + G G^T has L 1 = eps 1 for centred G (instance 3 x 2), "
                       "so L^(-1/4) 1 = eps^(-1/4) 1 and 1^T L^(-1/4) G R^(-1/4) = 0", Lmat * sp.ones(3, 1),
                       EPS * sp.ones(3, 1))

    def _soap_steps(self):
        m, v, eps = sp.symbols("m v epsilon_A", real=True)
        adam = lambda first: first / (sp.sqrt(v) + eps)  # noqa: E731 -- Adam's ratio, one entry
        yield identity("SOAP: Adam's ratio is odd in its first moment, so flipping an eigenvector's sign "
                       "changes nothing", adam(-m), -adam(m))
        u, w = sp.Matrix([1, -1, 0]), sp.Matrix([1, 1, -2])
        basis = sp.Matrix.hstack(u / u.norm(), w / w.norm(), sp.ones(3, 1) / sp.sqrt(3))
        yield identity("an orthonormal eigenbasis with 1/sqrt(3) as a column (instance K = 3)",
                       basis.T * basis, sp.eye(3), "radsimp")
        G = centred([[2, -1], [1, 3]])
        rotated = basis.T * G
        yield identity("its row of Q_L^T G on 1 vanishes for centred G: Adam's output there is 0 / (sqrt(v) + eps)",
                       rotated[2, :], sp.zeros(1, 2), "radsimp")
        N = sp.Matrix(3, 2, lambda i, j: 0 if i == 2 else sp.Symbol(f"n_{i}{j}"))
        yield identity("so 1^T Q_L N = 0 whatever Adam does in the other rows", ones_row(3) * basis * N,
                       sp.zeros(1, 2), "radsimp")

    def _instance_steps(self):
        from nctheory.theory import ops
        from nctheory.theory.matrix_transforms import newton_schulz_orthogonalisation as transform

        hp = dict(zip(("ns_a", "ns_b", "ns_c"), TORCH_NS), ns_steps=5, eps=sp.Rational(1, 10 ** 7))
        reduce = lambda M: M.applyfunc(lambda e: sp.expand(sp.radsimp(sp.expand(e))))  # noqa: E731
        for rows in ([[1, 2], [3, -1]], [[1, 2, 0], [3, -1, 2], [-4, -1, 1]]):
            G = centred(rows)
            U, _ = transform.update(G, None, {}, hp, ops.SYMBOLIC)
            # the entries are rationals of thousands of digits (degree 5^5 in G): shown reduced
            yield identity(f"the package's Newton-Schulz transform, exact (torch's coefficients, 5 steps), "
                           f"{G.rows} x {G.cols}: 1^T U = 0", reduce(ones_row(G.rows) * U), sp.zeros(1, G.cols))
            factor = sp.sqrt(max(1, sp.Rational(G.rows, G.cols)))
            yield identity(f"... and it is the iteration written here, {G.rows} x {G.cols}, up to torch's shape "
                           f"factor sqrt(max(1, K/d)): U - NS(G) factor = 0", reduce(U - exact_newton_schulz(G) * factor),
                           sp.zeros(G.rows, G.cols))

    def _failure_steps(self):
        x = sp.Matrix([1, 1, -2])
        yield distinct("fails for elementwise preconditioning: 1^T sign(x) for the centred column (1, 1, -2) "
                       "(Adam with beta1 = beta2 = 0)", (ones_row(3) * x.applyfunc(sp.sign))[0], 0)
        G = centred([[1, 2], [3, -1]])
        W = sp.Matrix([[1, 0], [0, 1], [0, 0]])
        coupled = exact_newton_schulz(G + sp.Rational(1, 10) * W, steps=1)
        yield distinct("fails under coupled decay: a Newton-Schulz iteration of G + lambda W (lambda = 1/10, "
                       "1^T W != 0) has nonzero row sums", sp.expand((ones_row(3) * coupled)[0]), 0, "radsimp")
        D = sp.diag(*[1 / sp.sqrt((G[i, :] * G[i, :].T)[0]) for i in range(3)])
        yield distinct("fails for a left map not built from X X^T: row normalisation diag(1/||x_i||) X",
                       sp.expand((ones_row(3) * D * G)[0]), 0, "radsimp")

    def _engine_steps(self):
        from nctheory.optimizers import REGISTRY
        from nctheory.theory.transforms import MATRIX

        for spec in REGISTRY.values():
            if not any(t.nature == MATRIX for t in spec.chain):
                continue
            general = spec.without(*spec.hyperparameter_names)
            if general.family.exact_recurrence:
                row = general.recurrence()[0, :]
                claim = sp.Matrix([[1 - ETA * LAMBDA] + [0] * (row.cols - 1)])
                yield identity(f"{spec.name}: the engine derives s' = (1 - eta lambda) s (decoupled decay, matrix "
                               f"maps fed with gradients only)", row.subs(_shared_symbols(general)), claim)
            else:
                reason = general.family.coupling == "coupled" and "weights enter" in (
                    _obstruction(general) or "")
                yield fact(f"{spec.name}: the engine refuses a recurrence because the weights enter the matrix "
                           f"map's argument (coupled decay)", (), reason)


def _shared_symbols(spec) -> dict:
    symbols = spec.symbols()
    return {symbols["lr"]: ETA, symbols["weight_decay"]: LAMBDA}


def _obstruction(spec):
    from nctheory.theory.symbolic.rowsum import nonlinearity

    return nonlinearity(spec)


MATRIX_ROW_SUMS = MatrixRowSums()
