"""Anchor sizes set from the distribution of clump box sizes.

Faster R-CNN's region proposals start from anchors (Ren et al. 2015); anchors far
from the objects' sizes match them poorly and the proposal network learns
slowly.  Clumps are unresolved, so a clump box is a PSF-sized square
(Popp et al. 2024): the anchors are quantiles of the box sides, taken from the
training boxes themselves and, where given, from the Galaxy Zoo: Clump Scout
consensus boxes (Dickinson et al. 2022) rescaled to the detector's frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from aggregation.contracts import CORNERS

ANCHOR_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
CLUMP_SCOUT_FRAME = 400  # pixels of the Clump Scout cutouts their boxes are measured in


def box_sides(boxes: pd.DataFrame) -> np.ndarray:
    """``(n,)`` side of each box: the mean of its width and height (clump boxes are squares)."""
    corners = boxes[CORNERS].to_numpy(dtype=float).reshape(-1, 4)
    return (corners[:, 2] - corners[:, 0] + corners[:, 3] - corners[:, 1]) / 2.0


def clump_scout_sides(path: Path, *, frame: int = 424) -> np.ndarray:
    """Box sides of the Clump Scout consensus file ``boxes.csv.gz`` rescaled to a ``frame``-px cutout.

    The file's boxes (columns ``x1, y1, x2, y2``) are in pixels of 400-px Galaxy
    Zoo-scaled cutouts; real subjects of the same scaling (GZ1, GZ: Hubble) are 423--424 px.
    """
    try:
        table = pd.read_csv(path, usecols=["x1", "y1", "x2", "y2"])
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read Clump Scout boxes {path}: {exc}") from exc
    table.columns = CORNERS
    return box_sides(table) * frame / CLUMP_SCOUT_FRAME


def anchor_sizes_from(sides: np.ndarray, quantiles: tuple[float, ...] = ANCHOR_QUANTILES,
                      scale_range: tuple[float, float] = (1.0, 1.0)) -> tuple[int, ...]:
    """Anchor sides (whole pixels, distinct, increasing) at ``quantiles`` of the box ``sides``.

    ``scale_range`` widens the outer anchors by the training-time rescaling
    (a box of side s can appear as ``s * low`` .. ``s * high``).

    Examples
    --------
    >>> anchor_sizes_from(np.array([6.0, 7.0, 8.0, 10.0, 16.0]), quantiles=(0.0, 0.5, 1.0))
    (6, 8, 16)
    >>> anchor_sizes_from(np.array([6.0, 8.0, 16.0]), quantiles=(0.0, 1.0), scale_range=(0.5, 2.0))
    (3, 32)
    """
    sides = np.asarray(sides, dtype=float)
    sides = sides[np.isfinite(sides) & (sides > 0)]
    if sides.size == 0:
        raise ValueError("anchor sizes need at least one box with a positive side")
    values = np.quantile(sides, quantiles)
    values[0] *= scale_range[0]
    values[-1] *= scale_range[1]
    return tuple(sorted({max(2, int(round(v))) for v in values}))
