"""Running a trained clump detector on images."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ml.checkpoint import load_checkpoint
from ml.data import load_images, to_float
from ml.detector.metrics import BOX_COLUMNS
from ml.detector.model import DetectorConfig, build_detector
from ml.device import Runtime, runtime


def load_detector(checkpoint: Path) -> tuple[torch.nn.Module, DetectorConfig]:
    """Rebuild a detector and its config from a checkpoint (on the CPU, eval mode)."""
    state = load_checkpoint(checkpoint, kind="detector")
    fields = {f.name for f in dataclasses.fields(DetectorConfig)}
    cfg = DetectorConfig(**{k: v for k, v in state["config"].items() if k in fields})
    model = build_detector(cfg)
    model.load_state_dict(state["model"])
    return model.eval(), cfg


def detect(checkpoint: Path, *, images: Sequence[Path], score_threshold: float = 0.5,
           batch_size: int = 32) -> pd.DataFrame:
    """Detect clumps in ``images``.

    Parameters
    ----------
    checkpoint : Path
        A detector ``best.pt`` or ``checkpoint.pt``.
    images : sequence of Path
        ``N`` image files of any size (resized to the training size, boxes mapped back).
    score_threshold : float
        Keep detections scoring at least this (0--1).

    Returns
    -------
    pandas.DataFrame
        Columns ``task`` (index into ``images``), ``x_min, y_min, x_max, y_max``
        (each image's own pixels, top-left origin) and ``score``.
    """
    if not 0.0 <= score_threshold <= 1.0:
        raise ValueError(f"score_threshold must lie in [0, 1], got {score_threshold}")
    model, cfg = load_detector(checkpoint)
    rt = runtime()
    model.to(rt.device)
    x, sizes = load_images(list(images), cfg.image_size)
    parts = []
    for start in range(0, len(x), batch_size):
        part = predict_boxes(model, x[start:start + batch_size], rt=rt, score_threshold=score_threshold)
        part["task"] += start
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    scale = sizes[out["task"].to_numpy()] / cfg.image_size  # (n, 2) = (sx, sy) back to file pixels
    out[BOX_COLUMNS] = out[BOX_COLUMNS].to_numpy() * np.concatenate([scale, scale], axis=1)
    return out


@torch.no_grad()
def predict_boxes(model: torch.nn.Module, images: torch.Tensor, *, rt: Runtime,
                  score_threshold: float) -> pd.DataFrame:
    """``(B, 3, S, S)`` uint8 images -> detections in the ``S``-px frame (task = index in the batch)."""
    model.eval()
    with rt.autocast():
        outputs = model([to_float(img).to(rt.device) for img in images])
    rows = []
    for task, out in enumerate(outputs):
        keep = out["scores"] >= score_threshold
        for box, score in zip(out["boxes"][keep].float().cpu().numpy(), out["scores"][keep].float().cpu().numpy()):
            rows.append((task, *box.tolist(), float(score)))
    table = pd.DataFrame(rows, columns=["task", *BOX_COLUMNS, "score"])
    return table.astype({"task": np.int64, **{c: np.float64 for c in [*BOX_COLUMNS, "score"]}})
