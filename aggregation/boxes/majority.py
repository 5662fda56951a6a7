"""Majority-vote box clustering: the baseline the Lean model must beat."""
from __future__ import annotations

import pandas as pd

from ..base import validate_boxes, validate_seen
from .candidates import build_candidates
from aggregation.base import CORNERS


class MajorityBoxAggregator:
    """Keep candidates marked by at least ``min_fraction`` of the workers who saw the image.

    Boxes are grouped by average-linkage IoU clustering with one box per worker
    per candidate (:mod:`.geometry`); each kept box is the corner-wise median of
    its members.  Every worker counts the same; this is the "greedy IoU
    majority" baseline of the project's research notes.

    Attributes
    ----------
    consensus_ : DataFrame
        ``task, x_min, y_min, x_max, y_max, p_real, n_workers, n_seen``; ``p_real`` is the marking fraction.

    Examples
    --------
    >>> boxes = pd.DataFrame({"task": [1, 1], "worker": ["a", "b"], "x_min": [0.0, 1.0],
    ...                       "y_min": [0.0, 0.0], "x_max": [10.0, 11.0], "y_max": [10.0, 10.0]})
    >>> seen = pd.DataFrame({"task": [1, 1, 1], "worker": ["a", "b", "c"]})
    >>> MajorityBoxAggregator().fit(boxes, seen).consensus_["n_workers"].tolist()
    [2]
    """

    def __init__(self, *, min_iou: float = 0.5, min_fraction: float = 0.5):
        self.min_iou = min_iou
        self.min_fraction = min_fraction

    def fit(self, boxes: pd.DataFrame, seen: pd.DataFrame) -> "MajorityBoxAggregator":
        """Fit on boxes ``(task, worker, x_min, y_min, x_max, y_max)`` and views ``(task, worker)``."""
        boxes = validate_boxes(boxes)
        seen = validate_seen(seen, boxes)
        cands = build_candidates(boxes, seen, min_iou=self.min_iou).boxes
        fraction = cands["n_workers"] / cands["n_seen"]
        keep = fraction >= self.min_fraction
        columns = ["task", *CORNERS, "p_real", "n_workers", "n_seen"]
        self.consensus_ = cands.assign(p_real=fraction).loc[keep, columns].reset_index(drop=True)
        return self
