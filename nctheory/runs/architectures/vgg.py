"""A small VGG-style network (Simonyan & Zisserman, "Very deep convolutional networks for
large-scale image recognition", ICLR 2015), with batch norm (the ``vgg*_bn`` variants).

Features: ``[conv3(w), M, conv3(2w), M, conv3(4w), conv3(4w), M]`` where every conv3 is
``Conv - BatchNorm - ReLU`` and ``M`` a 2x max pooling (skipped once a side is below 2);
then global average pooling and the classifier ``Linear(4w, 4w) - ReLU - fc`` (VGG's
classifier with one hidden layer instead of two of 4,096 units, and no dropout, so that the
features of the training and evaluation modes differ only through batch norm). ``Conv1d``
for sequences (see :mod:`.shapes`).
"""

from __future__ import annotations

from torch import nn

from nctheory.runs.architectures.shapes import as_input, check_sizes, conv_view, layers

#: channel multipliers of the width w; "M" is a max pooling
CONFIG = (1, "M", 2, "M", 4, 4, "M")


class SmallVGG(nn.Module):
    """VGG-style convolutions with batch norm, global average pooling, one hidden layer, ``fc``."""

    def __init__(self, input_shape, num_classes: int = 10, width: int = 16, dtype=None, device=None):
        super().__init__()
        check_sizes(num_classes=(num_classes, 2), width=(width, 1))
        self.view = conv_view(input_shape)
        kind, kw = layers(self.view), {"dtype": dtype, "device": device}
        features, channels, sides = [], self.view[0], list(self.view[1:])
        for item in CONFIG:
            if item == "M":
                if all(s >= 2 for s in sides):
                    features.append(kind["maxpool"](2))
                    sides = [s // 2 for s in sides]
                continue
            features += [kind["conv"](channels, item * width, 3, padding=1, **kw), kind["bn"](item * width, **kw),
                         nn.ReLU()]
            channels = item * width
        self.features = nn.Sequential(*features)
        self.pool = kind["avgpool"](1)
        self.hidden = nn.Sequential(nn.Linear(channels, channels, **kw), nn.ReLU())
        self.fc = nn.Linear(channels, num_classes, **kw)

    def forward(self, x):
        x = as_input(x, self.view, type(self).__name__)
        return self.fc(self.hidden(self.pool(self.features(x)).flatten(1)))
