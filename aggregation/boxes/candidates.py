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
from .geometry import cluster_boxes, iou


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


def _cluster_images(coords: np.ndarray, w_code: np.ndarray, t_code: np.ndarray, min_iou: float) -> np.ndarray:
    """(n,) the candidate of every box, boxes sorted by task: each image's clusters, numbered on from the last."""
    # Split the sorted boxes at task boundaries: one numpy slice per image, no pandas groupby.
    starts = np.flatnonzero(np.r_[True, np.diff(t_code) != 0]) if len(t_code) else np.array([], int)
    cand_of, n_cand = np.empty(len(t_code), dtype=np.int64), 0
    for lo, hi in zip(starts, np.r_[starts[1:], len(t_code)]):
        ids = cluster_boxes(coords[lo:hi], w_code[lo:hi], min_iou=min_iou)
        cand_of[lo:hi] = n_cand + ids
        n_cand += ids.max() + 1
    return cand_of


def _group_medians(coords: np.ndarray, group: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """(k, 4) the corner-wise median box of each group, all groups at once (`median_box` of each, to the bit)."""
    first = np.cumsum(sizes) - sizes
    low, high = first + (sizes - 1) // 2, first + sizes // 2  # the same box when a group is odd
    out = np.empty((len(sizes), 4))
    for k in range(4):
        ranked = coords[np.lexsort((coords[:, k], group)), k]  # by group, then by this corner
        out[:, k] = (ranked[low] + ranked[high]) / 2
    return out


def build_candidates(boxes: pd.DataFrame, seen: pd.DataFrame, *, min_iou: float = 0.5) -> Candidates:
    """Cluster validated ``boxes`` per task and join the views in validated ``seen``."""
    workers = pd.Index(pd.unique(pd.concat([seen["worker"], boxes["worker"]])), name="worker")
    tasks = pd.Index(pd.unique(seen["task"]), name="task")
    t_code = tasks.get_indexer(boxes["task"])
    order = np.argsort(t_code, kind="stable")
    coords = boxes[CORNERS].to_numpy(dtype=float)[order]
    w_code, t_code = workers.get_indexer(boxes["worker"])[order], t_code[order]
    cand_of = _cluster_images(coords, w_code, t_code, min_iou)
    n_workers = np.bincount(cand_of, minlength=cand_of.max() + 1 if len(cand_of) else 0)
    median = _group_medians(coords, cand_of, n_workers)
    distance = 1.0 - iou(coords, median[cand_of])  # each box against its own candidate's median box
    cand = pd.DataFrame(dict(zip(CORNERS, median.T)), columns=CORNERS, dtype=float)
    cand["n_workers"] = n_workers.astype(np.int64)
    task_of = np.zeros(len(cand), dtype=np.int64)
    task_of[cand_of] = t_code  # every box of a candidate lies in one task
    seen = seen.assign(w=workers.get_indexer(seen["worker"]), t=tasks.get_indexer(seen["task"]))
    n_seen = np.bincount(seen["t"].to_numpy(), minlength=len(tasks))
    cand.insert(0, "task", tasks[task_of] if len(task_of) else pd.Index([], dtype=boxes["task"].dtype))
    cand["n_seen"] = n_seen[task_of]
    cand["t"] = task_of
    marks = dict(zip(zip(cand_of.tolist(), w_code.tolist()), distance.tolist()))  # a worker marks a candidate once
    return Candidates(boxes=cand, views=_views(cand, seen, marks), seen=seen, workers=workers, tasks=tasks)


def _views(cand: pd.DataFrame, seen: pd.DataFrame, marks: dict[tuple[int, int], float]) -> pd.DataFrame:
    """One row per (candidate, viewer of its image): candidates in order, each image's viewers in ``seen`` order.

    Built with numpy rather than two pandas merges, which cost more than the scoring on the few images of an
    aggregation batch; the rows and their order are the merges' (``tests/aggregation/test_boxes.py``).
    """
    cand_t, seen_t = cand["t"].to_numpy(), seen["t"].to_numpy()
    by_task = np.argsort(seen_t, kind="stable")  # each task's viewers together, in seen order
    per_task = np.bincount(seen_t)  # every task has a viewer: the tasks are those of seen
    first = np.cumsum(per_task) - per_task
    n_views = per_task[cand_t]
    candidate = np.repeat(np.arange(len(cand_t)), n_views)
    within = np.arange(len(candidate)) - np.repeat(np.cumsum(n_views) - n_views, n_views)
    rows = by_task[np.repeat(first[cand_t], n_views) + within]
    w = seen["w"].to_numpy()[rows]
    distance = np.array([marks.get(key, np.nan) for key in zip(candidate.tolist(), w.tolist())], dtype=float)
    return pd.DataFrame({"candidate": candidate.astype(np.int64), "worker": seen["worker"].to_numpy()[rows],
                         "w": w.astype(np.int64), "drew": ~np.isnan(distance), "distance": distance})
