"""Image encoders: a pooled vector for the classifier and a feature map for the detector.

Every encoder takes images ``(N, 3, H, W)`` with values in [0, 1] and exposes

* ``forward(x) -> (N, out_dim)``: global-average-pooled features;
* ``features(x) -> (N, feature_channels, H/s, W/s)``: a spatial map for the
  detector's region proposals (stride ``feature_stride``).

The detector reuses ``features`` with the classifier's trained weights: this is
the galaxy-pretrained backbone of Popp et al. 2024 (RASTI 3, 174) in small form.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Four VGG-style blocks (16-32-64-128 channels), 2x2 max-pool after each.

    About 0.29 M parameters and 53 M multiply-adds per 64 x 64 image: small
    enough to train on two shared CPU cores.
    ``features`` stops before the third pool, so the map has stride 4 (16 x 16
    cells at 64 px): clumps are only a few pixels wide.
    """

    out_dim = 128
    feature_channels = 64
    feature_stride = 4

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([_conv_block(3, 16), _conv_block(16, 32), _conv_block(32, 64),
                                     _conv_block(64, 128)])
        self.pool = nn.MaxPool2d(2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.blocks[0](x))
        x = self.pool(self.blocks[1](x))
        return self.blocks[2](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks[3](self.pool(self.features(x)))
        return x.mean(dim=(2, 3))


class ResNet18Encoder(nn.Module):
    """torchvision ResNet-18 (He et al. 2016) from scratch (``weights=None``: no downloads).

    ``features`` ends after ``layer2`` (stride 8, 128 channels).
    """

    out_dim = 512
    feature_channels = 128
    feature_stride = 8

    def __init__(self) -> None:
        super().__init__()
        net = resnet18(weights=None)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer2(self.layer1(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer4(self.layer3(self.features(x))).mean(dim=(2, 3))
