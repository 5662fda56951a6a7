"""Completeness and purity of detected clumps against true ones."""
from __future__ import annotations

import numpy as np
import pandas as pd

# The detector's tables carry one consensus box per row and no worker: only the contract's corners.
from aggregation.contracts import CORNERS


def match_boxes(pred: np.ndarray, truth: np.ndarray, psf_fwhm: float) -> np.ndarray:
    """Greedy one-to-one matching of predicted to true boxes by centre distance.

    A prediction (taken in the given order, e.g. by descending score) matches the
    nearest unmatched true box whose centre lies within ``max(psf_fwhm, half the
    true box's larger side)``: clumps are unresolved, so positions are known only
    to about a PSF FWHM.

    Parameters
    ----------
    pred : numpy.ndarray
        ``(P, 4)`` boxes ``x_min, y_min, x_max, y_max``.
    truth : numpy.ndarray
        ``(T, 4)`` boxes.
    psf_fwhm : float
        PSF FWHM in the same pixels.

    Returns
    -------
    numpy.ndarray
        ``(P,)`` index of the matched true box, or -1.
    """
    pred, truth = np.asarray(pred, float).reshape(-1, 4), np.asarray(truth, float).reshape(-1, 4)
    matched = np.full(len(pred), -1)
    if len(pred) == 0 or len(truth) == 0:
        return matched
    pc = (pred[:, :2] + pred[:, 2:]) / 2
    tc = (truth[:, :2] + truth[:, 2:]) / 2
    radius = np.maximum(psf_fwhm, (truth[:, 2:] - truth[:, :2]).max(axis=1) / 2)
    dist = np.hypot(*(pc[:, None, :] - tc[None, :, :]).transpose(2, 0, 1))  # (P, T)
    free = np.ones(len(truth), bool)
    for i in range(len(pred)):
        ok = free & (dist[i] <= radius)
        if ok.any():
            j = int(np.flatnonzero(ok)[np.argmin(dist[i][ok])])
            matched[i], free[j] = j, False
    return matched


def completeness_purity(pred: pd.DataFrame, truth: pd.DataFrame, psf_fwhm: float | dict) -> dict[str, float]:
    """Completeness TP/(TP+FN) and purity TP/(TP+FP) over all images.

    Parameters
    ----------
    pred : pandas.DataFrame
        Columns ``task, x_min, y_min, x_max, y_max`` and optionally ``score``
        (matched in descending score order).
    truth : pandas.DataFrame
        Columns ``task, x_min, y_min, x_max, y_max``.
    psf_fwhm : float or dict
        One FWHM in pixels, or ``{task: FWHM}``.

    Returns
    -------
    dict
        ``tp, fp, fn, completeness, purity, f1`` (NaN where undefined).
    """
    tp = fp = fn = 0
    tasks = set(pred["task"]) | set(truth["task"])
    for task in tasks:
        p = pred[pred["task"] == task]
        if "score" in p:
            p = p.sort_values("score", ascending=False)
        t = truth[truth["task"] == task]
        fwhm = psf_fwhm[task] if isinstance(psf_fwhm, dict) else psf_fwhm
        hits = int((match_boxes(p[CORNERS].to_numpy(), t[CORNERS].to_numpy(), fwhm) >= 0).sum())
        tp, fp, fn = tp + hits, fp + len(p) - hits, fn + len(t) - hits
    completeness = tp / (tp + fn) if tp + fn else float("nan")
    purity = tp / (tp + fp) if tp + fp else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return {"tp": tp, "fp": fp, "fn": fn, "completeness": completeness, "purity": purity, "f1": f1}


THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05))


def threshold_curve(pred: pd.DataFrame, truth: pd.DataFrame, psf_fwhm: float | dict,
                    thresholds: tuple[float, ...] = THRESHOLDS) -> pd.DataFrame:
    """:func:`completeness_purity` of the detections scoring at least each threshold.

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold, tp, fp, fn, completeness, purity, f1``.
    """
    rows = [{"threshold": float(t), **completeness_purity(pred[pred["score"] >= t], truth, psf_fwhm)}
            for t in thresholds]
    return pd.DataFrame(rows)


def pick_threshold(pred: pd.DataFrame, truth: pd.DataFrame, psf_fwhm: float | dict,
                   thresholds: tuple[float, ...] = THRESHOLDS) -> dict[str, float]:
    """The threshold of highest F1 on validation data, with its scores.

    On ties the highest such threshold wins: equal F1 at fewer detections, and a
    model with no skill yet (F1 = 0 everywhere) then emits few boxes, not many.

    Returns
    -------
    dict
        ``threshold, tp, fp, fn, completeness, purity, f1``; F1 is 1 when there
        is nothing to find and nothing is found.

    Examples
    --------
    >>> truth = pd.DataFrame({"task": [0], "x_min": [0.0], "y_min": [0.0], "x_max": [4.0], "y_max": [4.0]})
    >>> pred = pd.DataFrame({"task": [0, 0], "x_min": [0.0, 20.0], "y_min": [0.0, 20.0],
    ...                      "x_max": [4.0, 24.0], "y_max": [4.0, 24.0], "score": [0.9, 0.3]})
    >>> best = pick_threshold(pred, truth, psf_fwhm=2.0)
    >>> best["threshold"] > 0.3, best["completeness"], best["purity"]
    (True, 1.0, 1.0)
    """
    curve = threshold_curve(pred, truth, psf_fwhm, thresholds)
    curve.loc[(curve["tp"] + curve["fp"] + curve["fn"]) == 0, "f1"] = 1.0
    f1 = curve["f1"].fillna(-1.0).to_numpy()
    best = curve.iloc[int(np.flatnonzero(f1 == f1.max())[-1])]
    return {k: float(v) for k, v in best.items()}
