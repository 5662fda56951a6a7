"""Rotations and flips of an image together with its boxes."""
from __future__ import annotations

import torch

from ml.data import dihedral


def dihedral_boxes(boxes: torch.Tensor, k: int, size: int) -> torch.Tensor:
    """Map ``(n, 4)`` boxes through :func:`ml.data.dihedral` symmetry ``k`` of a ``size``-px square image.

    ``torch.rot90`` by one quarter turn sends the pixel edge point (x, y) to
    (y, size - x); a horizontal flip sends x to size - x.
    """
    x0, y0, x1, y1 = boxes.unbind(-1)
    for _ in range(k % 4):
        x0, y0, x1, y1 = y0, size - x1, y1, size - x0
    if k >= 4:
        x0, x1 = size - x1, size - x0
    return torch.stack([x0, y0, x1, y1], dim=-1)


def random_dihedral_with_boxes(image: torch.Tensor, boxes: torch.Tensor,
                               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply one random symmetry of the square to a ``(C, S, S)`` image and its ``(n, 4)`` boxes."""
    k = int(torch.randint(0, 8, (1,), generator=generator))
    return dihedral(image, k), dihedral_boxes(boxes, k, image.shape[-1])
