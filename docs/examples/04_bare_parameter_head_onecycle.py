"""A classifier written as a bare ``nn.Parameter`` (``logits = h @ W.T + b``) after a hidden
64 x 64 layer, trained with OneCycleLR -- which cycles the momentum too (cycle_momentum=True,
its default) -- and label smoothing.

The tracker follows the forward pass to ``W`` (not the hidden 64 x 64 layer); every step's lr
and momentum enter the prediction ``A_t = A(eta_t, mu_t)``. Expected verdict: **verified**.
"""

import torch
import torch.nn.functional as F
from torch import nn

import nctheory
from _data import batches, digits_loader


class BareHead(nn.Module):
    def __init__(self, num_classes=10, width=64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
        self.W = nn.Parameter(torch.randn(num_classes, width) / width ** 0.5)
        self.b = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x):
        return self.body(x) @ self.W.T + self.b


def main(steps=300, seed=0, quiet=False):
    torch.manual_seed(seed)
    model = BareHead()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.2, total_steps=steps)
    tracker = nctheory.track(model, optimizer, loss="label_smoothing")
    data = batches(digits_loader(batch_size=64, seed=seed))
    for _ in range(steps):
        x, y = next(data)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    if not quiet:
        print(tracker.report())
    return tracker


if __name__ == "__main__":
    main()
