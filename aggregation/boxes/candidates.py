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

from aggregation.base import CORNERS
from .geometry import cluster_boxes, iou_matrix, median_box


@dataclass(frozen=True)
class Candidates:
    """Candidates of many images, with integer codes for fast EM.

    ``boxes``: one row per candidate: ``task, x_min, y_min, x_max, y_max, n_workers, n_seen``
    (index = candidate id).  ``views``: one row per (candidate, seen worker):
    ``candidate, worker, drew (bool), distance`` (1 - IoU to the candidate box; NaN when not drawn)
    and ``w``, the worker's code in ``workers``.  ``seen``: the validated (task, worker) views with
    codes ``w`` and ``t`` (the task's code in ``tasks``).
    """

    boxes: pd.DataFrame
    views: pd.DataFrame
    seen: pd.DataFrame
    workers: pd.Index
    tasks: pd.Index


def _image_candidates(coords: np.ndarray, workers: np.ndarray, min_iou: float) -> tuple[list, list]:
    ids = cluster_boxes(coords, workers, min_iou=min_iou)
    rows, marks = [], []
    for cid in range(ids.max() + 1 if len(ids) else 0):
        members = ids == cid
        box = median_box(coords[members])
        distance = 1.0 - iou_matrix(coords[members], box)[:, 0]
        rows.append((*box, int(members.sum())))
        marks.extend(zip([cid] * len(distance), workers[members].tolist(), distance.tolist()))
    return rows, marks


def build_candidates(boxes: pd.DataFrame, seen: pd.DataFrame, *, min_iou: float = 0.5) -> Candidates:
    """Cluster validated ``boxes`` per task and join the views in validated ``seen``."""
    workers = pd.Index(pd.unique(pd.concat([seen["worker"], boxes["worker"]])), name="worker")
    tasks = pd.Index(pd.unique(seen["task"]), name="task")
    t_code = tasks.get_indexer(boxes["task"])
    order = np.argsort(t_code, kind="stable")
    coords = boxes[CORNERS].to_numpy(dtype=float)[order]
    w_code = workers.get_indexer(boxes["worker"])[order]
    # Split the sorted boxes at task boundaries: one numpy slice per image, no pandas groupby.
    starts = np.flatnonzero(np.r_[True, np.diff(t_code[order]) != 0]) if len(order) else np.array([], int)
    ends = np.r_[starts[1:], len(order)]
    box_rows, mark_rows, task_of = [], [], []
    for lo, hi in zip(starts, ends):
        rows, marks = _image_candidates(coords[lo:hi], w_code[lo:hi], min_iou)
        offset = len(box_rows)
        box_rows.extend(rows)
        task_of.extend([t_code[order][lo]] * len(rows))
        mark_rows.extend((offset + c, w, d) for c, w, d in marks)
    cand = pd.DataFrame(box_rows, columns=[*CORNERS, "n_workers"], dtype=float).astype({"n_workers": np.int64})
    task_of = np.asarray(task_of, dtype=np.int64)
    seen = seen.assign(w=workers.get_indexer(seen["worker"]), t=tasks.get_indexer(seen["task"]))
    n_seen = np.bincount(seen["t"].to_numpy(), minlength=len(tasks))
    cand.insert(0, "task", tasks[task_of] if len(task_of) else pd.Index([], dtype=boxes["task"].dtype))
    cand["n_seen"] = n_seen[task_of]
    cand["t"] = task_of
    return Candidates(boxes=cand, views=_views(cand, seen, mark_rows), seen=seen, workers=workers, tasks=tasks)


def _views(cand: pd.DataFrame, seen: pd.DataFrame, mark_rows: list) -> pd.DataFrame:
    marks = pd.DataFrame(mark_rows, columns=["candidate", "w", "distance"]).astype({"candidate": np.int64,
                                                                                   "w": np.int64})
    pairs = pd.DataFrame({"candidate": np.arange(len(cand)), "t": cand["t"].to_numpy()})
    views = pairs.merge(seen[["t", "w", "worker"]], on="t").merge(marks, on=["candidate", "w"], how="left")
    views = views.astype({"distance": float})
    views["drew"] = views["distance"].notna()
    return views[["candidate", "worker", "w", "drew", "distance"]]
