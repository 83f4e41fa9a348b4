"""Where the batched UFM step's time goes: the parts of one step of a batch, per run and step.

Used by numerics/bench_sweep.py (its ``ufm_parts`` entry); run alone for a quick look::

    python numerics/bench_sweep_parts.py

For each optimizer group of the 200-run UFM sweep (100 runs each, K = 10, d = 16,
n = 10 per class, float64, one thread), on torch and numpy, the process CPU time of

* ``loss_and_grads``: logits, loss and gradients of all runs (torch: autograd);
* ``chain.step``: the spec's chain on the stacked arrays, with the in-place forms of
  nctheory.sweep.batched.inplace (state reused, as the batched loop does after its first step)
  and without them (``BatchedChain.in_place = False``: every operation a fresh array);
* ``row_sums``: the per-step record;
* ``metrics``: the NC metrics, loss and accuracy of all runs at once, as the batched loop
  computes them (``stacked_metrics``, nctheory.sweep.batched.metrics), spread over the steps as
  in the sweep (two evaluations per run in 200 steps); ``metrics_one_at_a_time``: one run's, by
  the functions the loop of separate runs calls (the engine's path before the stacked metrics);
* ``matmuls``: the three batched matrix products a step needs (logits, grad_W, grad_H) alone,
  a lower bound for any implementation of the step on this CPU.

Each figure is the best of several repeats (the machine is shared; the best is the least
disturbed), in microseconds per run and step.
"""

from __future__ import annotations

import time

import numpy as np
import torch


def _best(fn, calls=20, repeats=5) -> float:
    """Best-of-``repeats`` CPU seconds per call of ``fn``."""
    fn()
    out = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            fn()
        out.append((time.process_time() - start) / calls)
    return min(out)


def group_parts(runs, backend: str, metric_evaluations=2) -> dict:
    """Microseconds per run and step of the parts of one batched step of ``runs`` (one group)."""
    from nctheory.sweep.batched.chain import BatchedChain
    from nctheory.sweep.batched.engine import Prepared, build_model
    from nctheory.sweep.batched.stacking import StackedHyperparameters

    group = [Prepared(r) for r in runs]
    model, _, _ = build_model(group)
    hp = StackedHyperparameters([p.spec.float_hp() for p in group], np.stack([p.rates for p in group]), model.make)
    chain = BatchedChain(group[0].spec, None if backend == "torch" else model.xp)
    hp.at_step(0)
    params = model.params
    state = chain.init_state(params, len(group))
    _, grads = model.loss_and_grads(params, None)
    params, state = chain.step(params, grads, state, hp)
    box = {"params": params, "state": state}

    def step(in_place):
        def go():
            BatchedChain.in_place = in_place
            try:
                box["params"], box["state"] = chain.step(box["params"], grads, box["state"], hp, reuse_state=True)
            finally:
                BatchedChain.in_place = True
        return go

    R, steps = len(group), group[0].config.steps
    W, H = params["W"], params["H"]
    if backend == "torch":
        Zt = W @ H.mT
        products = lambda: (W @ H.mT, Zt @ H, Zt.mT @ W)
    else:
        Zt = W @ H.swapaxes(-1, -2)
        products = lambda: (W @ H.swapaxes(-1, -2), Zt @ H, Zt.swapaxes(-1, -2) @ W)
    per = 1e6 / R
    out = {"runs": R,
           "loss_and_grads": _best(lambda: model.loss_and_grads(box["params"], None)) * per,
           "chain_step_in_place": _best(step(True)) * per,
           "chain_step_functional": _best(step(False)) * per,
           "row_sums": _best(lambda: model.row_sums(box["params"])) * per,
           "metrics": _best(lambda: model.stacked_metrics(box["params"])) * per * metric_evaluations / steps,
           "metrics_one_at_a_time": _best(lambda: model.metrics(box["params"], 0), calls=5) * 1e6
           * metric_evaluations / steps,
           "matmuls": _best(products) * per}
    out["step_total_in_place"] = out["loss_and_grads"] + out["chain_step_in_place"] + out["row_sums"] + out["metrics"]
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in out.items()}


def ufm_parts(make_runs) -> dict:
    """``{backend: {optimizer: parts}}`` for the sweep ``make_runs(backend)``."""
    out = {}
    for backend in ("torch", "numpy"):
        runs = make_runs(backend)
        out[backend] = {name: group_parts([r for r in runs if r.optimizer == name], backend)
                        for name in dict.fromkeys(r.optimizer for r in runs)}
    return out


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_sweep import ufm_runs

    torch.set_num_threads(1)
    print(json.dumps(ufm_parts(lambda backend: ufm_runs(backend, "cpu", "float64", 200)), indent=2))
