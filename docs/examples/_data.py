"""Small local data for the gallery: the 8x8 digits that scikit-learn ships, and random images.

Nothing is downloaded. ``digits_loader`` returns a shuffling ``DataLoader`` of standardised
digits (1,797 images, 10 classes); ``random_images`` tensors of a given shape with random labels.
"""

import torch
from torch.utils.data import DataLoader, TensorDataset


def digits(dtype=torch.float32, images=False):
    from sklearn.datasets import load_digits

    data = load_digits()
    X = torch.tensor(data.data, dtype=dtype)
    X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    if images:
        X = X.reshape(-1, 1, 8, 8)
    return X, torch.tensor(data.target, dtype=torch.long)


def digits_loader(batch_size=64, seed=0, dtype=torch.float32, images=False):
    X, y = digits(dtype, images)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True, drop_last=True, generator=generator)


def random_images(n=256, shape=(3, 16, 16), num_classes=10, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=generator), torch.randint(0, num_classes, (n,), generator=generator)


def batches(loader):
    """The loader's minibatches forever (a new shuffle every epoch)."""
    while True:
        yield from loader
