"""Scores of probabilistic labels against known truth: calibration and binomial intervals.

Pure NumPy (plus the standard library's normal quantile), so the engine, the
machine's version gating and the benchmarks share one definition of each score.

Examples
--------
>>> round(expected_calibration_error([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]], [0, 1, 0, 0]), 3)
0.4
>>> tuple(round(v, 4) for v in binomial_interval(8, 10))
(0.4902, 0.9433)
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np


def expected_calibration_error(probs, truth, *, n_bins: int = 10) -> float:
    """Expected calibration error of the top-class probability (Guo et al. 2017, ICML, Eq. 3).

    Items are put in ``n_bins`` equal-width bins of their highest probability;
    the ECE is the item-weighted mean, over bins, of ``|accuracy - mean confidence|``.

    Parameters
    ----------
    probs : array_like
        ``(N, K)`` class probabilities (rows need not sum exactly to 1).
    truth : array_like
        ``(N,)`` true class indices in ``0..K-1``.
    n_bins : int
        Number of bins over [0, 1]; a probability of exactly 1 falls in the last.

    Returns
    -------
    float
        ECE in [0, 1]; NaN when ``N == 0``.

    Raises
    ------
    ValueError
        On mismatched shapes, non-finite probabilities or out-of-range truth.
    """
    probs, truth = _checked(probs, truth)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if len(truth) == 0:
        return float("nan")
    top = probs.max(axis=1)
    hit = probs.argmax(axis=1) == truth
    bins = np.minimum((top * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, hit, n_bins) - np.bincount(bins, top, n_bins))
    # |sum(hit) - sum(conf)| / N per bin equals share_b * |acc_b - conf_b|.
    return float(gap[count > 0].sum() / len(truth))


def _checked(probs, truth) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=float)
    truth = np.asarray(truth)
    if probs.ndim != 2 or truth.shape != (probs.shape[0],):
        raise ValueError(f"probs must be (N, K) and truth (N,), got {probs.shape} and {truth.shape}")
    if not np.isfinite(probs).all():
        raise ValueError("probs must be finite")
    if truth.size and (not np.issubdtype(truth.dtype, np.integer) or truth.min() < 0
                       or truth.max() >= probs.shape[1]):
        raise ValueError(f"truth must hold class indices in 0..{probs.shape[1] - 1}")
    return probs, truth.astype(int)


def binomial_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927, JASA 22, 209).

    Chosen over the normal (Wald) interval because it stays inside [0, 1] and
    keeps close to nominal coverage for small ``n`` and proportions near 0 or 1
    (Brown, Cai & DasGupta 2001, Stat. Sci. 16, 101), which is where a young
    model's accuracy on a few dozen held-out galaxies lives.

    Parameters
    ----------
    successes : int
        Correct items, ``0 <= successes <= n``.
    n : int
        Items scored (``n >= 0``).
    confidence : float
        Two-sided coverage in (0, 1).

    Returns
    -------
    tuple of float
        ``(lower, upper)``; ``(0.0, 1.0)`` when ``n == 0`` (nothing is known).
    """
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n successes the bound is exactly 0 or 1; rounding would leave 1e-17.
    lower = 0.0 if successes == 0 else float(centre - half)
    upper = 1.0 if successes == n else float(centre + half)
    return lower, upper
