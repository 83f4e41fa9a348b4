"""Two parameter groups, as in fine-tuning: the body at a small lr without weight decay, the
head at a larger lr with weight decay; an unused projection layer is declared after the head.

The tracker follows the forward pass to the head (never the unused ``proj``) and reads the
theory from the head's own group. Expected verdict: **verified**.
"""

import torch
import torch.nn.functional as F
from torch import nn

import nctheory
from _data import batches, digits_loader


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 96), nn.Tanh(), nn.Linear(96, 48), nn.Tanh())
        self.head = nn.Linear(48, num_classes)
        self.proj = nn.Linear(48, num_classes)  # declared last, never used in forward

    def forward(self, x):
        return self.head(self.body(x))


def main(steps=300, seed=0, quiet=False):
    torch.manual_seed(seed)
    model = Net()
    optimizer = torch.optim.SGD([
        {"params": model.body.parameters(), "lr": 0.01, "weight_decay": 0.0},
        {"params": list(model.head.parameters()) + list(model.proj.parameters()), "lr": 0.1, "weight_decay": 1e-3},
    ], lr=0.05, momentum=0.9)
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
