"""Active learning: which galaxies volunteers should see first.

BALD (Houlsby et al. 2011, arXiv:1112.5745) scores a galaxy by the mutual
information between the next vote and the model weights, estimated from MC
dropout and ensemble samples (Walmsley et al. 2020, MNRAS 491, 1554).
"""
from __future__ import annotations

import numpy as np

_EPS = 1e-12  # keeps log(0) finite; 0 log 0 is taken as 0


def entropy(probs: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) along ``axis``; rows need not be normalised exactly."""
    p = np.clip(np.asarray(probs, dtype=float), _EPS, 1.0)
    return -(p * np.log(p)).sum(axis=axis)


def bald_score(probs_samples: np.ndarray) -> np.ndarray:
    """Mutual information between one vote and the model, from posterior samples.

    ``I = H[mean_s p_s] - mean_s H[p_s]``: high when each sample is confident but
    the samples disagree (epistemic uncertainty), zero when they agree.

    Parameters
    ----------
    probs_samples : numpy.ndarray
        ``(S, N, K)`` predicted answer probabilities for ``S`` samples (dropout
        masks x ensemble members), ``N`` galaxies and ``K`` answers.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` mutual information in nats, in ``[0, log K]``.

    Examples
    --------
    >>> import numpy as np
    >>> agree = np.array([[[0.5, 0.5]], [[0.5, 0.5]]])
    >>> disagree = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> float(bald_score(agree)[0]), round(float(bald_score(disagree)[0]), 4)
    (0.0, 0.6931)
    """
    p = np.asarray(probs_samples, dtype=float)
    if p.ndim != 3:
        raise ValueError(f"probs_samples must be (S, N, K), got shape {p.shape}")
    mi = entropy(p.mean(axis=0)) - entropy(p).mean(axis=0)
    return np.clip(mi, 0.0, None)  # tiny negatives are rounding error


def queue_priority(*, bald_rank: np.ndarray | None, uncertainty: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """Blend the model's BALD rank and the engine's posterior uncertainty into a priority in [0, 1].

    ``weight * bald_rank + (1 - weight) * uncertainty``. Each term already lies in [0, 1]:
    the BALD rank is taken once over the survey when a version starts serving
    (:func:`rank01`; BALD's scale moves between versions), and the uncertainty is the
    posterior's entropy over ``log K``. Neither depends on the other galaxies' votes, so a
    galaxy's priority can be refreshed alone, when its own votes change: O(changed), not
    O(survey), per aggregation batch. Without a model (``bald_rank`` None) the priority is
    the uncertainty itself.

    Parameters
    ----------
    bald_rank : numpy.ndarray or None
        ``(N,)`` rank of the serving model's mutual information in [0, 1]; NaN for a galaxy it
        has not scored, which counts as 0 (the model has no reason to show it sooner).
    uncertainty : numpy.ndarray
        ``(N,)`` normalised posterior entropy in [0, 1] (1.0 for a galaxy nobody has classified).
    weight : float
        Share of the model's term, in [0, 1].

    Returns
    -------
    numpy.ndarray
        ``(N,)`` priorities in [0, 1]; higher means show sooner.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight}")
    h = np.asarray(uncertainty, dtype=float)
    if bald_rank is None:
        return h
    b = np.asarray(bald_rank, dtype=float)
    if b.shape != h.shape:
        raise ValueError(f"bald_rank has shape {b.shape} but uncertainty has {h.shape}")
    return weight * np.nan_to_num(b, nan=0.0) + (1.0 - weight) * h


def rank01(x: np.ndarray) -> np.ndarray:
    """Ranks of ``(N,)`` scores scaled to [0, 1], ties sharing their mean rank; NaN counts as lowest."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {x.shape}")
    if x.size <= 1:
        return np.ones_like(x)
    filled = np.where(np.isnan(x), -np.inf, x)
    order = np.argsort(filled, kind="stable")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(x.size, dtype=float)
    # Average ranks within ties so equal scores get equal priority.
    _, inverse = np.unique(filled, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse] / (x.size - 1)
