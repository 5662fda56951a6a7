"""The clump detector: torchvision Faster R-CNN (Ren et al. 2015) on a galaxy-trained encoder.

Following Popp et al. 2024 (RASTI 3, 174), the backbone can start from a network
trained on galaxy morphology (our classifier's encoder) instead of from scratch.
Clumps are a few pixels wide, so the detector never resizes its input the way
torchvision's default does (shortest side to 800 px): it works on a stride-4
feature map with small square anchors set from the clump-size distribution
(:mod:`ml.detector.anchors`).  With ``native=True`` it trains on tiles cut at
file resolution (:mod:`ml.detector.tiles`) and detects on whole images of any size.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign

from ml.registry import build_encoder

BACKBONES = ("classifier", "scratch")


@dataclass
class DetectorConfig:
    """Settings of :func:`ml.detector.train_detector` (stored in the checkpoint)."""

    backbone: str = "classifier"  # "classifier": a classifier checkpoint's encoder; "scratch": cfg.encoder as built
    # (for "efficientnet_lite0" that means its ImageNet weights, the terrestrial peer of Popp et al. 2024)
    encoder: str = "small_cnn"  # a key of ml.registry.MODELS (taken from the classifier when backbone="classifier")
    image_size: int = 64  # network input side; with native=True, the side of the training tiles
    native: bool = False  # True: train on tiles at file resolution and detect on whole images, unresized
    scale_range: tuple[float, float] = (1.0, 1.0)  # native tiles: random rescaling (tile px per file px)
    steps: int = 400  # optimizer steps (see ml.engine); ~3,200 image draws at batch 8
    warmup_steps: int = 10  # linear warmup, then cosine decay to lr_floor * lr
    lr_floor: float = 0.1
    checkpoint_every: int = 100  # steps between checkpoint.pt writes (and validations)
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    anchor_sizes: tuple[int, ...] = (4, 6, 9, 14)  # pixels at image_size; see ml.detector.anchors.anchor_sizes_from
    val_fraction: float = 0.2
    num_workers: int = 0
    seed: int = 0
    out_dir: str = "models/detector"
    resume: bool = False

    def check(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if self.backbone not in BACKBONES:
            raise ValueError(f"DetectorConfig.backbone must be one of {BACKBONES}, got {self.backbone!r}")
        for name in ("image_size", "steps", "checkpoint_every", "batch_size", "lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"DetectorConfig.{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"DetectorConfig.val_fraction must lie in [0, 1), got {self.val_fraction}")
        if not 0 < self.scale_range[0] <= self.scale_range[1] or not self.anchor_sizes:
            raise ValueError("DetectorConfig needs 0 < scale_range[0] <= scale_range[1] and some anchor_sizes")
        if not 0.0 <= self.lr_floor < 1.0 or self.warmup_steps < 0:
            raise ValueError("DetectorConfig needs 0 <= lr_floor < 1 and warmup_steps >= 0")


class _EncoderBackbone(nn.Module):
    """Adapts an :mod:`ml.encoders` encoder to torchvision's backbone protocol."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.out_channels = encoder.feature_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(x)


class _UnresizedTransform(GeneralizedRCNNTransform):
    """torchvision's batching and padding without its resize: boxes stay in the input's pixels."""

    def resize(self, image, target=None):
        return image, target


def build_detector(cfg: DetectorConfig) -> FasterRCNN:
    """A two-class (background, clump) Faster R-CNN with a fresh ``cfg.encoder`` backbone."""
    anchors = AnchorGenerator(sizes=(tuple(int(a) for a in cfg.anchor_sizes),), aspect_ratios=((1.0,),))
    backbone = _EncoderBackbone(build_encoder(cfg.encoder))
    # A clump covers one or two cells of the stride-4 map, so 4x4 RoI bins with one
    # sample each lose nothing, and cut RoIAlign's backward (the CPU bottleneck with
    # torchvision's 7x7, ratio-2 default) about twelvefold; a 256-wide MLP suffices for one class.
    box_head = TwoMLPHead(backbone.out_channels * 4 * 4, 256)
    # A whole 424-px survey image holds up to ~30 clumps and more knots and stars than a 64-px one.
    many = 4 if cfg.native else 1
    model = FasterRCNN(
        backbone, box_head=box_head, box_predictor=FastRCNNPredictor(256, 2),
        # Inputs are already image_size and in [0, 1] like the classifier's: no resize, no re-normalisation.
        min_size=cfg.image_size, max_size=cfg.image_size, image_mean=[0.0, 0.0, 0.0], image_std=[1.0, 1.0, 1.0],
        rpn_anchor_generator=anchors, box_roi_pool=MultiScaleRoIAlign(["0"], output_size=4, sampling_ratio=1),
        # A 64-px image holds at most ~20 clumps: far fewer proposals than the defaults suffice.
        rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=200, rpn_pre_nms_top_n_test=300 * many,
        rpn_post_nms_top_n_test=100 * many, rpn_fg_iou_thresh=0.5, box_batch_size_per_image=64,
        # Clumps are PSF-sized and often close together; NMS at IoU 0.2 as in Popp et al.
        box_nms_thresh=0.2, box_score_thresh=0.05, box_detections_per_img=30 * many,
    )
    model.transform = _UnresizedTransform(cfg.image_size, cfg.image_size, [0.0] * 3, [1.0] * 3)
    return model


def backbone_encoder(model: FasterRCNN) -> nn.Module:
    """The encoder inside a detector built by :func:`build_detector`."""
    return model.backbone.encoder
