"""The training and evaluation loops shared by every trainer (house style G11).

Trainers supply a ``loss_fn(model, batch) -> scalar tensor``; the engine owns
the device, autocast, the optimizer step and the progress bar.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from ml.device import Runtime

LossFn = Callable[[nn.Module, Any], torch.Tensor]


def train_one_epoch(model: nn.Module, batches: Iterable, optimizer: torch.optim.Optimizer, loss_fn: LossFn, *,
                    rt: Runtime, scaler: torch.amp.GradScaler, progress: bool = False, desc: str = "train",
                    grad_clip: float | None = 10.0) -> dict[str, float]:
    """One pass over ``batches`` with an optimizer step per batch.

    Returns
    -------
    dict
        ``{"loss": mean batch loss, "n_images": images seen, "seconds": wall time}``.
    """
    model.train()
    total, n_batches, n_images = 0.0, 0, 0
    start = time.perf_counter()
    timer = tqdm(batches, desc=desc, disable=not progress, leave=False)
    for batch in timer:
        with rt.autocast():
            loss = loss_fn(model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the training loss became {loss.item()}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if grad_clip is not None:
            # Clip after unscaling so the threshold is in true gradient units.
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
        total += float(loss.detach())
        n_batches += 1
        n_images += _batch_len(batch)
        timer.set_postfix(loss=f"{total / n_batches:.3f}")
    return {"loss": total / max(n_batches, 1), "n_images": n_images,
            "seconds": time.perf_counter() - start}


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable, loss_fn: LossFn, *, rt: Runtime,
             collect: Callable[[nn.Module, Any], Any] | None = None) -> tuple[float, list]:
    """Mean loss over ``batches`` in eval mode, plus ``collect(model, batch)`` for each batch."""
    model.eval()
    total, n_batches, collected = 0.0, 0, []
    for batch in batches:
        with rt.autocast():
            total += float(loss_fn(model, batch))
            if collect is not None:
                collected.append(collect(model, batch))
        n_batches += 1
    return total / max(n_batches, 1), collected


def _batch_len(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    return len(first)
