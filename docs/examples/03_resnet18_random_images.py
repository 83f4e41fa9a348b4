"""torchvision's ResNet-18 with ``num_classes=10`` on small random images: batch norm,
residual blocks, SGD + momentum + weight decay, float32.

The classifier is ``fc`` (10 x 512); batch norm, the convolutions and their decay do not enter
the row sums of ``fc`` (Lemma 1 needs only that the logits are ``fc(features)`` and the loss is
cross-entropy). Expected verdict: **verified**.
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import nctheory
from _data import batches, random_images


def main(steps=60, seed=0, image_size=16, quiet=False):
    from torchvision.models import resnet18

    torch.manual_seed(seed)
    model = resnet18(num_classes=10)
    X, y = random_images(n=256, shape=(3, image_size, image_size), seed=seed)
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    tracker = nctheory.track(model, optimizer)
    data = batches(loader)
    model.train()
    for _ in range(steps):
        x, target = next(data)
        loss = F.cross_entropy(model(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if not quiet:
        print(tracker.report())
    return tracker


if __name__ == "__main__":
    main()
