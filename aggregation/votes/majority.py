"""Majority vote: every worker counts the same."""
from __future__ import annotations

import numpy as np

from ..base import EncodedVotes, VoteAggregator, clamp_gold


class MajorityVote(VoteAggregator):
    """Vote fractions as probabilities; the reference every model must beat.

    Ties go to the class with more votes overall, then to the first in ``classes_`` (numbers in numeric
    order).  Gold tasks report their gold class.

    Examples
    --------
    >>> import pandas as pd
    >>> votes = pd.DataFrame({"task": [1, 1, 1], "worker": ["a", "b", "c"], "label": ["x", "y", "x"]})
    >>> MajorityVote().fit(votes).probas_.loc[1].round(3).tolist()
    [0.667, 0.333]
    """

    def __init__(self, *, classes=None):
        self.classes = classes

    def _fit_encoded(self, enc: EncodedVotes) -> np.ndarray:
        counts = vote_counts(enc)
        with np.errstate(divide="ignore"):
            log_frac = np.log(counts / counts.sum(axis=1, keepdims=True))
        return np.exp(clamp_gold(log_frac, enc.gold))


def vote_counts(enc: EncodedVotes) -> np.ndarray:
    """(n_tasks, K) number of votes for each class."""
    k = enc.n_classes
    flat = np.bincount(enc.task * k + enc.label, minlength=len(enc.tasks) * k)
    return flat.reshape(len(enc.tasks), k).astype(float)
