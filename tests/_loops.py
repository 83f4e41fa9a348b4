"""Small seeded torch training loops shared by the verdict / tracker / property tests.

A 2-hidden-layer ReLU MLP on Gaussian inputs, minibatches, cross-entropy (optionally
label smoothing) or MSE, a real ``torch.optim`` optimizer and optionally a scheduler. The
loop is the user's kind of loop: nothing in it knows about nctheory except the tracker.
"""

from __future__ import annotations

import torch

from nctheory.pytorch.tracker import track


def make_problem(seed=0, num_classes=5, in_dim=10, hidden=24, feat=16, n=96, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, in_dim, generator=g, dtype=dtype)
    y = torch.randint(0, num_classes, (n,), generator=g)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(in_dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, feat),
                                torch.nn.ReLU(), torch.nn.Linear(feat, num_classes)).to(dtype)
    return model, X, y, g


def train(model, X, y, g, optimizer, steps, scheduler=None, loss="cross_entropy", batch=24, label_smoothing=0.0,
          tracker=None, record_every=0):
    n = X.shape[0]
    K = int(y.max()) + 1
    for step in range(steps):
        idx = torch.randint(0, n, (batch,), generator=g)
        out = model(X[idx])
        if loss == "mse":
            value = ((out - torch.nn.functional.one_hot(y[idx], K).to(out.dtype)) ** 2).sum(1).mean()
        else:
            value = torch.nn.functional.cross_entropy(out, y[idx], label_smoothing=label_smoothing)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if tracker is not None and record_every and (step + 1) % record_every == 0:
            tracker.record(inputs=X, labels=y)


class one_thread:
    """torch on one thread for these tiny models: on a loaded 2-core machine the default
    two threads spin-wait on each other and run 5-10x slower."""

    def __enter__(self):
        self.saved = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved)


def tracked_run(opt_factory, steps=120, seed=0, scheduler_factory=None, loss="cross_entropy", dtype=torch.float64,
                label_smoothing=0.0, **problem):
    """Train a fresh MLP with ``opt_factory(params)``; return the tracker."""
    model, X, y, g = make_problem(seed=seed, dtype=dtype, **problem)
    opt = opt_factory(model.parameters())
    sched = scheduler_factory(opt) if scheduler_factory else None
    tracker = track(model, opt, loss=loss)
    with one_thread():
        train(model, X, y, g, opt, steps, sched, loss=loss, label_smoothing=label_smoothing)
    return tracker
