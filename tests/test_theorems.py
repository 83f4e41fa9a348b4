"""Unit tests of the theorem objects (nctheory.theorems): they prove, render, and can fail."""

import re
from dataclasses import replace

import pytest
import sympy as sp

from nctheory.theory.symbolic.rowsum import X
from nctheory.theorems import THEOREMS, Proof, Step, Theorem, all_theorems, get_theorem
from nctheory.theorems.algebra import (A_, OPEN_UNIT_A, Region, certified_positive, is_zero_with_square_root,
                                       jury_decides)
from nctheory.theorems.base import identity, latex_text
from nctheory.theorems.lemma0 import SimplexETFRowSum
from nctheory.theorems.lemma1 import GradientRowSums
from nctheory.theorems.linear_recurrences import CLAIMS, LinearRecurrenceTheorem
from nctheory.theorems.optimal_momentum import OptimalMomentumTheorem
from nctheory.theorems.sign_bounds import ETA, LAMBDA, SignDescentBounds
from nctheory.theorems.theorem2 import StationarityForcesCentring

EXPECTED_NAMES = {"lemma0", "lemma1", "theorem2", "sign_bounds", "matrix_row_sums", "bfloat16_floor",
                  *(f"linear_recurrence_{n}" for n in ("sgd", "sgd_momentum", "sgd_nesterov", "sgdw_momentum", "qhm")),
                  "optimal_momentum_sgd_momentum", "optimal_momentum_sgd_nesterov", "optimal_momentum_qhm"}
eta, lam = sp.Symbol("eta", positive=True), sp.Symbol("lambda", nonnegative=True)
mu, tau = sp.Symbol("mu", nonnegative=True), sp.Symbol("tau", nonnegative=True)
s, u = sp.symbols("s u")


def unescaped_braces_balanced(text: str) -> bool:
    depth = 0
    for char in re.sub(r"\\[{}]", "", text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


# ----------------------------------------------------------------- registry
def test_registry_holds_every_theorem_once_with_its_own_name():
    assert set(THEOREMS) == EXPECTED_NAMES
    assert [t.name for t in all_theorems()] == list(THEOREMS)
    assert all(THEOREMS[name].name == name for name in THEOREMS)
    assert get_theorem("lemma0") is THEOREMS["lemma0"]
    with pytest.raises(KeyError, match="known theorems"):
        get_theorem("lemma9")


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_theorem_has_statement_hypotheses_reference_status(name):
    theorem = THEOREMS[name]
    assert isinstance(theorem, Theorem)
    assert theorem.title and theorem.statement and theorem.reference and theorem.status
    assert isinstance(theorem.hypotheses, tuple) and theorem.hypotheses
    assert all(isinstance(h, str) and h for h in theorem.hypotheses)


# ----------------------------------------------------------------- every theorem proves
@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_theorem_proves_with_all_steps_holding(name):
    proof = THEOREMS[name].prove()
    assert isinstance(proof, Proof) and proof.steps
    assert proof.holds, str(proof)
    for step in proof.steps:
        description, objects, holds = step
        assert isinstance(description, str) and description
        assert isinstance(objects, tuple)
        assert holds is True


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_theorem_renders_balanced_latex(name):
    theorem = THEOREMS[name]
    text = theorem.latex()
    assert text.strip()
    assert unescaped_braces_balanced(text)
    assert text.count(r"\begin{theorem}") == text.count(r"\end{theorem}") == 1
    assert text.count(r"\begin{proof}") == text.count(r"\end{proof}") == 1
    assert text.count(r"\item") >= len(theorem.hypotheses) + len(theorem.prove().steps)
    assert r"\textbf{(fails)}" not in text


def test_a_failing_step_is_marked_in_latex():
    text = SimplexETFRowSum(cosine=lambda k: -sp.Integer(1) / k, sizes=(3,)).latex()
    assert r"\textbf{(fails)}" in text and unescaped_braces_balanced(text)


# ----------------------------------------------------------------- wrong claims fail
def failing_descriptions(theorem) -> list:
    proof = theorem.prove()
    assert not proof.holds
    assert not bool(proof)
    assert "NOT proved" in str(proof)
    return [step.description for step in proof.failing_steps]


def test_wrong_etf_cosine_fails_lemma0():
    failing = failing_descriptions(SimplexETFRowSum(cosine=lambda k: -sp.Integer(1) / k, sizes=(3,)))
    assert any("symbolic K" in d for d in failing)


def test_wrong_loss_table_fails_lemma1():
    failing = failing_descriptions(GradientRowSums(expected={"sigmoid_ovr": True}, sizes=(2,)))
    assert any("sigmoid_ovr" in d for d in failing)


def test_non_invariant_loss_fails_theorem2():
    failing = failing_descriptions(StationarityForcesCentring(loss="mse"))
    assert any("Lemma 1" in d for d in failing)


def test_wrong_momentum_placement_fails_the_heavy_ball_recurrence():
    """Claiming heavy ball with decoupled decay (SGDW's recurrence and polynomial) must fail."""
    sgdw = CLAIMS["sgdw_momentum"]
    wrong = replace(CLAIMS["sgd_momentum"], update=sgdw.update, charpoly=sgdw.charpoly, references=(),
                    closed_form=None)
    failing = failing_descriptions(LinearRecurrenceTheorem(wrong))
    assert any("transition matrix" in d for d in failing)
    assert any("characteristic polynomial" in d for d in failing)


def test_dampened_first_step_claim_fails():
    """torch does not dampen the first buffer: claiming u_1 = (1 - tau) lambda s must fail."""
    claim = CLAIMS["sgd_momentum"]
    wrong = replace(claim, first_update=(s - eta * (1 - tau) * lam * s, (1 - tau) * lam * s))
    failing = failing_descriptions(LinearRecurrenceTheorem(wrong))
    assert any("first step" in d for d in failing)
    assert any("own numerical step" in d for d in failing)


def test_wrong_stability_region_fails():
    claim = CLAIMS["sgd_momentum"]
    wrong_region = Region("0 < eta (1 - tau) lambda < 1 + mu", (1 - mu, A_ * (1 - tau), 1 + mu - A_ * (1 - tau)))
    failing = failing_descriptions(LinearRecurrenceTheorem(replace(claim, stability=wrong_region)))
    assert any("stability" in d for d in failing)


def test_heavy_ball_acceleration_region_claimed_for_nesterov_fails():
    claim = CLAIMS["sgd_nesterov"]
    wrong = Region("0 < mu < (1 - a)^2", ((1 - A_) ** 2 - mu, mu), ("0 < a < 1",), {"dampening": 0}, OPEN_UNIT_A)
    failing = failing_descriptions(LinearRecurrenceTheorem(replace(claim, accelerations=(wrong,))))
    assert any("acceleration" in d for d in failing)


def test_claiming_acceleration_for_sgdw_fails():
    claim = CLAIMS["sgdw_momentum"]
    wrong = Region("0 < mu < 1 - a", (1 - A_ - mu, mu), ("0 < a < 1",), {}, OPEN_UNIT_A)
    failing = failing_descriptions(LinearRecurrenceTheorem(replace(claim, accelerations=(wrong,))))
    assert any("identically 0" in d for d in failing)


def test_wrong_reference_rate_fails():
    claim = CLAIMS["sgd_momentum"]
    wrong = replace(claim, references=(({"lr": 0.1, "weight_decay": 5e-3, "momentum": 0.9}, "0.99475090"),))
    failing = failing_descriptions(LinearRecurrenceTheorem(wrong))
    assert any("reference rate" in d for d in failing)


def test_wrong_optimal_momentum_fails_both_theorems():
    claim = CLAIMS["sgd_nesterov"]
    wrong = replace(claim, optimal=((1 - sp.sqrt(A_)) ** 2, 1 - sp.sqrt(A_)))
    assert any("optimal momentum" in d for d in failing_descriptions(LinearRecurrenceTheorem(wrong)))
    wrong_theorem = OptimalMomentumTheorem("sgd_nesterov", (1 - sp.sqrt(A_)) ** 2, 1 - sp.sqrt(A_), "none")
    assert any("discriminant" in d for d in failing_descriptions(wrong_theorem))


def test_wrong_sign_descent_limit_fails():
    failing = failing_descriptions(SignDescentBounds(limit=lambda sigma: -sigma / (ETA * LAMBDA)))
    assert any("claimed limit" in d for d in failing)


def test_wrong_box_bounds_fail_the_certified_induction():
    a = ETA * LAMBDA
    halved = SignDescentBounds(box_bound=lambda t, x: (1 - a) ** t * x + (1 - (1 - a) ** t) / (2 * LAMBDA))
    assert any("B_{t+1}" in d for d in failing_descriptions(halved))
    assert any("case" in d for d in failing_descriptions(SignDescentBounds(box_max=lambda x: sp.Max(x, 1 / (2 * LAMBDA)))))


def test_an_exception_inside_a_proof_is_a_failing_step_not_a_crash():
    claim = CLAIMS["sgd"]
    broken = replace(claim, update=(s, s), first_update=(s, s))  # a 2-state claim for a 1-state optimizer
    proof = LinearRecurrenceTheorem(broken).prove()
    assert not proof.holds


# ----------------------------------------------------------------- the exact tools
def test_identity_step_holds_only_for_exact_identities():
    x = sp.Symbol("x")
    assert identity("ok", (x + 1) ** 2, x ** 2 + 2 * x + 1).holds
    assert not identity("off by 1e-30", (x + 1) ** 2, x ** 2 + 2 * x + 1 + sp.Rational(1, 10 ** 30)).holds
    step = identity("shape mismatch", sp.Matrix([1, 2]), sp.Matrix([1, 2, 3]))
    assert not step.holds


def test_positivity_certificates_are_sound_on_examples():
    A = sp.Symbol("A", positive=True)
    m = sp.Symbol("m", nonnegative=True)
    assert certified_positive(1 + A + m)
    assert certified_positive(2 * (1 - A_) ** 2 + m * (2 - A_), OPEN_UNIT_A)
    assert not certified_positive(m)              # may be 0
    assert not certified_positive(1 - A_)          # not without the hypothesis a < 1
    assert certified_positive(1 - A_, OPEN_UNIT_A)
    assert not certified_positive(A - 1)
    assert not certified_positive(sp.Symbol("r", real=True) ** 2 + 1)  # free sign of a variable: refuse


def test_jury_decision_is_exact():
    assert jury_decides((X - sp.Rational(1, 2)) * (X + sp.Rational(1, 3)), X, 1)
    assert not jury_decides((X - 1) * (X + sp.Rational(1, 3)), X, 1)          # root on the circle
    assert jury_decides(X ** 2 + sp.Rational(81, 100), X, sp.Rational(91, 100))  # complex roots, |x| = 9/10
    assert not jury_decides(X ** 2 + sp.Rational(81, 100), X, sp.Rational(9, 10))
    with pytest.raises(ValueError):
        jury_decides(X ** 2 + eta, X, 1)


def test_square_root_zero_test_is_exact():
    D = sp.Symbol("D", positive=True)
    r = (1 + sp.sqrt(D)) / 2
    assert is_zero_with_square_root(r ** 2 - r - (D - 1) / 4)
    assert not is_zero_with_square_root(r ** 2 - r - (D - 1) / 4 + sp.Rational(1, 10 ** 20))
    assert is_zero_with_square_root(1 / sp.sqrt(D) - sp.sqrt(D) / D)


def test_latex_text_escapes_special_characters():
    assert latex_text("W^T 1_K & 50%") == r"W\textasciicircum{}T 1\_K \& 50\%"
    assert latex_text("||s|| < 1") == r"\textbar{}\textbar{}s\textbar{}\textbar{} \textless{} 1"  # OT1 has no | < >
    assert unescaped_braces_balanced(latex_text("{unbalanced"))


def test_step_and_proof_behave_like_the_brief_says():
    step = Step("d", (sp.Integer(1),), True)
    description, objects, holds = step
    assert (description, objects, holds) == ("d", (sp.Integer(1),), True)
    assert not Proof("empty", ()).holds  # a proof needs at least one step
    assert Proof("p", (step,)).holds
