"""Flip-aware labels: a mirror image turns a clockwise spiral into an anticlockwise one.

Rotations leave a galaxy's answers unchanged, but a reflection reverses the
sense in which its arms wind (Galaxy Zoo 1's clockwise / anticlockwise classes,
Lintott et al. 2008; Galaxy Zoo's Z-wise / S-wise).  Training with flips must
swap those answers' votes on the flipped images, and rotation-averaged
prediction (Dieleman et al. 2015) must swap them back on its mirrored views.
A question is chiral when two of its answer labels form a pair of :data:`MIRROR_LABELS`.
"""
from __future__ import annotations

import torch

from aggregation.schema import TaskTree
from ml.classifier.model import question_slices

# One registry of answer labels that a mirror flip exchanges (each pair is listed once).
MIRROR_LABELS = {"clockwise": "anticlockwise", "spiral_clockwise": "spiral_anticlockwise",
                 "z_wise": "s_wise", "cw": "acw"}


def mirror_permutation(tree: TaskTree) -> torch.Tensor:
    """``(A,)`` column order of the answer vector seen in a mirror image.

    Column ``j`` of the mirrored vector is column ``perm[j]`` of the original
    (``counts[..., perm]``); it is the identity outside chiral questions.
    """
    pairs = {**MIRROR_LABELS, **{b: a for a, b in MIRROR_LABELS.items()}}
    slices = question_slices(tree)
    perm = torch.arange(max((s.stop for s in slices.values()), default=0))
    for key, s in slices.items():
        labels = tree.tasks[key].labels
        for j, label in enumerate(labels):
            if pairs.get(label) in labels:
                perm[s.start + j] = s.start + labels.index(pairs[label])
    return perm


def mirror_labels(values: torch.Tensor, flipped: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Swap the chiral columns of ``(N, A)`` votes (or predictions) on the rows where ``flipped`` (N,) is true."""
    return torch.where(flipped.to(values.device)[:, None], values[:, perm.to(values.device)], values)
