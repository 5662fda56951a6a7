"""Training the clump detector on consensus boxes weighted by their probability of being real."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from aggregation.contracts import CORNERS
from ml.checkpoint import new_training_state, resume, save_progress
from ml.classifier.predict import load_classifier
from ml.data import load_images, load_native_images, split_indices, to_float
from ml.detector.augment import random_dihedral_with_boxes
from ml.detector.detect import predict_boxes
from ml.detector.metrics import pick_threshold
from ml.detector.model import DetectorConfig, backbone_encoder, build_detector
from ml.detector.tiles import random_tile
from ml.device import Runtime, runtime
from ml.engine import cycle, train_steps, warmup_cosine


def train_detector(cfg: DetectorConfig, *, images: Sequence[Path], boxes: pd.DataFrame,
                   classifier_checkpoint: Path | None = None, progress: bool = True) -> dict:
    """Train a Faster R-CNN clump detector (Ren et al. 2015; Popp et al. 2024).

    Each time an image is drawn, every consensus box is kept with probability
    ``p_real``, so a box the engine believes in half-heartedly is a positive in
    half the draws and background in the others: in expectation its loss is
    weighted by ``p_real`` (torchvision's detection losses take no per-box weights).
    The budget is ``cfg.steps`` optimizer steps, whatever the number of images.

    Parameters
    ----------
    cfg : DetectorConfig
        Hyperparameters; ``cfg.out_dir`` receives ``checkpoint.pt`` (every ``checkpoint_every``
        steps) and ``best.pt`` (highest validation F1; the last model when ``val_fraction=0``).
    images : sequence of Path
        ``N`` image files; boxes are in each file's own pixels.
    boxes : pandas.DataFrame
        Columns ``task`` (index into ``images``), ``x_min, y_min, x_max, y_max``
        (pixels, top-left origin) and ``p_real`` in [0, 1] (1 when absent).
    classifier_checkpoint : Path, optional
        Required when ``cfg.backbone == "classifier"``: its first member's encoder
        initialises the backbone (and sets ``cfg.encoder`` and ``cfg.image_size``).

    Returns
    -------
    dict
        ``{"checkpoint": Path of best.pt, "metrics": {"train_loss", "val_completeness",
        "val_purity", "val_f1", ...}, "n_train": int, "n_val": int}``; validation
        counts boxes with ``p_real >= 0.5`` as true and scores the detections at
        ``val_threshold``, the score threshold of highest F1 (:func:`ml.detector.metrics.pick_threshold`),
        which :func:`ml.detector.detect` then uses by default; an undefined ratio is None.
    """
    cfg = dataclasses.replace(cfg)
    cfg.check()
    table = check_training_boxes(boxes, len(images))
    model, cfg = _initial_model(cfg, classifier_checkpoint)
    rt = runtime()
    x, per_image = _load(images, table, cfg, progress)
    torch.manual_seed(cfg.seed)
    train_idx, val_idx = split_indices(len(images), cfg.val_fraction, cfg.seed)
    state = _training_state(model, cfg, rt)
    data = {"x": x, "boxes": per_image, "train": train_idx, "val": val_idx}
    _fit(state, data, cfg, rt, progress)
    return {"checkpoint": Path(cfg.out_dir) / "best.pt", "metrics": state["metrics"],
            "n_train": int(train_idx.size), "n_val": int(val_idx.size)}


def check_training_boxes(boxes: pd.DataFrame, n_images: int) -> pd.DataFrame:
    """Check the detector's targets: consensus boxes ``task`` (image index), corners, ``p_real``.

    Unlike the engine's box contract (one row per volunteer's mark, with a
    worker), these are the engine's consensus boxes; returns a float copy with
    ``p_real`` filled (1.0 when absent).
    """
    missing = [c for c in ["task", *CORNERS] if c not in boxes.columns]
    if missing:
        raise ValueError(f"boxes lacks column(s) {missing}")
    table = boxes.copy()
    if "p_real" not in table:
        table["p_real"] = 1.0
    values = table[[*CORNERS, "p_real"]].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ValueError("boxes has non-finite coordinates or p_real")
    if ((table["task"] < 0) | (table["task"] >= n_images)).any():
        raise ValueError(f"boxes.task must index the {n_images} images")
    if ((table["x_max"] <= table["x_min"]) | (table["y_max"] <= table["y_min"])).any():
        raise ValueError("every box needs x_max > x_min and y_max > y_min")
    if ((table["p_real"] < 0) | (table["p_real"] > 1)).any():
        raise ValueError("p_real must lie in [0, 1]")
    return table


def _initial_model(cfg: DetectorConfig, classifier_checkpoint: Path | None):
    if cfg.backbone == "scratch":
        return build_detector(cfg), cfg
    if classifier_checkpoint is None:
        raise ValueError("backbone='classifier' needs classifier_checkpoint")
    classifier, ccfg, _ = load_classifier(classifier_checkpoint)
    # A fixed-size detector sees the classifier's input size; a native one keeps its own tile size.
    size = cfg.image_size if cfg.native else ccfg.image_size
    cfg = dataclasses.replace(cfg, encoder=ccfg.encoder, image_size=size)
    model = build_detector(cfg)
    backbone_encoder(model).load_state_dict(classifier.members[0].encoder.state_dict())
    return model, cfg


def _load(images: Sequence[Path], table: pd.DataFrame, cfg: DetectorConfig, progress: bool) -> tuple:
    """Images (file resolution when native, else resized) and their ``(n_i, 5)`` boxes in the same pixels."""
    if cfg.native:
        x = load_native_images(list(images), progress=progress)
        sizes = np.array([[img.shape[-1], img.shape[-2]] for img in x])
        return x, _boxes_per_image(table, sizes, None, len(images))
    x, sizes = load_images(list(images), cfg.image_size, progress=progress)
    return x, _boxes_per_image(table, sizes, cfg.image_size, len(images))


def _boxes_per_image(table: pd.DataFrame, sizes: np.ndarray, image_size: int | None, n: int) -> list[torch.Tensor]:
    """Per image, an ``(n_i, 5)`` tensor of boxes rescaled to ``image_size`` (None: unscaled) plus ``p_real``."""
    out = [torch.zeros((0, 5)) for _ in range(n)]
    for task, group in table.groupby("task"):
        w, h = sizes[int(task)]
        scale = np.ones(4) if image_size is None else np.array([image_size / w, image_size / h] * 2)
        rows = np.concatenate([group[CORNERS].to_numpy(float) * scale, group[["p_real"]].to_numpy(float)], 1)
        out[int(task)] = torch.as_tensor(rows, dtype=torch.float32)
    return out


def _training_state(model: torch.nn.Module, cfg: DetectorConfig, rt: Runtime) -> dict:
    model.to(rt.device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                                  weight_decay=cfg.weight_decay)
    factor = warmup_cosine(cfg.steps, warmup_steps=min(cfg.warmup_steps, cfg.steps // 2), floor=cfg.lr_floor)
    state = new_training_state(model, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor),
                               torch.amp.GradScaler(rt.device.type, enabled=False))
    if cfg.resume:
        resume(state, Path(cfg.out_dir) / "checkpoint.pt", kind="detector")
    return state


def _fit(state: dict, data: dict, cfg: DetectorConfig, rt: Runtime, progress: bool) -> None:
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    loader = DataLoader(list(data["train"]), batch_size=cfg.batch_size, shuffle=True, collate_fn=_collate_indices,
                        generator=torch.Generator().manual_seed(cfg.seed), num_workers=cfg.num_workers)

    def loss_fn(model, batch):
        images, targets = [], []
        for i in batch[0].tolist():
            img, boxes = _draw(data["x"][i], data["boxes"][i], cfg, gen)
            img, corners = random_dihedral_with_boxes(img, boxes[:, :4], gen)
            keep = torch.rand(len(boxes), generator=gen) < boxes[:, 4]
            boxes = corners
            images.append(img.to(rt.device))
            targets.append({"boxes": boxes[keep].to(rt.device),
                            "labels": torch.ones(int(keep.sum()), dtype=torch.int64, device=rt.device)})
        return sum(model(images, targets).values())

    def checkpoint(metrics: dict) -> None:
        metrics = {**metrics, "step": state["step"]}
        if data["val"].size:
            metrics.update(_validate(state["model"], data, cfg, rt))
        # Higher F1 is better; save_progress keeps the lowest score.  No validation set: keep the latest.
        save_progress(state, metrics, score=-metrics["val_f1"] if data["val"].size else None,
                      out_dir=Path(cfg.out_dir), config=cfg, tree=None, kind="detector")

    train_steps(state, cycle(loader), loss_fn, total_steps=cfg.steps, every=cfg.checkpoint_every,
                on_checkpoint=checkpoint, rt=rt, progress=progress, desc="detector steps")


def _draw(image: torch.Tensor, boxes: torch.Tensor, cfg: DetectorConfig,
          gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The float image and ``(n, 5)`` boxes one training draw sees: a native tile, or the resized image."""
    if cfg.native:
        return random_tile(image, boxes, tile=cfg.image_size, scale_range=tuple(cfg.scale_range), generator=gen)
    return to_float(image), boxes


def _collate_indices(indices: list) -> tuple[torch.Tensor]:
    """A batch is the tuple (image indices,): images and boxes are looked up (and augmented) in the loss."""
    return (torch.as_tensor(indices),)


def _validate(model, data: dict, cfg: DetectorConfig, rt: Runtime) -> dict[str, float]:
    """Validation completeness, purity and F1 at the threshold that maximises F1 (stored as ``val_threshold``)."""
    val = data["val"]
    images = [data["x"][i] for i in val]
    pred = predict_boxes(model, images, rt=rt, score_threshold=0.05)
    rows = [(k, *b[:4].tolist()) for k, i in enumerate(val) for b in data["boxes"][i] if b[4] >= 0.5]
    truth = pd.DataFrame(rows, columns=["task", *CORNERS])
    # Boxes are 2 x FWHM squares, so half a box side is the FWHM in each image's own pixels;
    # the resized 64-px frames keep the old floor of about 2 px (the synthetic PSF at that size).
    fwhm = 0.0 if cfg.native else 2.0 * cfg.image_size / 64
    scores = pick_threshold(pred, truth, psf_fwhm=fwhm)
    # Undefined ratios become None, not NaN: the metrics are stored as JSON (PostgreSQL rejects NaN).
    return {f"val_{k}": None if np.isnan(v) else float(v) for k, v in scores.items()}
