"""A small CNN whose classifier is a 1x1 convolution followed by global average pooling,
trained with Nesterov momentum, a linear warm-up from lr = 0 and cosine annealing to 0.

The 1x1 convolution's ``(10, 32, 1, 1)`` weight is the classifier (logits = mean over the
positions of ``W h_p`` = ``W`` times the pooled features); the tracker finds it by following
the forward pass. The schedule passes through lr = 0 twice (first and last step): a step that
moves nothing, still an exact transition of the recurrence.
Expected verdict: **verified**.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

import nctheory
from _data import batches, digits_loader


class ConvNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(32, num_classes, kernel_size=1)

    def forward(self, x):
        return self.head(self.body(x)).mean(dim=(2, 3))


def main(steps=400, seed=0, quiet=False):
    torch.manual_seed(seed)
    model = ConvNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    warm = max(1, steps // 10)

    def factor(t):  # linear warm-up from 0, then cosine to exactly 0 at the last step
        if t < warm:
            return t / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (t - warm) / max(1, steps - 1 - warm))))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    tracker = nctheory.track(model, optimizer)
    data = batches(digits_loader(batch_size=32, seed=seed, images=True))
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
