"""An MLP on the digits with SGD + momentum + weight decay and a StepLR schedule, in float32.

The most common set-up: minibatches from a DataLoader, float32 weights, a step schedule.
Theory: the row sums of the classifier follow the exact heavy-ball recurrence (Lemma 1), so
the whole trajectory is predicted; float32 rounding is covered by the rounding model.
Expected verdict: **verified**.
"""

import torch
import torch.nn.functional as F
from torch import nn

import nctheory
from _data import batches, digits_loader


def main(steps=600, seed=0, quiet=False):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, steps // 3), gamma=0.3)
    tracker = nctheory.track(model, optimizer)
    data = batches(digits_loader(batch_size=64, seed=seed))
    for _ in range(steps):
        x, y = next(data)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    if not quiet:
        print(tracker.report())
    return tracker


if __name__ == "__main__":
    main()
