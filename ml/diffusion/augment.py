"""Adding generated galaxies to a classifier's training set, for the classes rare in it.

The seed paper (Can AI Dream of Unseen Galaxies?, 2025) adds diffusion-generated
galaxies of a rare morphology to the training set and finds more of them.  Here a
*class* is a condition of the generated pool (an answer such as ``T2.yes``); a
labelled galaxy belongs to it when its plurality vote agrees with every answer
the condition fixes.  A class is rare when it holds less than ``rare_share`` of
the labelled training galaxies; it then gets ``round(ratio x n_real)`` generated
images (at most what the pool holds), labelled with pseudo-votes: the condition's
fractions times the labelled galaxies' median number of votes.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from aggregation.schema import TaskTree
from ml.data import load_images

RARE_SHARE = 0.05


def _slices(tree: TaskTree) -> list[slice]:
    out, start = [], 0
    for task in tree.questions():
        out.append(slice(start, start + len(task.labels)))
        start += len(task.labels)
    return out


def class_members(counts: np.ndarray, condition: np.ndarray, tree: TaskTree) -> np.ndarray:
    """``(N,)`` bool: galaxies whose plurality answers match every one-hot question of ``condition``.

    ``counts`` is ``(N, A)`` vote counts in tree order, ``condition`` ``(A,)`` fractions.
    """
    member = np.ones(len(counts), dtype=bool)
    for s in _slices(tree):
        block = condition[s]
        if block.max(initial=0.0) < 1.0:  # not fixed by the condition (unknown or not reached)
            continue
        voted = counts[:, s].sum(1) > 0
        member &= voted & (counts[:, s].argmax(1) == int(block.argmax()))
    return member


def generated_plan(counts: np.ndarray, pool: pd.DataFrame, tree: TaskTree, *, ratio: float,
                   rare_share: float = RARE_SHARE) -> dict[str, int]:
    """``{class: number of generated images to add}`` for the rare classes of the labelled ``counts``."""
    plan = {}
    for name, rows in pool.groupby("condition", sort=True):
        condition = np.asarray(json.loads(rows["fractions"].iloc[0]), dtype=np.float32)
        n_real = int(class_members(counts, condition, tree).sum())
        if n_real < rare_share * len(counts):
            plan[str(name)] = min(int(round(ratio * n_real)), len(rows))
    return plan


def with_generated(x: torch.Tensor, counts: np.ndarray, train_idx: np.ndarray, *, tree: TaskTree, folder: Path,
                   ratio: float, rare_share: float = RARE_SHARE) -> tuple[torch.Tensor, np.ndarray, np.ndarray, int]:
    """Append generated images of the rare classes to a training set.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, 3, S, S)`` uint8 labelled images; ``counts`` their ``(N, A)`` vote counts.
    train_idx : numpy.ndarray
        Indices of the training galaxies (the rest validate and are not counted).
    folder : Path
        Output of ``python -m ml generate`` (or :func:`ml.diffusion.sample.save_generated`): PNGs and a
        ``manifest.csv`` with ``file, condition, fractions``.

    Returns
    -------
    x, counts, train_idx, n_generated
        The images and counts with the generated ones appended (``N + n_generated`` rows) and the training
        indices extended to them.
    """
    pool = pd.read_csv(Path(folder) / "manifest.csv", keep_default_na=False)
    missing = {"file", "condition", "fractions"} - set(pool)
    if missing:
        raise ValueError(f"{folder}/manifest.csv lacks {sorted(missing)}: is it a generated folder?")
    if ratio < 0:
        raise ValueError(f"the generated ratio must be >= 0, got {ratio}")
    train_counts = counts[train_idx]
    plan = generated_plan(train_counts, pool, tree, ratio=ratio, rare_share=rare_share)
    chosen = pd.concat([pool[pool["condition"] == name].head(n) for name, n in plan.items()] or [pool.head(0)])
    if chosen.empty:
        return x, counts, train_idx, 0
    votes = float(np.median(train_counts[:, _slices(tree)[0]].sum(1)))
    fractions = np.stack([np.asarray(json.loads(f), dtype=np.float32) for f in chosen["fractions"]])
    images, _ = load_images([Path(folder) / f for f in chosen["file"]], x.shape[-1])
    new_idx = np.arange(len(x), len(x) + len(chosen))
    return (torch.cat([x, images]), np.concatenate([counts, fractions * votes]).astype(counts.dtype),
            np.concatenate([train_idx, new_idx]), len(chosen))
