"""A small convolutional network for images and sequences of any size.

``conv3(16) - ReLU - conv3(32) - ReLU - maxpool2 - adaptive average pool - Linear(width) -
ReLU - fc``, with ``Conv2d`` for images (C, H, W) and ``Conv1d`` for sequences (C, L) (see
:mod:`.shapes`). The max pooling halves every side of at least 2; the adaptive average pool
then brings each side to at most 4 (images) or 16 (sequences), so the hidden layer has at
most 32 * 16 = 512 inputs whatever the input size. On the 8x8 digits the adaptive pool is
the identity (4x4 after the max pooling) and the network is exactly the digits CNN this
package always had (:class:`DigitsCNN`, same modules, same initialisation under a seed).
"""

from __future__ import annotations

from torch import nn

from nctheory.runs.architectures.shapes import as_input, check_sizes, conv_view, layers

_POOLED_SIDE = {1: 16, 2: 4}


class SmallCNN(nn.Module):
    """Two 3x3 (or 3-tap) convolutions, pooling, a hidden layer of ``width`` and ``fc``."""

    def __init__(self, input_shape, num_classes: int = 10, width: int = 64, dtype=None, device=None):
        super().__init__()
        check_sizes(num_classes=(num_classes, 2), width=(width, 1))
        self.view = conv_view(input_shape)
        kind, kw = layers(self.view), {"dtype": dtype, "device": device}
        channels, sides = self.view[0], self.view[1:]
        halve = all(s >= 2 for s in sides)
        pooled = tuple(s // 2 if halve else s for s in sides)
        target = tuple(min(s, _POOLED_SIDE[len(sides)]) for s in pooled)
        self.conv = nn.Sequential(
            kind["conv"](channels, 16, 3, padding=1, **kw), nn.ReLU(),
            kind["conv"](16, 32, 3, padding=1, **kw), nn.ReLU(),
            kind["maxpool"](2) if halve else nn.Identity(),
            kind["avgpool"](target if len(target) > 1 else target[0]))
        size = 32
        for s in target:
            size *= s
        self.hidden = nn.Sequential(nn.Linear(size, width, **kw), nn.ReLU())
        self.fc = nn.Linear(width, num_classes, **kw)

    def forward(self, x):
        x = as_input(x, self.view, type(self).__name__)
        return self.fc(self.hidden(self.conv(x).flatten(1)))


class DigitsCNN(SmallCNN):
    """:class:`SmallCNN` for the 8x8 single-channel digits (inputs (N, 64) or (N, 1, 8, 8))."""

    def __init__(self, num_classes: int = 10, width: int = 64, dtype=None, device=None):
        super().__init__((1, 8, 8), num_classes, width=width, dtype=dtype, device=device)
