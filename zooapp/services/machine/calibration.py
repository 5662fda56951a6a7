"""Turning the classifier's predicted vote fractions into probabilities it has earned on the held-out set.

The head predicts *vote fractions*: a galaxy every volunteer calls smooth may get 0.7. Retiring
on that number would be arbitrary, so each version is calibrated on the common held-out set by
histogram binning of its top probability (Zadrozny & Elkan 2001, ICML): in each of ``N_BINS``
equal-width bins, the probability that the top answer is right is the posterior mean under a
uniform Beta(1, 1) prior, ``(hits + 1) / (n + 2)``. Binning rather than a temperature, because a
young model that is right on all of a few dozen galaxies drives the fitted temperature to zero
(every prediction would read as certain), while the Beta mean stays below 1 by an amount that
shrinks only as held-out evidence accumulates: 10 of 10 correct reads 0.917, 50 of 50 0.981.
"""
from __future__ import annotations

import numpy as np

N_BINS = 10


def calibration_fit(probs: np.ndarray, truth: np.ndarray) -> dict[str, list]:
    """Per-bin counts of held-out predictions and of correct ones.

    Parameters
    ----------
    probs : numpy.ndarray
        ``(N, K)`` predicted answer fractions on the held-out galaxies with a known answer.
    truth : numpy.ndarray
        ``(N,)`` their answer indices.
    """
    probs, truth = np.asarray(probs, dtype=float), np.asarray(truth, dtype=int)
    if probs.ndim != 2 or truth.shape != (len(probs),):
        raise ValueError(f"probs must be (N, K) and truth (N,), got {probs.shape} and {truth.shape}")
    bins = _bin(probs.max(axis=1))
    hits = probs.argmax(axis=1) == truth
    return {"counts": np.bincount(bins, minlength=N_BINS).tolist(),
            "hits": np.bincount(bins, hits, minlength=N_BINS).astype(int).tolist()}


def calibration_apply(probs: np.ndarray, calibration: dict[str, list]) -> np.ndarray:
    """``(N, K)`` fractions -> calibrated probabilities: the top answer gets its bin's held-out accuracy.

    The remaining mass is shared among the other answers in proportion to their fractions, so the
    argmax (the machine's vote) is unchanged wherever the calibrated top probability exceeds 1/K.
    """
    probs = np.asarray(probs, dtype=float)
    counts, hits = np.asarray(calibration["counts"], dtype=float), np.asarray(calibration["hits"], dtype=float)
    top = probs.argmax(axis=1)
    p_top = ((hits + 1) / (counts + 2))[_bin(probs.max(axis=1))]
    rest = probs.copy()
    rest[np.arange(len(probs)), top] = 0.0
    # A one-hot prediction leaves nothing to share in proportion: the other answers share equally.
    flat = rest.sum(axis=1, keepdims=True) <= 0
    rest = np.where(flat, 1.0, rest)
    rest[np.arange(len(probs)), top] = 0.0
    share = rest / rest.sum(axis=1, keepdims=True)
    out = share * (1 - p_top)[:, None]
    out[np.arange(len(probs)), top] = p_top
    return out


def _bin(top: np.ndarray) -> np.ndarray:
    return np.minimum((top * N_BINS).astype(int), N_BINS - 1)
