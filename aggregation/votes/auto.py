"""Model choice per question by held-out vote likelihood: the default aggregator (``method="auto"``).

No single worker model wins everywhere: sparse crowds overfit full confusion
matrices, class-dependent crowds need them, and spammers and correlated workers
need their own models.  The evidence decides: each candidate is scored by the
cross-validated log-probability of votes it did not see (never by truth), and
the best is refitted on all votes.
"""
from __future__ import annotations

import numpy as np

from ..base import EncodedVotes
from .dawid_skene import EBCC, MACE, DawidSkene, EMAggregator, OneCoinDawidSkene, SubtypeMixture
from .em import heldout_log_likelihood

# Simplest first: a later candidate must beat an earlier one by this many nats per held-out vote.
CANDIDATES: dict[str, type] = {"one_coin": OneCoinDawidSkene, "mace": MACE, "ds": DawidSkene,
                               "mixture": SubtypeMixture, "ebcc": EBCC}
_MARGIN = 1e-4
# The MAP mixture predicts held-out votes well yet labels worse (its subtypes fit worker noise), so
# it is a candidate only on request; EBCC's VB penalty on thin evidence keeps its subtypes honest.
DEFAULT_CANDIDATES = ("one_coin", "mace", "ds", "ebcc")


class AutoDawidSkene(EMAggregator):
    """Pick the worker model of each question by held-out vote likelihood, then fit it.

    Candidates: one-coin DS (Raykar et al. 2010), MACE (Hovy et al. 2013), full DS with
    empirical-Bayes shrinkage (Dawid & Skene 1979), EBCC fitted by VB and, on request, the
    MAP subtype mixture (both after Li, Rubinstein & Cohn 2019).  The score of a model is the mean over votes of
    ``log P(vote | the other votes)`` in ``folds``-fold cross-validation.

    Parameters
    ----------
    candidates : sequence of str
        Keys of :data:`CANDIDATES` to choose from, simplest first (default :data:`DEFAULT_CANDIDATES`).
    folds : int
        Cross-validation folds over votes.
    Other parameters are those of :class:`~aggregation.votes.dawid_skene.EMAggregator`.

    Attributes
    ----------
    chosen_ : str
        The candidate picked.
    scores_ : dict
        Held-out log-likelihood per vote of every candidate.
    model_ : EMAggregator
        The fitted chosen model; its learned attributes are also set on this estimator.
    """

    def __init__(self, *, candidates=DEFAULT_CANDIDATES, folds: int = 3, **params):
        super().__init__(**params)
        self.candidates = tuple(candidates)
        self.folds = folds

    def _fit_encoded(self, enc: EncodedVotes) -> np.ndarray:
        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if unknown or not self.candidates:
            raise ValueError(f"unknown candidate {unknown[0] if unknown else None!r}; "
                             f"valid names: {', '.join(CANDIDATES)}")
        self.scores_ = {name: self._score(enc, name) for name in self.candidates}
        self.chosen_ = self.candidates[0]
        for name in self.candidates[1:]:
            if self.scores_[name] > self.scores_[self.chosen_] + _MARGIN:
                self.chosen_ = name
        params = {k: v for k, v in self.get_params().items() if k not in ("candidates", "folds")}
        self.model_ = CANDIDATES[self.chosen_](**params)
        post = self.model_._fit_encoded(enc)
        for name, value in vars(self.model_).items():
            if name.endswith("_"):
                setattr(self, name, value)
        return post

    def _score(self, enc: EncodedVotes, name: str) -> float:
        cls = CANDIDATES[name]
        return heldout_log_likelihood((enc.task, enc.worker, enc.label), n_tasks=len(enc.tasks),
                                      n_workers=len(enc.workers), k=enc.n_classes, gold=enc.gold,
                                      model=cls.worker_model, n_subtypes=cls.n_subtypes, folds=self.folds,
                                      random_state=self.random_state, **self._options())

    def get_params(self) -> dict:
        """Constructor parameters (scikit-learn style)."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}
