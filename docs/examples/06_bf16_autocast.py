"""bfloat16 autocast with float32 weights (the usual mixed-precision set-up, on CPU here).

The forward pass runs in bfloat16, so the classifier's gradient is computed from bfloat16
logits and features: its row sums are no longer 0 but ~1e-3 of sqrt(K) ||G|| (bfloat16 keeps 8
bits). The rounding model carries that through the recurrence; it exceeds the float32
tolerance 1e-4 x NC0 after a step or two, so no window long enough to tell theories apart
resolves the tolerance. Expected verdict: **inconclusive** (the trajectory stays within the
bfloat16 rounding floor; a wrong momentum still leaves that floor and is refuted).
"""

import torch
import torch.nn.functional as F
from torch import nn

import nctheory
from _data import batches, digits_loader


def main(steps=300, seed=0, quiet=False):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-3)
    tracker = nctheory.track(model, optimizer)
    data = batches(digits_loader(batch_size=64, seed=seed))
    for _ in range(steps):
        x, y = next(data)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if not quiet:
        print(tracker.report())
    return tracker


if __name__ == "__main__":
    main()
