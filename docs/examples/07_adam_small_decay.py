"""Adam with a small weight decay (5e-4) at lr 1e-3 on minibatches: the set-up of a typical
fine-tuning run, a few thousand steps.

Theory (Theorem 2): coupled decay pulls NC0 to 0 *once the decay has acted*; here the decay
exposure sum(lr x weight_decay) is ~1e-3 after 2,000 steps, a hundredth of what the theory
needs. A run outside the regime cannot refute the theory: the report gives the measured
regime and about how many more steps reach it. Expected verdict: **inconclusive**.
"""

import torch
import torch.nn.functional as F
from torch import nn

import nctheory
from _data import batches, digits_loader


def main(steps=2000, seed=0, quiet=False):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-4)
    tracker = nctheory.track(model, optimizer)
    data = batches(digits_loader(batch_size=32, seed=seed))
    for _ in range(steps):
        x, y = next(data)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if not quiet:
        print(tracker.report())
    return tracker


if __name__ == "__main__":
    main()
