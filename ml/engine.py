"""The step loop, learning-rate schedule and evaluation shared by every trainer (house style G11).

Budgets are counted in optimizer steps, not epochs: with a few dozen labelled
galaxies an epoch is one or two batches, so "10 epochs" meant 10--40 updates and
a model that had not left its initialisation.  A step budget trains the same
amount whatever the size of the training set.

Trainers supply a ``loss_fn(model, batch) -> scalar tensor``; the engine owns
the device, autocast, the optimizer step, the schedule and the progress bar.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from ml.device import Runtime

LossFn = Callable[[nn.Module, Any], torch.Tensor]


def cycle(loader: Iterable) -> Iterator:
    """Yield ``loader``'s batches forever; each pass re-iterates it, so a shuffling DataLoader reshuffles.

    (``itertools.cycle`` would replay the first pass's order and keep every batch in memory.)
    """
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("the training data yield no batches")


def warmup_cosine(total_steps: int, *, warmup_steps: int, floor: float) -> Callable[[int], float]:
    """Learning-rate multiplier for :class:`torch.optim.lr_scheduler.LambdaLR`.

    Linear warmup over ``warmup_steps`` (Goyal et al. 2017, arXiv:1706.02677), then
    half a cosine (Loshchilov & Hutter 2017, SGDR) from 1 down to ``floor`` at
    ``total_steps``.  The floor is never zero: a warm-started model keeps learning
    until its last step instead of spending the end of a short budget frozen.

    Examples
    --------
    >>> f = warmup_cosine(100, warmup_steps=10, floor=0.1)
    >>> round(f(0), 3), f(10), round(f(55), 3), round(f(100), 3)
    (0.091, 1.0, 0.55, 0.1)
    """
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def train_steps(state: dict, batches: Iterator, loss_fn: LossFn, *, total_steps: int, every: int,
                on_checkpoint: Callable[[dict], None], rt: Runtime, progress: bool = False,
                desc: str = "train", grad_clip: float | None = 10.0) -> None:
    """Take optimizer steps ``state["step"] + 1 .. total_steps``, calling back every ``every`` steps.

    Parameters
    ----------
    state : dict
        From :func:`ml.checkpoint.new_training_state`; ``state["step"]`` advances in place.
    batches : iterator
        Endless batches, e.g. :func:`cycle` of a shuffling DataLoader.
    on_checkpoint : callable
        ``on_checkpoint({"train_loss": mean loss since the last call, "train_images_per_s": ...})``,
        called after every ``every``-th step and after the last; it may evaluate and save.
    """
    model = state["model"]
    bar = tqdm(total=total_steps, initial=state["step"], desc=desc, unit="step", disable=not progress, leave=False)
    window = {"loss": 0.0, "steps": 0, "images": 0, "seconds": 0.0}
    while state["step"] < total_steps:
        model.train()
        start = time.perf_counter()
        batch = next(batches)
        loss = _step(state, batch, loss_fn, rt, grad_clip)
        state["step"] += 1
        window = {"loss": window["loss"] + loss, "steps": window["steps"] + 1,
                  "images": window["images"] + _batch_len(batch),
                  "seconds": window["seconds"] + time.perf_counter() - start}
        bar.update(1)
        bar.set_postfix(loss=f"{window['loss'] / window['steps']:.3f}")
        if state["step"] % every == 0 or state["step"] == total_steps:
            on_checkpoint({"train_loss": window["loss"] / window["steps"],
                           "train_images_per_s": window["images"] / max(window["seconds"], 1e-9)})
            window = {"loss": 0.0, "steps": 0, "images": 0, "seconds": 0.0}
    bar.close()


def _step(state: dict, batch: Any, loss_fn: LossFn, rt: Runtime, grad_clip: float | None) -> float:
    """One optimizer and schedule step; returns the batch loss."""
    model, optimizer, scaler = state["model"], state["optimizer"], state["scaler"]
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
    state["lr_scheduler"].step()
    return float(loss.detach())


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
