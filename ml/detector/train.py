"""Training the clump detector on consensus boxes weighted by their probability of being real."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from ml.checkpoint import load_checkpoint, save_checkpoint
from ml.classifier.predict import load_classifier
from ml.data import load_images, to_float
from ml.detector.augment import random_dihedral_with_boxes
from ml.detector.detect import predict_boxes
from ml.detector.metrics import BOX_COLUMNS, completeness_purity
from ml.detector.model import DetectorConfig, backbone_encoder, build_detector
from ml.device import Runtime, runtime
from ml.engine import train_one_epoch


def train_detector(cfg: DetectorConfig, *, images: Sequence[Path], boxes: pd.DataFrame,
                   classifier_checkpoint: Path | None = None, progress: bool = True) -> dict:
    """Train a Faster R-CNN clump detector (Ren et al. 2015; Popp et al. 2024).

    Each epoch keeps every consensus box with probability ``p_real``, so a box
    the engine believes in half-heartedly is a positive in half the epochs and
    background in the others: in expectation its loss is weighted by ``p_real``
    (torchvision's detection losses take no per-box weights).

    Parameters
    ----------
    cfg : DetectorConfig
        Hyperparameters; ``cfg.out_dir`` receives ``checkpoint.pt`` and ``best.pt``.
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
        counts boxes with ``p_real >= 0.5`` as true and detections scoring >= 0.5;
        an undefined ratio (e.g. purity with no detections) is None.
    """
    cfg = dataclasses.replace(cfg)
    cfg.check()
    table = validate_boxes(boxes, len(images))
    model, cfg = _initial_model(cfg, classifier_checkpoint)
    rt = runtime()
    x, sizes = load_images(list(images), cfg.image_size, progress=progress)
    per_image = _boxes_per_image(table, sizes, cfg.image_size, len(images))
    torch.manual_seed(cfg.seed)
    order = np.random.default_rng(cfg.seed).permutation(len(images))
    n_val = round(len(images) * cfg.val_fraction)
    train_idx, val_idx = np.sort(order[n_val:]), np.sort(order[:n_val])
    if train_idx.size == 0:
        raise ValueError("no images left to train on; lower val_fraction")
    state = _training_state(model, cfg, rt)
    data = {"x": x, "boxes": per_image, "train": train_idx, "val": val_idx}
    _fit(state, data, cfg, rt, progress)
    return {"checkpoint": Path(cfg.out_dir) / "best.pt", "metrics": state["metrics"],
            "n_train": int(train_idx.size), "n_val": int(val_idx.size)}


def validate_boxes(boxes: pd.DataFrame, n_images: int) -> pd.DataFrame:
    """Check the box table; returns a float copy with ``p_real`` filled (1.0 when absent)."""
    missing = [c for c in ["task", *BOX_COLUMNS] if c not in boxes.columns]
    if missing:
        raise ValueError(f"boxes lacks column(s) {missing}")
    table = boxes.copy()
    if "p_real" not in table:
        table["p_real"] = 1.0
    values = table[[*BOX_COLUMNS, "p_real"]].to_numpy(dtype=float)
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
    cfg = dataclasses.replace(cfg, encoder=ccfg.encoder, image_size=ccfg.image_size)
    model = build_detector(cfg)
    backbone_encoder(model).load_state_dict(classifier.members[0].encoder.state_dict())
    return model, cfg


def _boxes_per_image(table: pd.DataFrame, sizes: np.ndarray, image_size: int, n: int) -> list[torch.Tensor]:
    """Per image, an ``(n_i, 5)`` tensor of boxes rescaled to ``image_size`` plus ``p_real``."""
    out = [torch.zeros((0, 5)) for _ in range(n)]
    for task, group in table.groupby("task"):
        w, h = sizes[int(task)]
        scale = np.array([image_size / w, image_size / h] * 2)
        rows = np.concatenate([group[BOX_COLUMNS].to_numpy(float) * scale, group[["p_real"]].to_numpy(float)], 1)
        out[int(task)] = torch.as_tensor(rows, dtype=torch.float32)
    return out


def _training_state(model: torch.nn.Module, cfg: DetectorConfig, rt: Runtime) -> dict:
    model.to(rt.device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                                  weight_decay=cfg.weight_decay)
    state = {"model": model, "optimizer": optimizer,
             "lr_scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs),
             "scaler": torch.amp.GradScaler(rt.device.type, enabled=False), "epoch": 0,
             "best_metric": -1.0, "metrics": {}}
    if cfg.resume:
        _resume(state, Path(cfg.out_dir) / "checkpoint.pt")
    return state


def _resume(state: dict, path: Path) -> None:
    saved = load_checkpoint(path, kind="detector")
    for key in ("model", "optimizer", "lr_scheduler", "scaler"):
        state[key].load_state_dict(saved[key])
    state["epoch"], state["best_metric"] = saved["epoch"], saved["best_metric"]
    state["metrics"] = saved.get("extra", {}).get("metrics", {})


def _fit(state: dict, data: dict, cfg: DetectorConfig, rt: Runtime, progress: bool) -> None:
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    loader = DataLoader(list(data["train"]), batch_size=cfg.batch_size, shuffle=True, collate_fn=_collate_indices,
                        generator=torch.Generator().manual_seed(cfg.seed), num_workers=cfg.num_workers)

    def loss_fn(model, batch):
        images, targets = [], []
        for i in batch[0].tolist():
            img, boxes = random_dihedral_with_boxes(to_float(data["x"][i]), data["boxes"][i][:, :4], gen)
            keep = torch.rand(len(boxes), generator=gen) < data["boxes"][i][:, 4]
            images.append(img.to(rt.device))
            targets.append({"boxes": boxes[keep].to(rt.device),
                            "labels": torch.ones(int(keep.sum()), dtype=torch.int64, device=rt.device)})
        return sum(model(images, targets).values())

    for epoch in range(state["epoch"], cfg.epochs):
        stats = train_one_epoch(state["model"], loader, state["optimizer"], loss_fn, rt=rt, scaler=state["scaler"],
                                progress=progress, desc=f"detector epoch {epoch + 1}/{cfg.epochs}")
        state["lr_scheduler"].step()
        metrics = {"train_loss": stats["loss"], "train_images_per_s": stats["n_images"] / max(stats["seconds"], 1e-9)}
        if data["val"].size:
            metrics.update(_validate(state["model"], data, cfg.image_size, rt))
        state["epoch"] = epoch + 1
        _save(state, metrics, cfg)


def _collate_indices(indices: list) -> tuple[torch.Tensor]:
    """A batch is the tuple (image indices,): images and boxes are looked up (and augmented) in the loss."""
    return (torch.as_tensor(indices),)


def _validate(model, data: dict, image_size: int, rt: Runtime) -> dict[str, float]:
    val = data["val"]
    pred = predict_boxes(model, data["x"][val], rt=rt, score_threshold=0.5)
    rows = [(k, *b[:4].tolist()) for k, i in enumerate(val) for b in data["boxes"][i] if b[4] >= 0.5]
    truth = pd.DataFrame(rows, columns=["task", *BOX_COLUMNS])
    # At 64 px the synthetic PSF FWHM is about 2 px; scale that to the working size.
    scores = completeness_purity(pred, truth, psf_fwhm=2.0 * image_size / 64)
    if scores["tp"] + scores["fp"] + scores["fn"] == 0:
        scores["f1"] = 1.0  # nothing to find and nothing found
    # Undefined ratios become None, not NaN: the metrics are stored as JSON (PostgreSQL rejects NaN).
    return {f"val_{k}": None if np.isnan(v) else float(v) for k, v in scores.items()}


def _save(state: dict, metrics: dict, cfg: DetectorConfig) -> None:
    score = metrics.get("val_f1", -metrics["train_loss"])
    improved = state["epoch"] == 1 or score > state["best_metric"]
    if improved:
        state["best_metric"], state["metrics"] = score, metrics
    ckpt = {"model": state["model"].state_dict(), "optimizer": state["optimizer"].state_dict(),
            "lr_scheduler": state["lr_scheduler"].state_dict(), "scaler": state["scaler"].state_dict(),
            "epoch": state["epoch"], "best_metric": state["best_metric"], "config": dataclasses.asdict(cfg),
            "tree": None, "kind": "detector", "extra": {"metrics": state["metrics"], "last": metrics}}
    save_checkpoint(Path(cfg.out_dir) / "checkpoint.pt", ckpt)
    if improved:
        save_checkpoint(Path(cfg.out_dir) / "best.pt", ckpt)
