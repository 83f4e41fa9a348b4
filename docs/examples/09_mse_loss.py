"""SGD with momentum on the squared error of one-hot targets (MSE), float64.

Lemma 1 fails for MSE: the loss is not invariant under ``z -> z + c 1``, so the gradient's row
sums do not vanish and the exact recurrence does not describe the run. Passing ``loss="mse"``
lets the verdict say so. Expected verdict: **refuted** (with Lemma 1's failure as the reason).
"""

import torch
import torch.nn.functional as F
from torch import nn

import nctheory
from _data import batches, digits_loader


def main(steps=200, seed=0, quiet=False):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-3)
    tracker = nctheory.track(model, optimizer, loss="mse")
    data = batches(digits_loader(batch_size=32, seed=seed, dtype=torch.float64))
    for _ in range(steps):
        x, y = next(data)
        loss = F.mse_loss(model(x), F.one_hot(y, 10).double())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if not quiet:
        print(tracker.report())
    return tracker


if __name__ == "__main__":
    main()
