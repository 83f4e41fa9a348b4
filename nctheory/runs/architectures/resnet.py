"""Residual networks: a small ResNet for small images and sequences, and torchvision's ResNet-18.

* :class:`SmallResNet` -- the CIFAR ResNet of He, Zhang, Ren & Sun ("Deep residual learning
  for image recognition", CVPR 2016, section 4.2): a 3x3 stem with ``width`` channels, three
  stages of ``blocks`` basic blocks with ``width``, ``2 width``, ``4 width`` channels (the
  second and third start with stride 2), global average pooling and ``fc``; ``6 blocks + 2``
  weighted layers (ResNet-8 by default, ResNet-20 with ``blocks=3``). Basic block:
  ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``, the shortcut a 1x1 convolution with
  batch norm where the shape changes (the paper's option B). ``Conv1d`` for sequences.
* :func:`torchvision_resnet18` -- ``torchvision.models.resnet18(num_classes=K)`` (He et al.
  2016, ImageNet design), with the stem adapted to the input: the number of input channels,
  and for images smaller than 64x64 a 3x3 stride-1 first convolution and no max pooling
  (the usual CIFAR adaptation, which keeps 32x32 inputs at 4x4 before the last stage rather
  than 1x1). A sequence (C, L) is read as a C x 1 x L image.
"""

from __future__ import annotations

from torch import nn

from nctheory.errors import NCTheoryError
from nctheory.runs.architectures.shapes import (
    ViewAs,
    as_input,
    check_input_shape,
    check_sizes,
    conv_view,
    layers,
)
from nctheory.runs.architectures.torchvision_import import import_torchvision

SMALL_IMAGE_SIDE = 64


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (identity, or 1x1 conv + BN)."""

    def __init__(self, kind: dict, in_channels: int, out_channels: int, stride: int, kw: dict):
        super().__init__()
        self.conv1 = kind["conv"](in_channels, out_channels, 3, stride=stride, padding=1, bias=False, **kw)
        self.bn1 = kind["bn"](out_channels, **kw)
        self.conv2 = kind["conv"](out_channels, out_channels, 3, padding=1, bias=False, **kw)
        self.bn2 = kind["bn"](out_channels, **kw)
        self.relu = nn.ReLU()
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(kind["conv"](in_channels, out_channels, 1, stride=stride, bias=False, **kw),
                                          kind["bn"](out_channels, **kw))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """The CIFAR ResNet-(6 blocks + 2) for images (C, H, W) or sequences (C, L)."""

    def __init__(self, input_shape, num_classes: int = 10, width: int = 16, blocks: int = 1,
                 dtype=None, device=None):
        super().__init__()
        check_sizes(num_classes=(num_classes, 2), width=(width, 1), blocks=(blocks, 1))
        self.view = conv_view(input_shape)
        kind, kw = layers(self.view), {"dtype": dtype, "device": device}
        self.stem = nn.Sequential(kind["conv"](self.view[0], width, 3, padding=1, bias=False, **kw),
                                  kind["bn"](width, **kw), nn.ReLU())
        stages, previous = [], width
        for i, channels in enumerate((width, 2 * width, 4 * width)):
            stage = []
            for b in range(blocks):
                stage.append(BasicBlock(kind, previous, channels, 2 if (i > 0 and b == 0) else 1, kw))
                previous = channels
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = kind["avgpool"](1)
        self.fc = nn.Linear(previous, num_classes, **kw)
        for m in self.modules():  # torchvision's initialisation of ResNets
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = as_input(x, self.view, type(self).__name__)
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))


def import_torchvision_resnet18():
    """``torchvision.models.resnet18``, imported by :func:`.torchvision_import.import_torchvision`
    (its pure-Python package where the compiled operators do not load against this torch)."""
    if not import_torchvision():
        raise NCTheoryError("model='resnet18' needs torchvision (pip install torchvision)")
    from torchvision.models import resnet18

    return resnet18


def torchvision_resnet18(input_shape, num_classes: int = 10, dtype=None):
    """``torchvision.models.resnet18(num_classes=num_classes)`` with its stem fitted to the input.

    The model stays torchvision's ``ResNet`` (module names ``conv1``, ``layer1`` .. ``layer4``,
    ``fc``); a forward pre-hook (:class:`~.shapes.ViewAs`) reshapes flat inputs. A replaced
    ``conv1`` gets torchvision's initialisation (Kaiming normal, fan_out).
    """
    check_sizes(num_classes=(num_classes, 2))
    shape = check_input_shape(input_shape)
    view = conv_view(shape)
    if len(view) == 2:  # a sequence (C, L) is a C x 1 x L image
        view = (view[0], 1, view[1])
    channels, small = view[0], min(view[1:]) < SMALL_IMAGE_SIDE
    model = import_torchvision_resnet18()(num_classes=num_classes)
    if small:
        model.conv1 = nn.Conv2d(channels, 64, 3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif channels != 3:
        model.conv1 = nn.Conv2d(channels, 64, 7, stride=2, padding=3, bias=False)
    if small or channels != 3:
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.register_forward_pre_hook(ViewAs(view, "resnet18", also=(shape, conv_view(shape))))
    return model if dtype is None else model.to(dtype)
