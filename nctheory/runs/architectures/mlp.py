"""The multilayer perceptron of THEORY.md: ``depth`` hidden ReLU layers, then ``fc``."""

from __future__ import annotations

from torch import nn

from nctheory.errors import NCTheoryError
from nctheory.runs.architectures.shapes import check_sizes


class MLP(nn.Module):
    """``x -> [Linear(width), ReLU] x depth -> fc = Linear(num_classes)``.

    Inputs of any shape (N, ...) are flattened to (N, in_features) first.
    """

    def __init__(self, in_features: int, num_classes: int, width: int = 64, depth: int = 3,
                 dtype=None, device=None):
        super().__init__()
        check_sizes(in_features=(in_features, 1), num_classes=(num_classes, 2), width=(width, 1), depth=(depth, 1))
        layers, previous = [], in_features
        for _ in range(depth):
            layers += [nn.Linear(previous, width, dtype=dtype, device=device), nn.ReLU()]
            previous = width
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(width, num_classes, dtype=dtype, device=device)
        self.in_features = in_features

    def forward(self, x):
        x = x.flatten(1)
        if x.shape[1] != self.in_features:
            raise NCTheoryError(f"MLP was built for inputs of {self.in_features} features, got shape {tuple(x.shape)}")
        return self.fc(self.features(x))
