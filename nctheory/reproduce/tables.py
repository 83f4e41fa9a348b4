"""Each claim's numbers as a display table: a header and rows of strings, shared by the
Markdown report and the LaTeX appendix."""

from __future__ import annotations

import math

from nctheory.theory.family import COUPLED


def _g(x, digits=3) -> str:
    if x is None:
        return "-"
    if isinstance(x, (tuple, list)) and len(x) == 2:
        mean, sd = x
        return "-" if not math.isfinite(mean) else f"{mean:.{digits}g} ± {sd:.2g}"
    if isinstance(x, float) and not math.isfinite(x):
        return "-"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def coupling(claim):
    header = ["data", "optimizer", "family", "lr", "wd", "steps", "seeds", "t_TPT", "NC0_rel end/start",
              "NC1 end", "NC3 end", "predicted", "measured", "in regime"]
    rows = []
    for r in claim.table:
        measured = sorted(set(r["measured"]))
        rows.append([r["dataset"] or r["model"], r["optimizer"], r["family"], _g(r["lr"]), _g(r["weight_decay"]),
                     str(r["steps"]), str(r["seeds"]), _g(r["t_tpt"], 4), _g(r["ratio"]), _g(r["nc1_end"]),
                     _g(r["nc3_end"]), r["predicted"], "/".join(measured) + f" ({r['agreement']})",
                     "yes" if r["in_regime"] else "no: " + r["regime"]])
    return header, rows


def momentum(claim):
    header = ["optimizer", "mu", "accelerates (exact)", "rate", "NC0 T predicted", "NC0 T measured",
              "speed-up predicted", "NC0", "NC1", "NC2", "NC3", "loss"]
    rows = []
    for r in claim.table:
        sp = r["speedup"]
        times = sorted({int(t) for t in r["measured_T"] if t is not None})
        rows.append([r["optimizer"], f"{r['momentum']:.4g}", "yes" if r["accelerates"] else "no", f"{r['rate']:.5f}",
                     _g(r["predicted_T"], 5), ", ".join(map(str, times)) or "-", _g(r["predicted_speedup"]),
                     _g(sp["nc0"]), _g(sp["nc1"]), _g(sp["nc2"]), _g(sp["nc3"]), _g(sp["loss_gap"])])
    return header, rows


def sign_scaling(claim):
    header = ["decay", "K", "lr", "wd", "steps", "decay times", "seeds", "NC0 plateau (median)", "NC0_rel",
              "sqrt(d)/wd (odd K)", "settled", "pattern converged"]
    groups = {}
    for f in claim.table:
        groups.setdefault((f["coupling"], f["K"], f["lr"], f["weight_decay"], f["steps"]), []).append(f)
    rows = []
    for (coupling, K, lr, wd, steps), fs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        plateaus = sorted(f["plateau"] for f in fs)
        floor = fs[0]["floor"]
        rows.append([coupling, str(K), f"{lr:g}", f"{wd:g}", str(steps), f"{lr * wd * steps:.3g}", str(len(fs)),
                     f"{plateaus[len(plateaus) // 2]:.4g} [{plateaus[0]:.3g}, {plateaus[-1]:.3g}]",
                     f"{min(f['nc0_rel'] for f in fs):.3g}-{max(f['nc0_rel'] for f in fs):.3g}",
                     "-" if not floor else f"{floor:.4g}", f"{sum(f['settled'] for f in fs)}/{len(fs)}",
                     "-" if coupling == COUPLED else f"{sum(f['converged'] for f in fs)}/{len(fs)}"])
    return header, rows


def necessity(claim):
    header = ["family", "data", "runs", "in TPT", "NC0_rel", "NC1", "NC2", "NC3", "collapsed (NC1-3 <= small)"]
    from nctheory.reproduce.necessity import PARTS, SMALL

    groups = {}
    for p in claim.table:
        groups.setdefault((p["family"], p["model"]), []).append(p)
    rows = []
    for (fam, model), ps in sorted(groups.items()):
        def rng(key):
            vals = [p[key] for p in ps]
            return f"{min(vals):.2g}-{max(vals):.2g}"
        collapsed = sum(all(p[k] <= SMALL for k in PARTS) for p in ps if p["in_regime"])
        rows.append([fam, model, str(len(ps)), str(sum(p["in_regime"] for p in ps)), rng("nc0_rel"), rng("nc1"),
                     rng("nc2"), rng("nc3"), str(collapsed)])
    return header, rows


TABLES = {"coupling": coupling, "momentum": momentum, "sign_scaling": sign_scaling, "necessity": necessity}


def table(claim):
    return TABLES[claim.name](claim)
