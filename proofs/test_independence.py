"""proofs/ stays an independent derivation: no proof module imports what it proves.

The rule (docs/design.md, "What proofs/ proves independently"): a proof module derives
its expected values itself, in plain sympy, with the tools of ``proofs/`` (exact_tools.py,
losses_by_hand.py, index_sums_by_hand.py, hyperparameter_strategies.py, which import nothing
of nctheory). It
reaches the package only through

* the specs (``get_spec``, ``optimizer``): the objects under test, whose public methods
  (``recurrence()``, ``closed_form()``, ``step()``, ...) it compares with those values;
* the theorem objects and their typed claims: the statement it proves, and the package's
  own proof, run as such ("holds", "fails on a wrong claim").

Here, per proof module, the one list of

* ``FORBIDDEN``: qualified names (a module forbids everything under it) that compute what
  the module proves -- importing one would let the engine, or the theorem's own proof
  helper, produce the value it is compared with;
* ``ALLOWED``: every name the module may import from nctheory, with why that is not circular.

The docs table lists the same names; :func:`test_the_design_doc_lists_every_allowed_and_forbidden_name`
keeps the two in step. A new proof module must be added here before it runs.
"""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

PROOFS = Path(__file__).parent
DESIGN = PROOFS.parent / "docs" / "design.md"
SECTION = "## What proofs/ proves independently"

ENGINE = "nctheory.theory.symbolic"  # the symbolic engine: analysis, rowsum, schur_cohn, radicals, signbased, ...
THEOREM_TOOLS = ("nctheory.theorems.algebra", "nctheory.theorems.exact")  # the theorem objects' own proof tools
SYMBOLIC_K_TOOLS = {  # the theorem objects' own proofs for symbolic K: what the four modules below re-derive
    "nctheory.theorems.index_sums": "reduce_sums, in_range, nonnegative_certificate: the theorem's own symbolic-K "
                                    "reduction and certificates (index_sums_by_hand.py is written here)",
    "nctheory.theorems.softmax_sums": "the theorem's index-sum losses, gradients and invariance steps for symbolic K",
}
SPECS = {"nctheory.optimizers.get_spec": "the specs: the objects under test, reached through their public methods",
         "nctheory.optimizers.optimizer": "the specs with values: the objects under test"}

FORBIDDEN = {
    "test_linear_recurrences.py": {
        ENGINE: "iterate_exact, closed_form, transition_product, the Schur-Cohn conditions, the radical zero test: "
                "what the module checks",
        "nctheory.theorems.linear_recurrences.engine_closed_form": "the engine's closed form, cached",
        "nctheory.theorems.linear_recurrences.engine_optimal_momentum": "the engine's optimal momentum, cached",
        "nctheory.theorems.linear_recurrences.basis_coefficients": "the theorem's shape test of the closed form",
        "nctheory.theorems.linear_recurrences.exact_instance": "the theorem's exact run of the spec",
        "nctheory.theorems.linear_recurrences.undamped_spec": "the theorem's tau = 0 spec",
        THEOREM_TOOLS[0]: "region_steps, jury_decides, certified_positive: the theorem's own comparison",
        THEOREM_TOOLS[1]: "run_spec_exactly, iterate_recurrence, engine_matrices: the theorem's own exact runs",
    },
    "test_optimal_momentum.py": {
        ENGINE: "analysis.optimal_momentum and the row-sum polynomial: what the module checks",
        "nctheory.theorems.linear_recurrences.engine_optimal_momentum": "the engine's optimal momentum, cached",
        "nctheory.theorems.linear_recurrences.undamped_spec": "the theorem's tau = 0 spec",
        "nctheory.theorems.optimal_momentum.Case": "the theorem's changes of variables",
        "nctheory.theorems.optimal_momentum.UNIT_A": "the theorem's change of variables",
        "nctheory.theorems.optimal_momentum.QHM_OPEN_NU": "the theorem's change of variables",
        "nctheory.theorems.optimal_momentum.QHM_NU_ONE": "the theorem's change of variables",
        "nctheory.theorems.optimal_momentum.ALPHA_IN_UNIT_INTERVAL": "the theorem's parametrisation",
        THEOREM_TOOLS[0]: "certified_positive, jury_decides, in_terms_of_a: the theorem's own proof tools",
    },
    "test_sign_bounds.py": {
        "nctheory.theory.symbolic.signbased": "box_bound, parity_lower_bound, unrolled_decoupled_sign: the "
                                              "engine's statements of what the module proves",
        "nctheory.theorems.sign_bounds.decoupled_sign_step": "the theorem's model of the step (typed here)",
        "nctheory.theorems.sign_bounds.default_limit": "the theorem's limit (derived here)",
        "nctheory.theorems.sign_bounds.default_geometric_sum": "the theorem's geometric sum (derived here)",
        "nctheory.theorems.sign_bounds.default_box_bound": "the theorem's box bound B_t (typed here from THEORY.md)",
        "nctheory.theorems.sign_bounds.default_box_max": "the theorem's max bound (typed here from THEORY.md)",
        **SYMBOLIC_K_TOOLS,
    },
    "test_lemma0_nc0_necessary.py": {
        "nctheory.theorems.lemma0.etf_gram": "the theorem's Gram matrix of the claim",
        "nctheory.theorems.lemma0.simplex_etf": "the theorem's frames",
        "nctheory.theorems.lemma0.cayley_orthogonal": "the theorem's rotation",
        "nctheory.theorems.lemma0.etf_cosine": "the theorem's cosine",
        **SYMBOLIC_K_TOOLS,
    },
    "test_lemma1_gradient_row_sums.py": {
        "nctheory.theory.losses.shift_invariance": "the engine's decision of Lemma 1's hypothesis",
        "nctheory.theory.losses.require_shift_invariant": "the engine's decision of Lemma 1's hypothesis",
        "nctheory.theory.losses.invariance": "the engine's decision of Lemma 1's hypothesis",
        "nctheory.theorems.lemma1.loss_gradients": "the theorem's gradients",
        "nctheory.theorems.lemma1.minibatch_gradient": "the theorem's gradients",
        "nctheory.theorems.lemma1.last_layer": "the theorem's last layer",
        "nctheory.theorems.lemma1.with_label": "the theorem's relabelling",
        **SYMBOLIC_K_TOOLS,
    },
    "test_matrix_row_sums.py": {
        ENGINE: "symbolic.centring derives the matrix recurrence: what the module checks",
        "nctheory.theorems.matrix_row_sums.j_product": "the theorem's algebra of I and J",
        "nctheory.theorems.matrix_row_sums.ones_times": "the theorem's 1^T of that algebra",
        "nctheory.theorems.matrix_row_sums.newton_schulz_word": "the theorem's noncommutative iteration",
        "nctheory.theorems.matrix_row_sums.orthogonal": "the theorem's rewriting with Q^T Q = I",
        "nctheory.theorems.matrix_row_sums.exact_newton_schulz": "the theorem's exact iteration",
        "nctheory.theorems.matrix_row_sums.centred": "the theorem's centred instances",
        "nctheory.theory.matrix_transforms.newton_schulz": "the transform's iteration (reached only through the "
                                                          "transform's update, the object under test)",
    },
    "test_theorem2_stationarity.py": {
        "nctheory.theorems.theorem2.ridge_stationary_point": "the theorem's negative-control solution",
        "nctheory.theorems.lemma1.minibatch_gradient": "the theorem's gradients",
        "nctheory.theorems.lemma1.loss_gradients": "the theorem's gradients",
        "nctheory.theorems.lemma1.last_layer": "the theorem's last layer",
        "nctheory.theory.losses.shift_invariance": "the engine's decision of Lemma 1's hypothesis",
        **SYMBOLIC_K_TOOLS,
    },
}

ALLOWED = {
    "test_linear_recurrences.py": {
        **SPECS,
        "nctheory.theorems.linear_claims.CLAIMS": "THEORY.md's table typed as data: the claims compared with",
    },
    "test_optimal_momentum.py": {
        **SPECS,
        "nctheory.theorems.optimal_momentum.HEAVY_BALL": "theorem object: its own proof; its claim vs the one here",
        "nctheory.theorems.optimal_momentum.NESTEROV": "theorem object: its own proof; its claim vs the one here",
        "nctheory.theorems.optimal_momentum.QHM": "theorem object: its own proof; its claim vs the one here",
        "nctheory.theorems.optimal_momentum.OptimalMomentumTheorem": "theorem class: must refute a wrong claim",
    },
    "test_sign_bounds.py": {
        "nctheory.optimizers.get_spec": SPECS["nctheory.optimizers.get_spec"],
        "nctheory.theorems.sign_bounds.SIGN_BOUNDS": "theorem object: its own proof",
        "nctheory.theorems.sign_bounds.SignDescentBounds": "theorem class: must refute wrong claims",
        "nctheory.theorems.sign_bounds.unrolled": "the theorem's typed statement, compared with THEORY.md's here",
    },
    "test_lemma0_nc0_necessary.py": {
        "nctheory.theorems.lemma0.LEMMA0": "theorem object: its own proof",
        "nctheory.theorems.lemma0.SimplexETFRowSum": "theorem class: must refute a wrong cosine",
    },
    "test_lemma1_gradient_row_sums.py": {
        "nctheory.theorems.lemma1.LEMMA1": "theorem object: its own proof",
        "nctheory.theorems.lemma1.GradientRowSums": "theorem class: must refute a wrong loss table",
        "nctheory.theorems.lemma1.EXPECTED_SHIFT_INVARIANCE": "the theorem's typed table, compared with THEORY.md's",
        "nctheory.theory.losses.LOSSES": "the registered loss expressions: objects decided by the procedure here",
    },
    "test_matrix_row_sums.py": {
        **SPECS,
        "nctheory.errors.NCTheoryError": "the error a refused recurrence raises",
        "nctheory.theorems.matrix_row_sums.MATRIX_ROW_SUMS": "theorem object: its own proof",
        "nctheory.theorems.matrix_row_sums.MatrixRowSums": "theorem class: must refute wrong claims",
        "nctheory.theory.matrix_transforms.newton_schulz_orthogonalisation": "the package's transform: the object "
                                                                            "under test, run on exact matrices",
        "nctheory.theory.ops.SYMBOLIC": "the namespace the package's code runs with on sympy objects",
    },
    "test_theorem2_stationarity.py": {
        "nctheory.theorems.theorem2.THEOREM2": "theorem object: its own proof",
        "nctheory.theorems.theorem2.StationarityForcesCentring": "theorem class: must refuse squared error",
    },
}
HELPERS = ("exact_tools.py", "losses_by_hand.py", "index_sums_by_hand.py", "hyperparameter_strategies.py",
           "conftest.py")  # import nothing of nctheory


def nctheory_names(source: str) -> list[tuple[str, int]]:
    """``(qualified name, line)`` for every nctheory name a module imports, or reaches as
    ``alias.attr`` through an imported nctheory name (a module imported as such shows up too)."""
    tree = ast.parse(source)
    aliases, used = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "nctheory":
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.asname and alias.name or "nctheory"
                    used.append((alias.name, node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "nctheory":
            for alias in node.names:
                qualified = f"{node.module}.{alias.name}"
                aliases[alias.asname or alias.name] = qualified
                used.append((qualified, node.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain, base = [node.attr], node.value
            while isinstance(base, ast.Attribute):
                chain.insert(0, base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                used.append((".".join([aliases[base.id], *chain]), node.lineno))
    return used


def _covered(name: str, entries) -> str | None:
    return next((e for e in entries if name == e or name.startswith(e + ".")), None)


def _is_module(qualified: str) -> bool:
    module, _, attr = qualified.rpartition(".")
    if not module:
        return True  # "nctheory" itself
    try:
        return isinstance(getattr(importlib.import_module(module), attr, None), types.ModuleType)
    except ImportError:
        return False


def violations(module: str, source: str) -> list[str]:
    """Why ``source`` (the text of proof module ``module``) breaks the rule; [] if it does not."""
    out, allowed = [], ALLOWED.get(module, {})
    for name, line in nctheory_names(source):
        forbidden = _covered(name, FORBIDDEN.get(module, {}))
        if forbidden:
            out.append(f"{module}:{line}: {name} is proved by this module ({FORBIDDEN[module][forbidden]})")
        elif _covered(name, allowed):
            continue  # an allowed name, or an attribute of one
        elif any(a.startswith(name + ".") for a in allowed) and _is_module(name):
            out.append(f"{module}:{line}: {name} is a module: import the names, so that each is listed")
        else:
            out.append(f"{module}:{line}: {name} is not in ALLOWED[{module!r}] (say there why it is not circular)")
    return out


PROOF_MODULES = sorted(p.name for p in PROOFS.glob("test_*.py") if p.name != Path(__file__).name)


def test_every_proof_module_is_classified():
    assert PROOF_MODULES == sorted(ALLOWED) == sorted(FORBIDDEN)


@pytest.mark.parametrize("module", PROOF_MODULES)
def test_no_proof_module_imports_what_it_proves(module):
    assert violations(module, (PROOFS / module).read_text()) == []


@pytest.mark.parametrize("helper", HELPERS)
def test_the_helpers_of_proofs_import_nothing_of_nctheory(helper):
    assert nctheory_names((PROOFS / helper).read_text()) == []


def test_allowed_and_forbidden_do_not_overlap():
    for module in PROOF_MODULES:
        assert [a for a in ALLOWED[module] if _covered(a, FORBIDDEN[module])] == []


def test_negative_control_the_checker_finds_circular_and_unlisted_imports():
    circular = ("from nctheory.theory.symbolic.analysis import iterate_exact\n"
                "from nctheory.theorems.linear_recurrences import basis_coefficients\n"
                "from nctheory.theorems.linear_claims import CLAIMS\n")
    found = violations("test_linear_recurrences.py", circular)
    assert len(found) == 2 and all("proved by this module" in v for v in found)
    via_module = "import nctheory.theory.symbolic.analysis as an\nvalue = an.iterate_exact\n"
    assert violations("test_linear_recurrences.py", via_module)
    through_package = "from nctheory.theory import symbolic\nsymbolic.analysis.closed_form\n"
    assert any("proved by this module" in v for v in violations("test_linear_recurrences.py", through_package))
    assert "box_bound" in " ".join(violations("test_sign_bounds.py",
                                              "from nctheory.theory.symbolic.signbased import box_bound\n"))
    unlisted = violations("test_lemma0_nc0_necessary.py", "from nctheory.runs.nc0 import nc0\n")
    assert len(unlisted) == 1 and "not in ALLOWED" in unlisted[0]
    whole = violations("test_linear_recurrences.py", "from nctheory import optimizers\noptimizers.get_spec\n")
    assert any("not in ALLOWED" in v or "is a module" in v for v in whole)
    assert violations("test_lemma0_nc0_necessary.py", "from nctheory.theorems.lemma0 import LEMMA0\n") == []
    circular_k = violations("test_lemma1_gradient_row_sums.py",
                            "from nctheory.theorems.softmax_sums import general_k_verdict\n")
    assert len(circular_k) == 1 and "proved by this module" in circular_k[0]


def _doc_subsections() -> dict:
    text = DESIGN.read_text()
    assert SECTION in text, f"docs/design.md has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    parts = section.split("\n### ")[1:]
    return {part.split("\n", 1)[0].strip().strip("`").removeprefix("proofs/"): part for part in parts}


def doc_missing(module: str, text: str) -> list[str]:
    """The allowed and forbidden names of ``module`` that ``text`` does not mention as `name`."""
    return [name for name in [*ALLOWED[module], *FORBIDDEN[module]] if f"`{name.rsplit('.', 1)[-1]}`" not in text]


def test_the_design_doc_lists_every_allowed_and_forbidden_name():
    subsections = _doc_subsections()
    assert sorted(subsections) == PROOF_MODULES
    for module in PROOF_MODULES:
        assert doc_missing(module, subsections[module]) == [], f"docs/design.md, {module}"
    text = subsections["test_sign_bounds.py"].replace("`box_bound`", "box_bound").replace("`signbased`", "signbased")
    assert doc_missing("test_sign_bounds.py", text) == ["nctheory.theory.symbolic.signbased"]  # the check can fail
