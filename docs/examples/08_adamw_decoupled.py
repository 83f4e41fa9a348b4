"""AdamW (decoupled weight decay 0.1) at lr 1e-2 with a full-batch loop on the digits.

Theory (THEORY.md section 4): with decoupled decay in an elementwise-adaptive optimizer NC0
does not vanish -- NC0_rel stays of order one. The run reaches the regime (lr x steps >= 2,
decay exposure >= 0.1) within a few hundred steps. Expected verdict: **verified**; judged
against Adam's coupled theory (which predicts NC0_rel falling below a tenth) it is refuted
once that theory's regime is reached.
"""

import torch
import torch.nn.functional as F
from torch import nn

import nctheory
from _data import digits


def main(steps=300, seed=0, record_every=10, quiet=False):
    torch.manual_seed(seed)
    X, y = digits()
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    tracker = nctheory.track(model, optimizer)
    for step in range(steps):
        loss = F.cross_entropy(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % record_every == 0:
            tracker.record(inputs=X, labels=y)
    if not quiet:
        print(tracker.report())
    return tracker


if __name__ == "__main__":
    main()
