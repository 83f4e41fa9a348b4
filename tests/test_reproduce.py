"""The claim analysers of nctheory.reproduce on small synthetic results, with negative controls:
data showing the opposite of a claim must come out "contradicted", runs that never reach the
regime "inconclusive" with the measured regime stated. No training here (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from nctheory.reproduce import coupling, momentum, necessity, sign_scaling
from nctheory.reproduce.claim import ClaimResult, Finding, combine_verdicts
from nctheory.sweep.result import RunResult
from nctheory.sweep.run_spec import SweepRun

METRICS = ("nc0", "nc0_rel", "nc1", "nc2", "nc3", "loss", "accuracy")


def result(optimizer, hparams, config, steps, every, curves, tpt=None):
    """A finished run whose metrics are ``curves[name](t)`` at t = 0, every, ..., steps; training
    accuracy 1 from step ``tpt`` (default: a tenth of the run) on."""
    t = np.arange(0, steps + 1, every, dtype=float)
    tpt = steps // 10 if tpt is None else tpt
    series = {"step": [int(x) for x in t], "accuracy": [1.0 if x >= tpt else 0.9 for x in t]}
    base = {"nc0": lambda t: 0.5 * np.ones_like(t), "nc0_rel": lambda t: 0.4 * np.ones_like(t),
            "nc1": lambda t: np.ones_like(t), "nc2_norm": lambda t: 0.5 * np.ones_like(t),
            "nc2_angle": lambda t: 0.5 * np.ones_like(t), "nc3": lambda t: np.ones_like(t),
            "loss": lambda t: 0.1 + np.exp(-t / 50)}
    base.update(curves)
    for name, f in base.items():
        series[name] = [float(v) for v in f(t)]
    run = SweepRun.make(optimizer, hparams, config, metrics=METRICS)
    return RunResult(run=run, status="finished", series=series, steps_done=steps)


# ---------------------------------------------------------------------- verdict algebra
def test_combine_verdicts_is_a_conjunction():
    assert combine_verdicts(["supported", "supported"]) == "supported"
    assert combine_verdicts(["supported", "inconclusive"]) == "inconclusive"
    assert combine_verdicts(["supported", "contradicted", "inconclusive"]) == "contradicted"
    assert combine_verdicts([]) == "inconclusive"
    claim = ClaimResult("x", "t", [Finding("a", "supported", "s", "e"),
                                   Finding("b", "contradicted", "s", "e", counts=False)])
    assert claim.verdict == "supported"  # an observation does not count


# ---------------------------------------------------------------------- coupling
def _coupling_runs(steps=6000, swap=False, accuracy_tpt=None):
    falls = {"nc0_rel": lambda t: 0.4 * np.exp(-t / 800), "nc3": lambda t: 0.4 * np.exp(-t / 800) + 1e-3}
    stays = {"nc0_rel": lambda t: 0.4 - 0.1 * t / steps, "nc3": lambda t: np.ones_like(t)}
    out = []
    for seed in (0, 1):
        for name, curves in (("adam", falls), ("adamw", stays)):
            if swap:
                curves = stays if curves is falls else falls
            cfg = {"model": "ufm", "steps": steps, "seed": seed}
            out.append(result(name, {"lr": 1e-3, "weight_decay": 5e-2}, cfg, steps, steps // 30, curves,
                              tpt=accuracy_tpt))
    return out


def test_coupling_supported_and_flip():
    claim = coupling.analyse(_coupling_runs())
    assert claim.verdict == "supported", [(f.name, f.verdict, f.evidence) for f in claim.findings]
    assert claim.finding("flip").verdict == "supported"
    assert "flips" in claim.finding("flip").evidence


def test_coupling_negative_control_is_contradicted():
    claim = coupling.analyse(_coupling_runs(swap=True))  # coupled stays, decoupled falls
    assert claim.verdict == "contradicted"
    assert claim.finding("flip").verdict == "contradicted"


def test_coupling_too_short_is_inconclusive_with_regime():
    claim = coupling.analyse(_coupling_runs(steps=600))  # lr x steps = 0.6 < 2
    assert claim.verdict == "inconclusive"
    assert "lr x steps = 0.6" in claim.finding("nc0_vanishes").evidence


def test_coupling_never_in_terminal_phase_is_inconclusive():
    claim = coupling.analyse(_coupling_runs(accuracy_tpt=10 ** 9))
    assert claim.verdict == "inconclusive"
    assert "never" in claim.regime and "0 of 4 runs in the terminal phase" in claim.regime


# ---------------------------------------------------------------------- momentum
def _momentum_runs(steps=4000, every=20, lie=None):
    """NC0 from the exact recurrence of each run's spec (``lie``: of another momentum instead)."""
    from nctheory.optimizers import optimizer

    lr, wd = 0.2, 0.02
    cfg = {"model": "ufm", "steps": steps, "seed": 0}
    out = []
    for name, mu in (("sgd", None), ("sgd_momentum", 0.5), ("sgd_momentum", 0.995), ("sgdw_momentum", 0.5)):
        hp = {"lr": lr, "weight_decay": wd} | ({} if mu is None else {"momentum": mu, "dampening": 0.0})
        truth = dict(hp, momentum=lie) if (lie is not None and mu == 0.5 and name == "sgd_momentum") else hp
        phi = np.abs(optimizer(name, **truth).predict(np.array([1.0]), steps)[:, 0])
        speed = 1.0 if mu is None else (1 / (1 - mu) if name == "sgd_momentum" and mu < 0.9 else 1.0)
        curves = {"nc0": lambda t, p=phi: p[t.astype(int)], "nc1": lambda t, p=phi: p[t.astype(int)] ** 2,
                  "nc2_norm": lambda t, p=phi: p[t.astype(int)], "nc2_angle": lambda t, p=phi: p[t.astype(int)],
                  "nc3": lambda t, p=phi: p[t.astype(int)], "loss": lambda t, s=speed: 0.2 + np.exp(-t * s / 60)}
        out.append(result(name, hp, cfg, steps, every, curves, tpt=10))
    return out


def test_momentum_exact_rates_supported():
    claim = momentum.analyse(_momentum_runs())
    for name in ("nc0_rate", "no_speedup", "follows[nc3]"):
        assert claim.finding(name).verdict == "supported", claim.finding(name).evidence
    row = next(r for r in claim.table if r["momentum"] == 0.995)
    assert not row["accelerates"] and row["speedup"]["nc0"][0] < 1  # past the heavy-ball threshold


def test_momentum_negative_control_wrong_momentum_is_contradicted():
    claim = momentum.analyse(_momentum_runs(lie=0.8))  # the mu=0.5 run's NC0 decays like mu=0.8
    assert claim.finding("nc0_rate").verdict == "contradicted"
    assert claim.verdict == "contradicted"


def test_momentum_too_short_is_inconclusive():
    claim = momentum.analyse(_momentum_runs(steps=200))
    assert claim.finding("nc0_rate").verdict == "inconclusive"
    assert "not settled" in claim.finding("nc0_rate").evidence


# ---------------------------------------------------------------------- sign scaling
def _sign_runs(coupled_law=lambda lr: 6.0 * lr, decoupled_law=lambda lr, wd: 17.0 / wd, K_values=(5,), decay=5.0,
               wiggle=0.0):
    out = []
    for seed in (0, 1):
        for lr in (1e-2, 5e-3, 2.5e-3):
            steps = int(decay / (lr * 5e-2))
            for name, plateau in (("signgd", coupled_law(lr)), ("signgd_decoupled", decoupled_law(lr, 5e-2))):
                curves = {"nc0": lambda t, p=plateau, s=steps: p * (1 + np.exp(-10 * t / s)),
                          "nc0_rel": lambda t, c=name: (0.9 if c.endswith("decoupled") else 1e-3) * np.ones_like(t)}
                out.append(result(name, {"lr": lr, "weight_decay": 5e-2}, {"model": "ufm", "seed": seed,
                                                                          "steps": steps}, steps, steps // 50, curves))
        for wd in (2.5e-2, 1e-1):
            steps = int(decay / (1e-2 * wd))
            curves = {"nc0": lambda t, p=decoupled_law(1e-2, wd): p * (1 + wiggle * np.sin(t / 37.0)),
                      "nc0_rel": lambda t: 0.9 * np.ones_like(t)}
            out.append(result("signgd_decoupled", {"lr": 1e-2, "weight_decay": wd},
                              {"model": "ufm", "seed": seed, "steps": steps}, steps, steps // 50, curves))
        for K in K_values:
            if K == 5:
                continue
            steps = int(decay / (1e-2 * 5e-2))
            curves = {"nc0": lambda t, p=decoupled_law(1e-2, 5e-2): p * (1 + wiggle * np.sin(t / 37.0))}
            out.append(result("signgd_decoupled", {"lr": 1e-2, "weight_decay": 5e-2},
                              {"model": "ufm", "seed": seed, "steps": steps, "num_classes": K}, steps, steps // 50,
                              curves))
    return out


def test_sign_scaling_supported():
    claim = sign_scaling.analyse(_sign_runs(K_values=(4, 5)))
    assert claim.verdict == "supported", [(f.name, f.verdict, f.evidence) for f in claim.findings]
    assert abs(claim.derived["coupled_scans"][0]["slope"] - 1.0) < 1e-9


def test_sign_scaling_negative_controls_are_contradicted():
    swapped = sign_scaling.analyse(_sign_runs(coupled_law=lambda lr: 0.05, decoupled_law=lambda lr, wd: 3e4 * lr))
    assert swapped.finding("coupled_linear_in_lr").verdict == "contradicted"
    assert swapped.finding("decoupled_independent_of_lr").verdict == "contradicted"
    below = sign_scaling.analyse(_sign_runs(decoupled_law=lambda lr, wd: 1.0 / wd))  # under sqrt(16)/wd
    assert below.finding("parity_bound").verdict == "contradicted"
    assert below.finding("decoupled_order_one_over_lambda").verdict == "contradicted"
    square = sign_scaling.analyse(_sign_runs(decoupled_law=lambda lr, wd: 0.85 / wd ** 2))  # 1/lambda^2, not 1/lambda
    assert square.finding("decoupled_order_one_over_lambda").verdict == "contradicted"
    assert "band [4, 20]" in square.finding("decoupled_order_one_over_lambda").evidence


def test_sign_scaling_too_short_is_inconclusive():
    claim = sign_scaling.analyse(_sign_runs(decay=1.0))  # one decay time constant, not five
    assert claim.verdict == "inconclusive"
    assert "decay time constants lr x wd x steps from 1" in claim.regime


def test_sign_scaling_changing_sign_pattern_is_left_out():
    claim = sign_scaling.analyse(_sign_runs(K_values=(5, 7), wiggle=0.3))  # NC0 still moving by +-30%
    lam = claim.finding("decoupled_order_one_over_lambda")
    assert lam.verdict == "inconclusive" and "sign pattern still changing" in lam.evidence
    assert "left out" in claim.finding("parity_bound").evidence


# ---------------------------------------------------------------------- necessity
def _necessity_runs(rogue=False):
    out = []
    for seed, (rel, nc) in enumerate([(0.01, 0.01), (0.02, 0.03), (0.4, 0.5), (0.3, 0.05 if rogue else 0.6)]):
        curves = {k: (lambda t, v=v: v * np.ones_like(t))
                  for k, v in {"nc0_rel": rel, "nc1": nc, "nc2_norm": nc, "nc2_angle": nc, "nc3": nc}.items()}
        out.append(result("adamw", {"lr": 1e-3, "weight_decay": 5e-2}, {"model": "ufm", "seed": seed,
                                                                       "steps": 3000}, 3000, 100, curves))
    return out


def test_necessity_supported_and_negative_control():
    assert necessity.analyse(_necessity_runs()).verdict == "supported"
    rogue = necessity.analyse(_necessity_runs(rogue=True))  # collapsed (0.05) with NC0_rel = 0.3
    assert rogue.verdict == "contradicted"
    assert "1 of them have NC0_rel > 0.1" in rogue.finding("joint").evidence


def test_necessity_without_collapse_is_inconclusive():
    runs = [r for r in _necessity_runs() if r.final()["nc1"] > 0.1]
    assert necessity.analyse(runs).finding("joint").verdict == "inconclusive"


# ---------------------------------------------------------------------- command line and report
def test_cli_bad_claim_names_exit_2(capsys):
    from nctheory.reproduce.cli import main

    assert main(["--quick", "--claims", "momentum", "bogus", "nope"]) == 2
    err = capsys.readouterr().err
    assert "'bogus'" in err and "'nope'" in err and "coupling" in err


def test_report_states_each_verdict(tmp_path):
    from nctheory.reproduce.report import latex, markdown

    claims = [sign_scaling.analyse(_sign_runs()), necessity.analyse(_necessity_runs(rogue=True))]
    context = {"variant": "test", "command": "pytest", "facts": {"machine": "x"}}
    text = markdown(claims, context, tmp_path)
    assert "## 1. sign_scaling: **supported**" in text and "## 2. necessity: **contradicted**" in text
    tex = latex(claims, context)
    assert r"\subsection{necessity: contradicted}" in tex and "_" not in tex.replace(r"\_", "")


def test_unknown_finding_and_verdict_raise():
    from nctheory.errors import NCTheoryError

    with pytest.raises(NCTheoryError, match="verdict must be one of"):
        Finding("a", "verified", "s", "e")
    with pytest.raises(NCTheoryError, match="has no finding 'z'"):
        ClaimResult("x", "t").finding("z")
