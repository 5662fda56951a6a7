"""From raw boxes to candidate objects and the table of who marked which candidate.

Both box aggregators start here: boxes of each image are clustered into
candidates (:func:`geometry.cluster_boxes`), each candidate gets a median
box, and every worker who *saw* the image gets one row per candidate saying
whether they marked it and how far (1 - IoU) their box lies from it.  A view
without a mark is evidence too: that worker missed the object, or it is not there.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .geometry import CORNERS, cluster_boxes, iou_matrix, median_box


@dataclass(frozen=True)
class Candidates:
    """Candidates of many images.

    ``boxes``: one row per candidate: ``task, x_min, y_min, x_max, y_max, n_workers, n_seen``
    (index = candidate id).  ``views``: one row per (candidate, seen worker):
    ``candidate, worker, drew (bool), distance`` (1 - IoU to the candidate box; NaN when not drawn).
    ``seen``: the validated (task, worker) views.
    """

    boxes: pd.DataFrame
    views: pd.DataFrame
    seen: pd.DataFrame


def _image_candidates(group: pd.DataFrame, min_iou: float) -> tuple[list, list]:
    coords = group[CORNERS].to_numpy(dtype=float)
    workers = group["worker"].to_numpy()
    ids = cluster_boxes(coords, pd.factorize(workers)[0], min_iou=min_iou)
    rows, marks = [], []
    for cid in range(ids.max() + 1 if len(ids) else 0):
        members = ids == cid
        box = median_box(coords[members])
        distance = 1.0 - iou_matrix(coords[members], box)[:, 0]
        rows.append((*box, int(members.sum())))
        marks.extend((cid, w, d) for w, d in zip(workers[members], distance))
    return rows, marks


def build_candidates(boxes: pd.DataFrame, seen: pd.DataFrame, *, min_iou: float = 0.5) -> Candidates:
    """Cluster validated ``boxes`` per task and join the views in validated ``seen``."""
    box_rows, mark_rows = [], []
    offset = 0
    for task, group in boxes.groupby("task", sort=False):
        rows, marks = _image_candidates(group, min_iou)
        box_rows.extend((task, *r) for r in rows)
        mark_rows.extend((offset + c, w, d) for c, w, d in marks)
        offset += len(rows)
    cand = pd.DataFrame(box_rows, columns=["task", *CORNERS, "n_workers"])
    cand = cand.astype({"task": boxes["task"].dtype}) if len(cand) else cand
    n_seen = seen.groupby("task").size()
    cand["n_seen"] = n_seen.reindex(cand["task"]).to_numpy(dtype=np.int64) if len(cand) else []
    marks = pd.DataFrame(mark_rows, columns=["candidate", "worker", "distance"])
    pairs = cand[["task"]].rename_axis("candidate").reset_index().merge(seen, on="task")
    views = pairs.merge(marks, on=["candidate", "worker"], how="left")
    views = views.astype({"candidate": np.int64, "distance": float})
    views["drew"] = views["distance"].notna()
    return Candidates(boxes=cand, views=views[["candidate", "worker", "drew", "distance"]], seen=seen)
