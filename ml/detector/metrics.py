"""Completeness and purity of detected clumps against true ones."""
from __future__ import annotations

import numpy as np
import pandas as pd

BOX_COLUMNS = ["x_min", "y_min", "x_max", "y_max"]


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
        hits = int((match_boxes(p[BOX_COLUMNS].to_numpy(), t[BOX_COLUMNS].to_numpy(), fwhm) >= 0).sum())
        tp, fp, fn = tp + hits, fp + len(p) - hits, fn + len(t) - hits
    completeness = tp / (tp + fn) if tp + fn else float("nan")
    purity = tp / (tp + fp) if tp + fp else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return {"tp": tp, "fp": fp, "fn": fn, "completeness": completeness, "purity": purity, "f1": f1}
