"""One checkpoint format, and one save/resume, for every trainer (house style G11).

A checkpoint is a plain dict::

    {"model", "optimizer", "lr_scheduler", "scaler": state dicts,
     "step": optimizer steps taken (int), "best_metric": float (lower is better),
     "config": dataclasses.asdict(cfg), "tree": TaskTree.to_dict() or None,
     "kind": "classifier" | "detector", "extra": {"metrics": best metrics, "last": latest metrics}}

Trainers write ``checkpoint.pt`` every ``checkpoint_every`` steps and at the end,
and ``best.pt`` when the validation score improves (or every time, when there is
no validation set: then the latest model is the best we know).  Only tensors and
plain Python values are stored, so loading uses ``weights_only=True`` (no pickled
code runs).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, TypeVar

import torch

REQUIRED_KEYS = ("model", "optimizer", "lr_scheduler", "scaler", "step", "best_metric", "config", "kind")
STATE_DICT_KEYS = ("model", "optimizer", "lr_scheduler", "scaler")
Config = TypeVar("Config")


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
        raise ValueError(f"{path} is not a zooloop checkpoint (or predates step-based training)")
    if kind is not None and state["kind"] != kind:
        raise ValueError(f"{path} holds a {state['kind']} checkpoint, expected a {kind}")
    return state


def config_from(cls: type[Config], saved: dict[str, Any]) -> Config:
    """Rebuild a config dataclass from ``checkpoint["config"]``, ignoring fields it no longer has."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in saved.items() if k in names})


def new_training_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                       lr_scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler) -> dict:
    """The mutable training state that :func:`save_progress` writes and :func:`resume` restores."""
    return {"model": model, "optimizer": optimizer, "lr_scheduler": lr_scheduler, "scaler": scaler,
            "step": 0, "best_metric": float("inf"), "metrics": {}}


def resume(state: dict, path: Path, *, kind: str) -> None:
    """Restore weights, optimizer, schedule, scaler, step and best score from ``path`` into ``state``."""
    saved = load_checkpoint(path, kind=kind)
    for key in STATE_DICT_KEYS:
        state[key].load_state_dict(saved[key])
    state["step"], state["best_metric"] = int(saved["step"]), float(saved["best_metric"])
    state["metrics"] = saved.get("extra", {}).get("metrics", {})


def save_progress(state: dict, metrics: dict, *, score: float | None, out_dir: Path, config: Any,
                  tree: dict | None, kind: str) -> bool:
    """Write ``out_dir/checkpoint.pt``, and ``best.pt`` when ``score`` (lower is better) improves.

    ``score=None`` means there is no validation set: every save is the best so far.
    Returns whether ``best.pt`` was written.
    """
    improved = score is None or score < state["best_metric"]
    if improved:
        state["best_metric"] = float("-inf") if score is None else float(score)
        state["metrics"] = metrics
    ckpt = {**{k: state[k].state_dict() for k in STATE_DICT_KEYS}, "step": state["step"],
            "best_metric": state["best_metric"], "config": dataclasses.asdict(config), "tree": tree,
            "kind": kind, "extra": {"metrics": state["metrics"], "last": metrics}}
    save_checkpoint(Path(out_dir) / "checkpoint.pt", ckpt)
    if improved:
        save_checkpoint(Path(out_dir) / "best.pt", ckpt)
    return improved
