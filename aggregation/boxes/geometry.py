"""Box geometry and the association of boxes from several workers into candidates.

Boxes are ``(x_min, y_min, x_max, y_max)`` rows in image pixels.  Association
is average-linkage agglomerative clustering on IoU with a cannot-link rule:
one worker's boxes never share a candidate, since a worker outlines each
object at most once (the same constraint as the facility-location matching of
Branson, Van Horn & Perona 2017).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``a`` and ``b`` (..., 4), pair by pair under numpy broadcasting."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    # Degenerate (zero-area) boxes have union 0: define their IoU as 1 only when identical.
    same = np.all(a == b, axis=-1)
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), same.astype(float))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (n, 4) with every box in ``b`` (m, 4); shape (n, m)."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    return iou(a[:, None, :], b[None, :, :])


def cluster_boxes(coords: np.ndarray, workers: np.ndarray, *, min_iou: float = 0.5) -> np.ndarray:
    """Group one image's boxes into candidate objects.

    Parameters
    ----------
    coords : ndarray of shape (n, 4)
    workers : ndarray of shape (n,)
        Who drew each box; boxes of one worker never share a cluster.
    min_iou : float
        Stop merging when the best average IoU between two clusters falls below this.

    Returns
    -------
    ndarray of shape (n,)
        Cluster id of each box, 0..n_clusters-1 in order of first appearance.
    """
    n = len(coords)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sim = iou_matrix(coords, coords)
    workers = np.asarray(workers)
    # -inf marks pairs that must never merge; it survives the linkage averages below.
    sim[workers[:, None] == workers[None, :]] = -np.inf
    size = np.ones(n)
    owner = np.arange(n)
    alive = np.ones(n, dtype=bool)
    while alive.sum() > 1:
        masked = np.where(alive[:, None] & alive[None, :], sim, -np.inf)
        i, j = np.unravel_index(np.argmax(masked), masked.shape)
        if masked[i, j] < min_iou:
            break
        merged = (size[i] * sim[i] + size[j] * sim[j]) / (size[i] + size[j])
        sim[i, :] = merged
        sim[:, i] = merged
        sim[i, i] = -np.inf
        size[i] += size[j]
        alive[j] = False
        owner[owner == j] = i
    return pd.factorize(owner)[0].astype(np.int64)


def median_box(coords: np.ndarray) -> np.ndarray:
    """Corner-wise median of boxes (m, 4): robust to one sloppy outline."""
    return np.median(np.asarray(coords, dtype=float).reshape(-1, 4), axis=0)
