"""Running a trained clump detector on images."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from aggregation.contracts import CORNERS
from ml.checkpoint import config_from, load_checkpoint
from ml.data import load_images, load_native_images, to_float
from ml.detector.model import DetectorConfig, build_detector
from ml.device import Runtime, runtime

DEFAULT_THRESHOLD = 0.5  # for checkpoints whose validation picked no threshold


def load_detector(checkpoint: Path) -> tuple[torch.nn.Module, DetectorConfig]:
    """Rebuild a detector and its config from a checkpoint (on the CPU, eval mode)."""
    model, cfg, _ = _load(checkpoint)
    return model, cfg


def _load(checkpoint: Path) -> tuple[torch.nn.Module, DetectorConfig, float]:
    state = load_checkpoint(checkpoint, kind="detector")
    cfg = config_from(DetectorConfig, state["config"])
    model = build_detector(cfg)
    model.load_state_dict(state["model"])
    threshold = (state.get("extra") or {}).get("metrics", {}).get("val_threshold")
    return model.eval(), cfg, DEFAULT_THRESHOLD if threshold is None else float(threshold)


def detect(checkpoint: Path, *, images: Sequence[Path], score_threshold: float | None = None,
           batch_size: int = 8, progress: bool = False) -> pd.DataFrame:
    """Detect clumps in ``images``.

    Parameters
    ----------
    checkpoint : Path
        A detector ``best.pt`` or ``checkpoint.pt``.
    images : sequence of Path
        ``N`` image files of any size.  A native-resolution detector runs on each
        whole image at its file size; an older fixed-size one resizes and maps the boxes back.
    score_threshold : float, optional
        Keep detections scoring at least this (0--1); default: the threshold the
        training run picked on its validation images (0.5 when it picked none).

    Returns
    -------
    pandas.DataFrame
        Columns ``task`` (index into ``images``), ``x_min, y_min, x_max, y_max``
        (each image file's own pixels, top-left origin) and ``score``.
    """
    if score_threshold is not None and not 0.0 <= score_threshold <= 1.0:
        raise ValueError(f"score_threshold must lie in [0, 1], got {score_threshold}")
    model, cfg, picked = _load(checkpoint)
    threshold = picked if score_threshold is None else score_threshold
    rt = runtime()
    model.to(rt.device)
    paths, parts = list(images), []
    for start in tqdm(range(0, len(paths), batch_size), desc="detect", disable=not progress):
        part = _detect_files(model, cfg, paths[start:start + batch_size], rt, threshold)
        part["task"] += start
        parts.append(part)
    if not parts:
        raise ValueError("detect needs at least one image")
    return pd.concat(parts, ignore_index=True)


def _detect_files(model, cfg: DetectorConfig, paths: list[Path], rt: Runtime, threshold: float) -> pd.DataFrame:
    """Detections of one batch of files, in file pixels."""
    if cfg.native:
        return predict_boxes(model, load_native_images(paths), rt=rt, score_threshold=threshold)
    x, sizes = load_images(paths, cfg.image_size)
    out = predict_boxes(model, x, rt=rt, score_threshold=threshold)
    scale = sizes[out["task"].to_numpy()] / cfg.image_size  # (n, 2) = (sx, sy) back to file pixels
    out[CORNERS] = out[CORNERS].to_numpy() * np.concatenate([scale, scale], axis=1)
    return out


@torch.no_grad()
def predict_boxes(model: torch.nn.Module, images: Sequence[torch.Tensor] | torch.Tensor, *, rt: Runtime,
                  score_threshold: float) -> pd.DataFrame:
    """``B`` uint8 ``(3, H_i, W_i)`` images -> detections in their own pixels (task = index in the batch)."""
    model.eval()
    rows = []
    # torchvision pads a batch to its largest member, so mixed sizes run one image at a time.
    same = len({tuple(img.shape) for img in images}) == 1
    groups = [list(range(len(images)))] if same else [[i] for i in range(len(images))]
    for group in groups:
        with rt.autocast():
            outputs = model([to_float(images[i]).to(rt.device) for i in group])
        for task, out in zip(group, outputs):
            keep = out["scores"] >= score_threshold
            for box, score in zip(out["boxes"][keep].float().cpu().numpy(),
                                  out["scores"][keep].float().cpu().numpy()):
                rows.append((task, *box.tolist(), float(score)))
    table = pd.DataFrame(rows, columns=["task", *CORNERS, "score"])
    return table.astype({"task": np.int64, **{c: np.float64 for c in [*CORNERS, "score"]}})
