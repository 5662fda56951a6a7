"""Scoring a classifier checkpoint on a fixed held-out set: accuracy with its interval, confusion, calibration."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aggregation.metrics import binomial_interval, expected_calibration_error
from aggregation.schema import TaskTree
from ml.checkpoint import load_checkpoint
from ml.classifier.predict import predict


def evaluate_checkpoint(path: Path, *, images: Sequence[Path], labels: dict[str, np.ndarray], views: int = 8,
                        batch_size: int = 128) -> dict[str, dict]:
    """Score a classifier against known answers on a held-out set the caller keeps fixed.

    Every version scored on the same ``images`` and ``labels`` gets comparable
    numbers (a version's own random validation split does not).  The prediction is
    the argmax of the mean predicted vote fractions (:func:`ml.classifier.predict`).

    Parameters
    ----------
    path : Path
        A classifier checkpoint (``best.pt``).
    images : sequence of Path
        ``N`` image files.
    labels : dict of str to numpy.ndarray
        ``{question key: (N,) int answer index into the tree's labels}``; -1 = unknown
        (the galaxy does not count for that question).  Questions left out are not scored.
    views : int
        Rotations/flips averaged per image (1--8).

    Returns
    -------
    dict
        ``{question key: {"answers": list of K labels, "n": int scored galaxies,
        "accuracy": float or None, "interval": (lower, upper) 95% Wilson score interval
        of the accuracy, "confusion": (K, K) int counts (rows = truth, columns = predicted),
        "ece": float or None (10 equal-width bins), "probs": (N, K) float predicted
        fractions for every image, scored or not}}``; None where ``n == 0``.
    """
    tree = TaskTree.from_dict(load_checkpoint(path, kind="classifier")["tree"])
    checked = _checked_labels(labels, tree, len(images))
    preds = predict(path, images=images, views=views, batch_size=batch_size)
    return {key: _score(preds[key]["probs"], truth, tree.tasks[key].labels) for key, truth in checked.items()}


def _checked_labels(labels: dict[str, np.ndarray], tree: TaskTree, n: int) -> dict[str, np.ndarray]:
    """Validate every label array before any prediction runs."""
    questions = {t.key: len(t.labels) for t in tree.questions()}
    out = {}
    for key, raw in labels.items():
        if key not in questions:
            raise ValueError(f"labels names {key!r}, which is not a question of the checkpoint's tree")
        truth = np.asarray(raw)
        if truth.shape != (n,) or not np.issubdtype(truth.dtype, np.integer):
            raise ValueError(f"labels[{key!r}] must be an int array of shape ({n},), got {truth.dtype} {truth.shape}")
        if truth.size and (truth.min() < -1 or truth.max() >= questions[key]):
            raise ValueError(f"labels[{key!r}] must lie in -1..{questions[key] - 1}")
        out[key] = truth.astype(np.int64)
    return out


def _score(probs: np.ndarray, truth: np.ndarray, answers: list[str]) -> dict:
    """Accuracy, Wilson interval, confusion counts and ECE on the galaxies with a known answer."""
    k = len(answers)
    known = truth >= 0
    predicted = probs[known].argmax(axis=1)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (truth[known], predicted), 1)
    n, hits = int(known.sum()), int(np.trace(confusion))
    return {"answers": list(answers), "n": n, "accuracy": hits / n if n else None,
            "interval": binomial_interval(hits, n), "confusion": confusion,
            "ece": expected_calibration_error(probs[known], truth[known]) if n else None, "probs": probs}
