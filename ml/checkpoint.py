"""One checkpoint format for every trainer (house style G11).

A checkpoint is a plain dict::

    {"model", "optimizer", "lr_scheduler", "scaler": state dicts,
     "epoch": last finished epoch (int), "best_metric": float,
     "config": dataclasses.asdict(cfg), "tree": TaskTree.to_dict() or None,
     "kind": "classifier" | "detector", "extra": dict}

Trainers write ``checkpoint.pt`` after every epoch and ``best.pt`` when the
validation metric improves.  Only tensors and plain Python values are stored,
so loading uses ``weights_only=True`` (no pickled code runs).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

REQUIRED_KEYS = ("model", "optimizer", "lr_scheduler", "scaler", "epoch", "best_metric", "config", "kind")


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` atomically (temp file, then rename) so a crash never leaves half a file."""
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: Path, *, kind: str | None = None) -> dict[str, Any]:
    """Load a checkpoint on the CPU; raises ValueError if it is missing, unreadable or of another kind."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt files
        raise ValueError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED_KEYS):
        raise ValueError(f"{path} is not a zooloop checkpoint")
    if kind is not None and state["kind"] != kind:
        raise ValueError(f"{path} holds a {state['kind']} checkpoint, expected a {kind}")
    return state
