#!/usr/bin/env python
"""Mutation benchmark (issue 7, item 5): plant realistic bugs one at a time and see what catches them.

Each bug is an exact ``old -> new`` text replacement in one file of the package; ``old`` must
occur exactly once in the committed file, so the benchmark fails loudly (before running
anything) when the code it targets has moved. For every bug the script

1. extracts a THROWAWAY copy of the last commit (``git archive HEAD``: what is committed,
   not the working tree other people are editing) into a temporary directory,
2. applies the one replacement there,
3. runs the bug's relevant test files (``python -m pytest -x -q``, per-test timeout, whole-run
   timeout) and ``python -m nctheory.check NAME`` at DEFAULT settings (only ``--quiet --json``
   added, which change the output, not the run) for the optimizer(s) the bug touches, with
   ``cwd`` = the copy and ``PYTHONPATH`` = the copy (the copy's code is what is imported:
   checked once by printing ``nctheory.__file__``),
4. deletes the copy.

Before the mutants, a baseline runs the union of the selected test files and every check
on the unmodified copy: a kill means something only if the same tests pass and the same
checks answer without the bug. A test that already fails on the unmodified commit (work in
progress) cannot kill anything: it is deselected from every mutant run and listed in the
results.

Goal (issue 7): every planted bug is caught by the tests, and every bug in an update rule
(the rule as written in ``nctheory/theory/transforms.py`` and ``nctheory/optimizers/*.py``,
decay placement included) is also refuted (exit status 1) by ``check`` at default settings.
Checks measure on reference implementations (torch.optim, qhoptim, lion-pytorch,
pytorch-optimizer); a bug in the package's own rule can only show up as a prediction that
disagrees with the measurement, or in the spec-vs-reference tests.

Usage::

    python numerics/mutation_benchmark.py              # baseline + every bug -> numerics/results/
    python numerics/mutation_benchmark.py --list       # the bugs, one line each
    python numerics/mutation_benchmark.py --only ID[,ID...]   # a few bugs; prints, writes nothing
    python numerics/mutation_benchmark.py --only ID --out /tmp/x.json   # ... and writes there

Writes ``numerics/results/mutation_benchmark.json`` (the kill table, commit, timings) and
``numerics/results/mutation_benchmark.md`` (a short table). Exit status 0 when the goal is
met, 1 when some bug survived the tests or an update-rule bug was not refuted by check,
2 when the benchmark itself could not run (stale bug, failing baseline, ...).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "numerics" / "results"
#: per-test limit (pytest-timeout) and whole-invocation limits, seconds
TEST_TIMEOUT = 120
PYTEST_WALL = 600
CHECK_WALL = 300

# ------------------------------------------------------------------------ test selections
# Ordered so that the test most likely to kill a bug of that kind runs first (-x stops there).
REF = "tests/test_reference_implementations.py"
NEW_OPT = "tests/test_new_optimizers.py"
TORCH_OPT = "tests/test_torch_optim.py"
LIN_PROOFS = "proofs/test_linear_recurrences.py"
SIGN_PROOFS = "proofs/test_sign_bounds.py"
ENGINE = "tests/test_rowsum_engine.py"
SPEC_API = "tests/test_spec_api.py"
VERDICT = "tests/test_verdict.py"
CLI = "tests/test_check_cli.py"
METRICS = "tests/test_nc_metrics.py"
UFM = "tests/test_ufm.py"
TRAINING = "tests/test_training.py"
PREDICT = "tests/test_predict.py"
SCHEDULES = "tests/test_schedules.py"
TRACKER = "tests/test_tracker.py"
BRIDGE = "tests/test_torch_bridge.py"
THEOREMS = "tests/test_theorems.py"
OPT_MOM = "proofs/test_optimal_momentum.py"
RENAMED = "tests/test_renamed_copy.py"
#: added with this benchmark: the refusals that engine_accepts_degree_two and distinct_undecided_passes showed untested
REFUSALS = "tests/test_refusals.py"

LINEAR_RULE_TESTS = [REF, TORCH_OPT, LIN_PROOFS, ENGINE]
NONLINEAR_RULE_TESTS = [REF, NEW_OPT, TORCH_OPT]
SIGN_RULE_TESTS = [REF, TORCH_OPT, SIGN_PROOFS]


@dataclass(frozen=True)
class Bug:
    id: str
    file: str
    old: str
    new: str
    description: str
    category: str
    update_rule: bool
    tests: tuple
    checks: tuple = ()


BUGS = [
    # ----------------------------------------------------------------- update rules (linear)
    Bug("sgd_decay_doubled", "nctheory/theory/transforms.py",
        'return updates + hp["weight_decay"] * params, state',
        'return updates + 2 * hp["weight_decay"] * params, state',
        "weight decay adds 2 lambda W (the gradient of lambda ||W||^2 instead of lambda/2 ||W||^2)",
        "update rule: SGD decay", True, tuple(LINEAR_RULE_TESTS), ("sgd",)),
    Bug("heavy_ball_ema_buffer", "nctheory/theory/transforms.py",
        'buf = hp["momentum"] * buf + (1 - hp["dampening"]) * updates',
        'buf = hp["momentum"] * buf + (1 - hp["momentum"]) * updates',
        "heavy-ball buffer as an EMA, b <- mu b + (1 - mu) d, instead of torch's (1 - tau) d",
        "update rule: heavy-ball buffer", True, tuple(LINEAR_RULE_TESTS), ("sgd_momentum",)),
    Bug("dampening_ignored", "nctheory/theory/transforms.py",
        'buf = hp["momentum"] * buf + (1 - hp["dampening"]) * updates',
        'buf = hp["momentum"] * buf + updates',
        "the momentum buffer ignores dampening: b <- mu b + d",
        "update rule: dampening", True, tuple(LINEAR_RULE_TESTS), ("sgd_momentum", "sgdw_momentum")),
    Bug("first_step_dampened", "nctheory/theory/transforms.py",
        "buf = ops.copy(updates)",
        'buf = (1 - hp["dampening"]) * updates',
        "first step dampened: b_1 = (1 - tau) d_0 instead of torch's b_1 = d_0",
        "update rule: first-step rule", True, tuple(LINEAR_RULE_TESTS), ("sgd_momentum", "sgdw_momentum")),
    Bug("nesterov_interpolated", "nctheory/theory/transforms.py",
        'step = updates + hp["momentum"] * buf if self.nesterov else buf',
        'step = (1 - hp["momentum"]) * updates + hp["momentum"] * buf if self.nesterov else buf',
        "Nesterov step (1 - mu) d + mu b (an interpolation) instead of d + mu b",
        "update rule: Nesterov step", True, tuple(LINEAR_RULE_TESTS), ("sgd_nesterov",)),
    Bug("sgdw_decay_without_lr", "nctheory/optimizers/sgdw_momentum.py",
        'SPEC = OptimizerSpec(\n'
        '    name="sgdw_momentum",\n'
        '    summary="SGD momentum with decoupled weight decay (SGDW, Loshchilov & Hutter)",\n'
        '    chain=(tf.torch_momentum, tf.add_decayed_weights, tf.scale_by_learning_rate),',
        'from dataclasses import dataclass\n\n\n'
        '@dataclass(frozen=True)\n'
        'class _DecayWeights(tf.Transform):\n'
        '    """W <- W - lambda W after the step (decoupled)."""\n\n'
        '    hyperparameters = ("weight_decay",)\n\n'
        '    def update(self, updates, params, state, hp, ops):\n'
        '        return updates - hp["weight_decay"] * params, state\n\n\n'
        'SPEC = OptimizerSpec(\n'
        '    name="sgdw_momentum",\n'
        '    summary="SGD momentum with decoupled weight decay (SGDW, Loshchilov & Hutter)",\n'
        '    chain=(tf.torch_momentum, tf.scale_by_learning_rate, _DecayWeights()),',
        "SGDW decays by (1 - lambda) instead of (1 - eta lambda): the decay is applied after the lr scaling",
        "update rule: SGDW decay", True, tuple(LINEAR_RULE_TESTS), ("sgdw_momentum",)),
    Bug("qhm_undamped_buffer", "nctheory/theory/transforms.py",
        'buf = mu * state["momentum_buffer"] + (1 - mu) * updates',
        'buf = mu * state["momentum_buffer"] + updates',
        "QHM buffer b <- mu b + d (torch's undamped buffer) instead of the normalised mu b + (1 - mu) d",
        "update rule: QHM buffer", True, tuple(LINEAR_RULE_TESTS), ("qhm",)),
    Bug("qhm_nu_swapped", "nctheory/theory/transforms.py",
        'return (1 - nu) * updates + nu * buf, {"momentum_buffer": buf}',
        'return nu * updates + (1 - nu) * buf, {"momentum_buffer": buf}',
        "QHM step nu d + (1 - nu) b: the roles of nu and 1 - nu swapped",
        "update rule: QHM nu", True, tuple(LINEAR_RULE_TESTS), ("qhm",)),
    # ------------------------------------------------------------ update rules (nonlinear)
    Bug("sign_via_adam_eps", "nctheory/theory/transforms.py",
        "return ops.sign(updates), state",
        "return updates / (abs(updates) + 1e-8), state",
        "sign computed as d / (|d| + 1e-8) (Adam with betas 0 and its default eps) instead of sign(d)",
        "update rule: sign", True, tuple(SIGN_RULE_TESTS), ("signgd", "signgd_decoupled")),
    Bug("adam_second_moment_beta1", "nctheory/theory/transforms.py",
        'v = b2 * state["exp_avg_sq"] + (1 - b2) * updates * updates',
        'v = b2 * state["exp_avg_sq"] + (1 - b1) * updates * updates',
        "Adam's second moment v <- beta2 v + (1 - beta1) d^2 (beta typo)",
        "update rule: Adam moments", True, tuple(NONLINEAR_RULE_TESTS), ("adam", "adamw")),
    Bug("adam_no_first_bias_correction", "nctheory/theory/transforms.py",
        "step = (m / (1 - b1 ** t)) / (ops.sqrt(v / (1 - b2 ** t)) + eps)",
        "step = m / (ops.sqrt(v / (1 - b2 ** t)) + eps)",
        "Adam/AdamW without the first moment's bias correction m / (1 - beta1^t)",
        "update rule: Adam moments", True, tuple(NONLINEAR_RULE_TESTS), ("adamw",)),
    Bug("lion_betas_swapped", "nctheory/theory/transforms.py",
        'step = ops.sign(b1 * m + (1 - b1) * updates)\n'
        '        return step, {"exp_avg": b2 * m + (1 - b2) * updates}',
        'step = ops.sign(b2 * m + (1 - b2) * updates)\n'
        '        return step, {"exp_avg": b1 * m + (1 - b1) * updates}',
        "Lion with beta1 and beta2 swapped (interpolation with beta2, momentum with beta1)",
        "update rule: Lion moments", True, tuple(NONLINEAR_RULE_TESTS), ("lion",)),
    Bug("rmsprop_eps_inside_sqrt", "nctheory/optimizers/rmsprop.py",
        'return updates / (ops.sqrt(v) + eps), {"square_avg": v}',
        'return updates / ops.sqrt(v + eps), {"square_avg": v}',
        "RMSprop divides by sqrt(v + eps) instead of torch's sqrt(v) + eps",
        "update rule: RMSprop", True, tuple(NONLINEAR_RULE_TESTS), ("rmsprop",)),
    Bug("rmsprop_momentum_dampened", "nctheory/optimizers/rmsprop.py",
        'buf = hp["momentum"] * state["momentum_buffer"] + updates',
        'buf = hp["momentum"] * state["momentum_buffer"] + (1 - hp["momentum"]) * updates',
        "RMSprop's momentum buffer b <- mu b + (1 - mu) d / (sqrt(v) + eps) instead of mu b + d / ...",
        "update rule: RMSprop", True, tuple(NONLINEAR_RULE_TESTS), ("rmsprop_centered",)),
    Bug("adagrad_lr_decay_off_by_one", "nctheory/optimizers/adagrad.py",
        'step = updates / (ops.sqrt(v) + hp["eps"]) / (1 + (t - 1) * hp["lr_decay"])',
        'step = updates / (ops.sqrt(v) + hp["eps"]) / (1 + t * hp["lr_decay"])',
        "Adagrad's lr decay eta / (1 + t kappa) instead of eta / (1 + (t - 1) kappa)",
        "update rule: Adagrad", True, tuple(NONLINEAR_RULE_TESTS), ("adagrad",)),
    Bug("nadam_mu_product", "nctheory/optimizers/nadam.py",
        "(mu_next / (1 - product * mu_next))",
        "(mu_next / (1 - product))",
        "NAdam's momentum term mu_{t+1} / (1 - P_t) instead of mu_{t+1} / (1 - P_t mu_{t+1})",
        "update rule: NAdam", True, tuple(NONLINEAR_RULE_TESTS), ("nadam",)),
    # -------------------------------------------------------------------- decay placement
    Bug("sgdw_decay_coupled", "nctheory/optimizers/sgdw_momentum.py",
        "chain=(tf.torch_momentum, tf.add_decayed_weights, tf.scale_by_learning_rate),",
        "chain=(tf.add_decayed_weights, tf.torch_momentum, tf.scale_by_learning_rate),",
        "SGDW with the decay before the momentum buffer (coupled: it is heavy ball)",
        "decay placement", True, tuple(LINEAR_RULE_TESTS), ("sgdw_momentum",)),
    Bug("adamw_decay_coupled", "nctheory/optimizers/adamw.py",
        "chain=(tf.scale_by_adam, tf.add_decayed_weights, tf.scale_by_learning_rate),",
        "chain=(tf.add_decayed_weights, tf.scale_by_adam, tf.scale_by_learning_rate),",
        "AdamW with the decay inside the preconditioned direction (coupled: it is Adam)",
        "decay placement", True, tuple(NONLINEAR_RULE_TESTS), ("adamw",)),
    Bug("signgd_decay_outside_sign", "nctheory/optimizers/signgd.py",
        "chain=(tf.add_decayed_weights, tf.scale_by_sign, tf.scale_by_learning_rate),",
        "chain=(tf.scale_by_sign, tf.add_decayed_weights, tf.scale_by_learning_rate),",
        "coupled SignGD with the decay added after the sign (decoupled: it is signgd_decoupled)",
        "decay placement", True, tuple(SIGN_RULE_TESTS), ("signgd",)),
    Bug("lion_decay_coupled", "nctheory/optimizers/lion.py",
        "chain=(tf.scale_by_lion, tf.add_decayed_weights, tf.scale_by_learning_rate),",
        "chain=(tf.add_decayed_weights, tf.scale_by_lion, tf.scale_by_learning_rate),",
        "Lion with the decay inside the sign's argument (coupled)",
        "decay placement", True, tuple(NONLINEAR_RULE_TESTS), ("lion",)),
    # --------------------------------------------------------------------------- metrics
    Bug("nc0_squared", "nctheory/runs/nc0.py",
        "return float((row_sum(W) ** 2).sum() ** 0.5)",
        "return float((row_sum(W) ** 2).sum())",
        "NC0 returns the squared norm ||W^T 1||^2",
        "metrics", False, (METRICS, UFM, VERDICT, TRAINING), ("sgd_momentum",)),
    Bug("nc0_rel_sqrt_d", "nctheory/runs/nc0.py",
        "return nc0(W) / (math.sqrt(W.shape[0]) * frob)",
        "return nc0(W) / (math.sqrt(W.shape[1]) * frob)",
        "NC0_rel normalised by sqrt(d) (features) instead of sqrt(K) (classes)",
        "metrics", False, (METRICS, UFM, VERDICT, TRAINING), ("adam",)),
    # ---------------------------------------------------------------------------- dtypes
    Bug("torch_runs_in_float32", "nctheory/runs/backends.py",
        'return torch.float64 if self.dtype == "float64" else torch.float32',
        'return torch.float64 if self.dtype == "double" else torch.float32',
        "torch runs in float32 while the record says float64 (dtype name mismatch)",
        "dtypes", False, (TRAINING, VERDICT, CLI), ("sgd_momentum",)),
    Bug("noise_floor_float64_eps", "nctheory/verdict/noise.py",
        "u = machine_eps(record) / 2",
        "u = _EPS64 / 2",
        "the rounding noise floor uses float64's unit roundoff whatever the run's dtype",
        "dtypes", False, (VERDICT, CLI, TRAINING), ("sgd_momentum",)),
    # ------------------------------------------------------------------------ tolerances
    Bug("float64_tolerance_from_float32", "nctheory/verdict/linear.py",
        'TOLERANCES = {"float64": 1e-9, "float32": 1e-4}',
        'TOLERANCES = {"float64": 1e-4, "float32": 1e-4}',
        "the float64 whole-trajectory tolerance copied from float32 (1e-4 instead of 1e-9)",
        "tolerances", False, (VERDICT, CLI, TRACKER), ("sgd_momentum",)),
    Bug("sign_integer_tolerance_half", "nctheory/verdict/sign.py",
        'INTEGER_TOLERANCE = {"float64": 1e-6, "float32": 1e-2}',
        'INTEGER_TOLERANCE = {"float64": 0.5, "float32": 0.5}',
        "the sign verdict's integer-increment tolerance 0.5: every increment rounds to some integer",
        "tolerances", False, (VERDICT, CLI), ("signgd_decoupled",)),
    # ----------------------------------------------------------------------- noise floor
    Bug("noise_floor_variance", "nctheory/verdict/noise.py",
        "sigma = np.sqrt(sigma2 + measurement)",
        "sigma = sigma2 + measurement",
        "the noise floor's sigma is the variance (sqrt forgotten): a random part ~1e-28 instead of ~1e-14",
        "noise floor", False, (VERDICT, CLI), ("sgd_momentum",)),
    # ------------------------------------------------------------------------- schedules
    Bug("predict_lr_off_by_one", "nctheory/theory/predict.py",
        "rates = rates[:steps]",
        "rates = np.append(rates[1:steps], rates[steps - 1])",
        "predict(lr_schedule=...) uses the lr of step t + 1 at step t (scheduler read after stepping)",
        "schedules", False, (PREDICT, SCHEDULES, TRACKER, VERDICT), ("sgd_momentum",)),
    Bug("schedule_first_step_twice", "nctheory/theory/symbolic/schedules.py",
        "initialised = buffers_initialised or t > 0\n        function, uses_step = compiled[initialised]",
        "initialised = buffers_initialised or t > 1\n        function, uses_step = compiled[initialised]",
        "float transitions apply the fresh-buffer first-step matrix at steps 0 and 1",
        "schedules", False, (PREDICT, SCHEDULES, TRACKER), ("sgd_momentum",)),
    # -------------------------------------------------------------------- torch mappings
    Bug("make_optimizer_drops_dampening", "nctheory/theory/torch_mapping.py",
        "        accepted = inspect.signature(self.resolve()).parameters\n",
        '        kwargs = {k: v for k, v in kwargs.items() if k in ("lr", "momentum", "weight_decay", "betas", "eps",\n'
        '                                                          "nu", "alpha", "lr_decay", "momentum_decay")}\n'
        "        accepted = inspect.signature(self.resolve()).parameters\n",
        "make_optimizer builds the reference from an allow-list of keywords that forgot dampening",
        "torch mappings", False, (TORCH_OPT, REF, BRIDGE), ("sgd_momentum",)),
    Bug("from_torch_wrong_key", "nctheory/theory/hyperparams.py",
        "value = group.get(self.torch_name)",
        "value = group.get(self.name)",
        "from_torch reads a hyperparameter under its own name, not torch's key (betas are missed)",
        "torch mappings", False, (BRIDGE, TRACKER, REF), ("adam",)),
    # ------------------------------------------------------------------- symbolic engine
    Bug("engine_first_and_later_swapped", "nctheory/theory/symbolic/rowsum.py",
        "return tuple(state), matrices[0], matrices[1]",
        "return tuple(state), matrices[1], matrices[0]",
        "the engine returns the first-step matrix as the regular transition and vice versa",
        "symbolic engine", False, (ENGINE, PREDICT, LIN_PROOFS), ("sgd_momentum",)),
    Bug("spectral_radius_real_part", "nctheory/theory/symbolic/rowsum.py",
        "return float(max(abs(r) for r in roots))",
        "return float(max(mpmath.re(r) for r in roots))",
        "the spectral radius takes the largest real part instead of the largest modulus",
        "symbolic engine", False, (ENGINE, SPEC_API, LIN_PROOFS, OPT_MOM), ("sgd_momentum",)),
    Bug("engine_accepts_degree_two", "nctheory/theory/symbolic/rowsum.py",
        "if poly.total_degree() > 1:",
        "if poly.total_degree() > 2:",
        "the linearity test lets degree-2 terms (a squared gradient) through as linear",
        "symbolic engine", False, (REFUSALS, ENGINE, SPEC_API, LIN_PROOFS), ()),
    Bug("opaque_coupling_from_gradient", "nctheory/theory/symbolic/opaque.py",
        "return any(arg.has(WEIGHT_ROW_SUM) for arg in self.arguments)",
        "return any(arg.has(GRADIENT_ROW_SUM) for arg in self.arguments)",
        "coupling decided from the gradient symbol (always present) instead of the weights: all coupled",
        "symbolic engine", False, (ENGINE, SPEC_API, VERDICT), ("adamw",)),
    Bug("distinct_undecided_passes", "nctheory/theorems/base.py",
        'return Step(f"{description} [no point found where they differ]", (lhs, rhs), False, r"\\ne")',
        'return Step(f"{description} [no point found where they differ]", (lhs, rhs), True, r"\\ne")',
        "a negative control that cannot find a witness reports success (undecided counted as distinct)",
        "symbolic engine", False, (REFUSALS, THEOREMS), ()),
]


#: Why a bug can stay invisible, shown in the tables only where it did (analysis, not a result).
NONLINEAR_CHECK_BLIND = ("the family's theory (coupled / decoupled NC0 statements) does not depend on the details "
                         "of the spec's own nonlinear rule, so only a comparison of the spec's step with the "
                         "reference can see this bug: the tests, and check's rule comparison (rule_check, "
                         "since commit 0da9856) at the default hyperparameters")
NOTES = {
    "sign_via_adam_eps": NONLINEAR_CHECK_BLIND + " (the sign verdict holds the sign output opaque: "
                         "s' = A s + B sigma does not change)",
    "adam_second_moment_beta1": NONLINEAR_CHECK_BLIND,
    "adam_no_first_bias_correction": NONLINEAR_CHECK_BLIND,
    "lion_betas_swapped": NONLINEAR_CHECK_BLIND + " (Lion's theory does not depend on the betas)",
    "rmsprop_eps_inside_sqrt": NONLINEAR_CHECK_BLIND,
    "rmsprop_momentum_dampened": NONLINEAR_CHECK_BLIND,
    "adagrad_lr_decay_off_by_one": NONLINEAR_CHECK_BLIND + "; the default (and example) lr_decay is 0, where "
                                   "eta / (1 + t kappa) and eta / (1 + (t - 1) kappa) coincide, so the rule "
                                   "comparison at defaults cannot see it (the tests draw lr_decay > 0); besides, "
                                   "check adagrad is inconclusive at default settings even without a bug "
                                   "(NC0_rel still falling)",
    "nadam_mu_product": NONLINEAR_CHECK_BLIND,
    "dampening_ignored": "sgdw_momentum's check cannot see it by the theory itself: SGDW's buffer only sums "
                         "gradients, whose row sums vanish (Lemma 1), so the row sums never see the buffer",
    "first_step_dampened": "as dampening_ignored: invisible to SGDW's row sums; sgd_momentum's check refutes it",
    "adamw_decay_coupled": "the run is AdamW (decoupled), judged against the coupled theory the mutated spec "
                           "derives; at default settings the adaptive verdict declines to judge while the "
                           "weights still drift ('drift ratio 1.00 > 0.3: not at a fixed point'), so the "
                           "measured NC0_rel plateau (~0.24, against a predicted <= 0.04) only makes it "
                           "inconclusive; the tests kill it",
    "opaque_coupling_from_gradient": "not an update-rule bug (the spec's step is unchanged, so check's rule "
                                     "comparison passes); AdamW judged against the coupled theory the mutated "
                                     "engine derives is only inconclusive at default settings: the adaptive "
                                     "verdict declines to judge while the weights still drift ('drift ratio "
                                     "1.00 > 0.3: not at a fixed point'); the tests kill it",
    "engine_accepts_degree_two": "no registered spec has a polynomial nonlinearity (Adam divides, sign is a "
                                 "function), so the mutant is equivalent on every spec; only a transformation "
                                 "falsely declared linear shows it, and no test had one (tests/test_refusals.py "
                                 "adds it)",
    "distinct_undecided_passes": "a negative control only ever passes more often under this mutant, and no "
                                 "test asked distinct() to fail on equal or undecidable expressions "
                                 "(tests/test_refusals.py adds it)",
}


# ------------------------------------------------------------------------------ helpers
def _git(*args) -> bytes:
    """Read-only git on the repository (rev-parse, log, archive): nothing changes state there."""
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True).stdout


def _archive() -> bytes:
    return _git("archive", "--format=tar", "HEAD")


def _extract(tar_bytes: bytes, dest: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        tar.extractall(dest, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(dest)


def _read_member(tar_bytes: bytes, path: str) -> str:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        member = tar.extractfile(path)
        if member is None:
            raise FileNotFoundError(path)
        return member.read().decode()


def validate(bugs, tar_bytes) -> list[str]:
    """Each bug's ``old`` occurs exactly once in its committed file; returns the problems."""
    problems = []
    ids = [b.id for b in bugs]
    if len(set(ids)) != len(ids):
        problems.append("duplicate bug ids")
    for bug in bugs:
        try:
            text = _read_member(tar_bytes, bug.file)
        except (KeyError, FileNotFoundError):
            problems.append(f"{bug.id}: {bug.file} is not in the commit")
            continue
        count = text.count(bug.old)
        if count != 1:
            problems.append(f"{bug.id}: the text to replace occurs {count} times in {bug.file} (must be once: "
                            f"the code moved, update the bug)")
        if bug.old == bug.new:
            problems.append(f"{bug.id}: old and new are the same")
    return problems


def _env(copy: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    env["OMP_NUM_THREADS"] = "1"
    env["MKL_NUM_THREADS"] = "1"
    return env


def _tail(text: str, n: int = 1200) -> str:
    return text[-n:] if len(text) > n else text


_FAILED = re.compile(r"^(FAILED|ERROR) (.+?)(?: - (.*))?$", re.M)  # ids may hold spaces: [a-degree 2]


def run_tests(copy: Path, files, deselect=(), stop_first: bool = True, exclude=()) -> dict:
    """pytest on ``files`` in ``copy``; ``deselect``: node ids left out (they fail on the unmodified
    commit), ``exclude``: files left out (they do not even collect there)."""
    start = time.perf_counter()
    missing = [f for f in files if not (copy / f).exists()]
    files = [f for f in files if (copy / f).exists() and f not in exclude]
    wanted = [d for d in deselect if d.split("::")[0] in files]
    cmd = [sys.executable, "-m", "pytest", *(["-x"] if stop_first else []), "-q", "-rfE", "-p", "no:cacheprovider",
           f"--timeout={TEST_TIMEOUT}", *files, *[arg for d in wanted for arg in ("--deselect", d)]]
    try:
        proc = subprocess.run(cmd, cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=PYTEST_WALL)
        out, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        rc = "timeout"
    seconds = round(time.perf_counter() - start, 1)
    killers = [f"{m.group(1)} {m.group(2)}" + (f" - {m.group(3)[:200]}" if m.group(3) else "")
               for m in _FAILED.finditer(out)]
    summary = next((line for line in reversed(out.strip().splitlines()) if " in " in line and (
        "passed" in line or "failed" in line or "error" in line)), "")
    if rc == 0:
        status = "survived"
    elif rc in (1, 2, 3):
        status = "killed"
        if not killers:
            killers = [line for line in out.splitlines() if "Error" in line or "error" in line][:3] or [f"pytest exit {rc}"]
    elif rc == "timeout":
        status = "killed"
        killers = [f"pytest ran past {PYTEST_WALL} s (whole-run timeout)"]
    else:
        status = "error"
    return {"status": status, "killed_by": killers, "exit": rc, "summary": summary, "seconds": seconds,
            "files": list(files), "missing_files": missing, "deselected": wanted, "output_tail": _tail(out)}


def run_check(copy: Path, name: str) -> dict:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "nctheory.check", name, "--quiet", "--json"]
    try:
        proc = subprocess.run(cmd, cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=CHECK_WALL)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired:
        rc, out, err = "timeout", "", ""
    seconds = round(time.perf_counter() - start, 1)
    verdict, reason = None, None
    try:
        data = json.loads(out)
        verdict = data.get("verdict")
        reasons = data.get("reasons") or []
        reason = reasons[0][:300] if reasons else None
    except (json.JSONDecodeError, AttributeError):
        verdict = "error" if rc != "timeout" else "timeout"
        reason = _tail((err or out).strip(), 300) or None
    return {"name": name, "exit": rc, "verdict": verdict, "reason": reason, "seconds": seconds}


def import_path(copy: Path) -> str:
    out = subprocess.run([sys.executable, "-c", "import nctheory; print(nctheory.__file__)"], cwd=copy,
                         env=_env(copy), capture_output=True, text=True, check=True).stdout.strip()
    if not Path(out).resolve().is_relative_to(copy.resolve()):
        raise RuntimeError(f"the copy is not what gets imported: nctheory.__file__ = {out}")
    return out


# ----------------------------------------------------------------------------- running
def _overlay(copy: Path, paths) -> None:
    """Copy working-tree files over the extracted commit (``--include-uncommitted``)."""
    for rel in paths:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, copy / rel)


def run_baseline(tar_bytes, bugs, workdir: Path, overlay=()) -> dict:
    copy = workdir / "baseline"
    _extract(tar_bytes, copy)
    _overlay(copy, overlay)
    start = time.perf_counter()
    path = import_path(copy)
    print(f"baseline copy: nctheory imported from {path}", flush=True)
    files = sorted({f for b in bugs for f in b.tests})
    tests = run_tests(copy, files, stop_first=False)  # every failure on the unmodified commit, not only the first
    # Tests that fail WITHOUT a bug cannot kill one: they are deselected in every mutant run (and reported);
    # a file that does not collect is left out whole.
    failing = [k.split(" - ")[0].split(" ", 1)[1] for k in tests["killed_by"] if k.startswith(("FAILED ", "ERROR "))]
    deselect = [f for f in failing if "::" in f]
    exclude = [f for f in failing if "::" not in f]
    if tests["status"] == "killed" and not failing:
        raise RuntimeError("the selected tests fail on the unmodified commit and the failures cannot be read:\n"
                           + tests["output_tail"])
    checks = {name: run_check(copy, name) for name in sorted({c for b in bugs for c in b.checks})}
    shutil.rmtree(copy, ignore_errors=True)
    print(f"baseline tests: {'pass' if tests['status'] == 'survived' else 'FAILURES'} ({tests['summary']}); "
          f"checks: {', '.join(n + '=' + str(c['verdict']) for n, c in checks.items())}", flush=True)
    if failing:
        print("  failing on the unmodified commit, left out of every mutant run:\n    " + "\n    ".join(failing),
              flush=True)
    return {"import_path": path, "tests": tests, "checks": checks, "deselected": deselect, "excluded_files": exclude,
            "seconds": round(time.perf_counter() - start, 1)}


def run_bug(tar_bytes, bug: Bug, workdir: Path, overlay=(), deselect=(), exclude=()) -> dict:
    copy = workdir / bug.id
    _extract(tar_bytes, copy)
    _overlay(copy, overlay)
    start = time.perf_counter()
    target = copy / bug.file
    text = target.read_text()
    assert text.count(bug.old) == 1, f"{bug.id}: old text not found exactly once in {bug.file}"
    target.write_text(text.replace(bug.old, bug.new))
    tests = run_tests(copy, bug.tests, deselect=deselect, exclude=exclude)
    checks = [run_check(copy, name) for name in bug.checks]
    shutil.rmtree(copy, ignore_errors=True)
    # caught by check: the default check of SOME optimizer whose rule the bug changes says refuted (a shared
    # transformation can be invisible to another optimizer's theory: SGDW's row sums never see its buffer)
    refuted = any(c["exit"] == 1 for c in checks)
    row = {"id": bug.id, "file": bug.file, "category": bug.category, "update_rule": bug.update_rule,
           "description": bug.description, "old": bug.old, "new": bug.new,
           "tests_run": tests["files"], "tests_not_in_commit": tests["missing_files"],
           "tests_deselected": tests["deselected"],
           "tests_status": tests["status"], "killed_by": tests["killed_by"],
           "tests_summary": tests["summary"], "tests_seconds": tests["seconds"],
           "tests_output_tail": tests["output_tail"] if tests["status"] != "killed" else _tail(tests["output_tail"], 600),
           "checks": checks, "check_refuted": refuted,
           "seconds": round(time.perf_counter() - start, 1)}
    if tests["status"] != "killed" or (bug.update_rule and not refuted) or (
            checks and not all(c["exit"] == 1 for c in checks)):
        if bug.id in NOTES:
            row["note"] = NOTES[bug.id]
    return row


def _short_check(checks) -> str:
    return ", ".join(f"{c['name']}: {c['exit']} {c['verdict']}" for c in checks) or "-"


def markdown(result: dict) -> str:
    s = result["summary"]
    base = result["baseline"]
    base_tests = base["tests"]["summary"] if "tests" in base else "not run"
    base_checks = (", ".join(f"{n} {c['exit']} {c['verdict']}" for n, c in base["checks"].items())
                   if base.get("checks") else "not run")
    lines = [
        "# Mutation benchmark (issue 7, item 5)", "",
        f"Commit `{result['commit']}` ({result['commit_subject']}); run {result['started']} on "
        f"{result['machine']}; total {result['total_seconds']:.0f} s. Generated by "
        f"`numerics/mutation_benchmark.py` -- each bug is one exact text replacement in a throwaway copy of the "
        f"commit; the relevant tests run with `pytest -x -q --timeout={TEST_TIMEOUT}`, then "
        f"`python -m nctheory.check NAME` at default settings.", "",
        f"* killed by the tests: **{s['killed_by_tests']}/{s['bugs']}** ({s['killed_by_tests_pct']:.0f}%)",
        f"* update-rule bugs refuted by check: **{s['update_rule_refuted']}/{s['update_rule_bugs']}** "
        f"({s['update_rule_refuted_pct']:.0f}%)",
        f"* baseline (unmodified copy): tests {base_tests}; checks {base_checks}", "",
        "| id | file | category | tests | killed by | check (exit verdict) | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["bugs"]:
        killer = r["killed_by"][0] if r["killed_by"] else "survived"
        killer = killer.split(" - ")[0].replace("FAILED ", "").replace("|", "\\|")
        status = "killed" if r["tests_status"] == "killed" else f"**{r['tests_status'].upper()}**"
        check = _short_check(r["checks"])
        if r["update_rule"] and not r["check_refuted"]:
            check = f"**{check}**"
        lines.append(f"| {r['id']} | {r['file'].replace('nctheory/', '')} | {r['category']} | {status} | {killer} | "
                     f"{check} | {r['seconds']:.0f} |")
    lines += ["", "Bold: a bug the tests missed, or an update-rule bug that check did not refute.", ""]
    if result.get("uncommitted_files_included"):
        lines += [f"Working-tree files laid over the commit: {', '.join(result['uncommitted_files_included'])}.", ""]
    if base.get("deselected") or base.get("excluded_files"):
        lines += ["Failing on the unmodified commit, so left out of every mutant run (they cannot kill a bug): "
                  + ", ".join(f"`{t}`" for t in base.get("deselected", []) + base.get("excluded_files", [])) + ".", ""]
    missing = sorted({f for r in result["bugs"] for f in r.get("tests_not_in_commit", [])})
    if missing:
        lines += [f"Selected test files not in this commit (skipped): {', '.join(missing)}.", ""]
    notes = [r for r in result["bugs"] if r.get("note")]
    if notes:
        lines += ["## Why (analysis of what was missed)", ""]
        lines += [f"* **{r['id']}**: {r['note']}." for r in notes]
        lines.append("")
    return "\n".join(lines)


def summarise(rows) -> dict:
    n = len(rows)
    killed = sum(r["tests_status"] == "killed" for r in rows)
    rules = [r for r in rows if r["update_rule"]]
    refuted = sum(r["check_refuted"] for r in rules)
    return {"bugs": n, "killed_by_tests": killed, "killed_by_tests_pct": 100.0 * killed / n if n else 0.0,
            "survivors": [r["id"] for r in rows if r["tests_status"] != "killed"],
            "update_rule_bugs": len(rules), "update_rule_refuted": refuted,
            "update_rule_refuted_pct": 100.0 * refuted / len(rules) if rules else 0.0,
            "update_rule_not_refuted": [r["id"] for r in rules if not r["check_refuted"]],
            "check_refuted_any_bug": sum(r["check_refuted"] for r in rows)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", action="store_true", help="list the bugs and exit")
    p.add_argument("--only", default=None, help="comma-separated bug ids to run (writes nothing unless --out)")
    p.add_argument("--no-baseline", action="store_true", help="skip the baseline on the unmodified copy")
    p.add_argument("--include-uncommitted", action="append", default=[], metavar="PATH",
                   help="copy this working-tree file over the commit in every copy (e.g. a new test not yet "
                        "committed); recorded in the results")
    p.add_argument("--out", default=None, help="JSON path to write (default: numerics/results/mutation_benchmark.json "
                                               "for a full run)")
    args = p.parse_args(argv)

    if args.list:
        for b in BUGS:
            print(f"{b.id:34s} {b.category:32s} {b.file:40s} {b.description}")
        print(f"\n{len(BUGS)} bugs, {sum(b.update_rule for b in BUGS)} in update rules")
        return 0
    bugs = BUGS
    if args.only:
        wanted = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = sorted(set(wanted) - {b.id for b in BUGS})
        if unknown:
            print(f"unknown bug id(s): {', '.join(unknown)} (see --list)", file=sys.stderr)
            return 2
        bugs = [b for b in BUGS if b.id in wanted]

    commit = _git("rev-parse", "HEAD").decode().strip()
    subject = _git("log", "-1", "--format=%s").decode().strip()
    tar_bytes = _archive()
    problems = validate(bugs, tar_bytes)
    problems += [f"--include-uncommitted {rel}: no such file in {REPO}" for rel in args.include_uncommitted
                 if not (REPO / rel).is_file()]
    if problems:
        print("mutation benchmark: stale bug definitions (nothing was run):\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.perf_counter()
    print(f"commit {commit[:12]} ({subject}); {len(bugs)} bug(s)", flush=True)
    with tempfile.TemporaryDirectory(prefix="nctheory-mutants-") as tmp:
        workdir = Path(tmp)
        baseline = {}
        if not args.no_baseline:
            baseline = run_baseline(tar_bytes, bugs, workdir, args.include_uncommitted)
        else:
            copy = workdir / "probe"
            _extract(tar_bytes, copy)
            baseline = {"import_path": import_path(copy)}
            shutil.rmtree(copy, ignore_errors=True)
        rows = []
        for i, bug in enumerate(bugs, 1):
            row = run_bug(tar_bytes, bug, workdir, args.include_uncommitted, baseline.get("deselected", ()),
                          baseline.get("excluded_files", ()))
            rows.append(row)
            killer = row["killed_by"][0].split(" - ")[0] if row["killed_by"] else "SURVIVED"
            print(f"[{i:2d}/{len(bugs)}] {bug.id:34s} tests: {row['tests_status']:8s} {killer:70.70s} "
                  f"check: {_short_check(row['checks'])}  ({row['seconds']:.0f} s)", flush=True)

    total = round(time.perf_counter() - t0, 1)
    import torch  # noqa: PLC0415  (versions for the record only)

    result = {
        "commit": commit, "commit_subject": subject, "started": started, "total_seconds": total,
        "uncommitted_files_included": list(args.include_uncommitted),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}, "
                   f"torch {torch.__version__}",
        "settings": {"pytest": f"-x -q -p no:cacheprovider --timeout={TEST_TIMEOUT}",
                     "pytest_wall_s": PYTEST_WALL, "check": "python -m nctheory.check NAME --quiet --json "
                                                            "(default settings)", "check_wall_s": CHECK_WALL,
                     "env": "cwd = copy, PYTHONPATH = copy, PYTHONDONTWRITEBYTECODE=1, HYPOTHESIS_PROFILE=ci",
                     "refuted_means": "at least one listed check exits 1 (refuted); every check is reported"},
        "baseline": baseline, "summary": summarise(rows), "bugs": rows,
    }
    s = result["summary"]
    print(f"\nkilled by tests: {s['killed_by_tests']}/{s['bugs']} ({s['killed_by_tests_pct']:.0f}%); "
          f"update-rule bugs refuted by check: {s['update_rule_refuted']}/{s['update_rule_bugs']} "
          f"({s['update_rule_refuted_pct']:.0f}%); total {total:.0f} s")
    if s["survivors"]:
        print(f"survived the tests: {', '.join(s['survivors'])}")
    if s["update_rule_not_refuted"]:
        print(f"update-rule bugs check did not refute: {', '.join(s['update_rule_not_refuted'])}")
    out = Path(args.out) if args.out else (None if args.only else RESULTS / "mutation_benchmark.json")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
        out.with_suffix(".md").write_text(markdown(result))
        print(f"wrote {out} and {out.with_suffix('.md')}")
    goal = not s["survivors"] and not s["update_rule_not_refuted"]
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
