"""Ranking the galaxies one researcher finds interesting, from a few of their labels.

The loop is Astronomaly's (Lochner & Bassett 2021, Astronomy and Computing 36, 100481), run on the
classifier's representation as in Walmsley et al. 2022 (MNRAS 513, 1581, Sec. 5):

1. an unsupervised anomaly score ranks the galaxies before any label: an isolation forest (Liu,
   Ting & Zhou 2008, ICDM) on the PCA-compressed embeddings;
2. the researcher marks galaxies interesting (1) or not (0);
3. a Gaussian process (Rasmussen & Williams 2006) learns where the labels depart from the
   unsupervised score (scaled to [0.25, 0.75]), ``label - prior``, so the ranking follows the researcher's taste where
   there are labels and falls back on the anomaly score far from them;
4. the next galaxies to show maximise ``mean + beta * std`` (upper confidence bound), which looks
   at the likely-interesting ones first while still probing unexplored parts of the space.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _compress(x: np.ndarray, n_components: int, random_state: int) -> np.ndarray:
    """``(N, D)`` -> ``(N, min(n_components, N, D))`` PCA scores (not whitened: that would blow weak,
    noisy directions up to the size of the strong ones)."""
    from sklearn.decomposition import PCA

    n = max(1, min(n_components, x.shape[0], x.shape[1]))
    return PCA(n_components=n, random_state=random_state).fit_transform(x)


MIN_LABELS_TO_FIT = 30


class IsolationForestRanker:
    """Unsupervised peer: the isolation forest's anomaly score, ignoring labels.

    Parameters
    ----------
    n_components : int
        PCA components kept before the forest.
    random_state : int
        Seeds PCA and the forest.
    """

    def __init__(self, n_components: int = 16, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, x: np.ndarray, labelled: np.ndarray | None = None, labels: np.ndarray | None = None):
        """Fit on ``x`` ``(N, D)``; ``labelled`` ``(L,)`` row indices and ``labels`` ``(L,)`` 0/1 are ignored."""
        from sklearn.ensemble import IsolationForest

        self.z_ = _compress(np.asarray(x, dtype=np.float64), self.n_components, self.random_state)
        forest = IsolationForest(n_estimators=200, random_state=self.random_state).fit(self.z_)
        raw = -forest.score_samples(self.z_)  # higher = more anomalous
        span = raw.max() - raw.min()
        # Squeezed into [0.25, 0.75]: a prior is a guess, so a label always departs from it by at
        # least 0.25 and teaches the ranker something, even on the least anomalous galaxy.
        self.prior_ = 0.25 + 0.5 * (raw - raw.min()) / span if span > 0 else np.full(len(raw), 0.5)
        self.mean_, self.std_ = self.prior_.copy(), np.zeros(len(raw))
        return self

    def scores(self) -> np.ndarray:
        """``(N,)`` interest scores of the fitted rows (higher first)."""
        return self.mean_

    def acquire(self, n: int, exclude: np.ndarray | None = None, beta: float = 0.5) -> np.ndarray:
        """The ``n`` rows (not in ``exclude``) to show next, best first."""
        value = self.mean_ + beta * self.std_
        order = np.argsort(-value, kind="stable")
        if exclude is not None and len(exclude):
            order = order[~np.isin(order, exclude)]
        return order[:n]


class GPRanker(IsolationForestRanker):
    """The active loop: the isolation-forest prior plus a GP on the labels' residuals.

    Examples
    --------
    Two clusters; the researcher says the small far one is boring and one point of the big one
    is interesting, so the big cluster's other points rise to the top:

    >>> rng = np.random.default_rng(0)
    >>> x = np.vstack([rng.normal(0, 1, (40, 4)), rng.normal(8, 0.3, (5, 4))])
    >>> r = GPRanker(n_components=4).fit(x, np.array([40, 0]), np.array([0, 1]))
    >>> bool(set(r.acquire(5, exclude=np.array([40, 0]))) <= set(range(40)))
    True
    """

    def fit(self, x: np.ndarray, labelled: np.ndarray | None = None, labels: np.ndarray | None = None):
        """Fit on ``x`` ``(N, D)`` with ``labels`` ``(L,)`` in {0, 1} for rows ``labelled`` ``(L,)``."""
        super().fit(x)
        if labelled is None or len(labelled) == 0:
            return self
        labelled = np.asarray(labelled, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.float64)
        if labels.shape != labelled.shape or not np.isin(labels, (0.0, 1.0)).all():
            raise ValueError("labels must be 0 or 1, one per labelled row")
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        # The length scale starts at half the median distance between galaxies; with few labels the
        # marginal likelihood cannot pin it down (it collapses onto the labelled points), so it is
        # fitted only from MIN_LABELS_TO_FIT labels on, within a factor 4 either way.
        scale = 0.5 * float(np.median(np.linalg.norm(self.z_[:, None] - self.z_[None, :256], axis=-1)))
        fit = len(labelled) >= MIN_LABELS_TO_FIT
        kernel = ConstantKernel(0.25, (0.05, 1.0)) * RBF(scale, (scale / 4, scale * 4)) + WhiteKernel(0.05, (1e-3, 0.3))
        gp = GaussianProcessRegressor(kernel, optimizer="fmin_l_bfgs_b" if fit else None,
                                      random_state=self.random_state)
        gp.fit(self.z_[labelled], labels - self.prior_[labelled])
        residual, std = gp.predict(self.z_, return_std=True)
        self.mean_ = self.prior_ + residual
        self.mean_[labelled] = labels  # a galaxy the researcher judged is what they said
        self.std_ = std
        self.std_[labelled] = 0.0
        self.kernel_ = gp.kernel_
        return self


RANKERS: dict[str, Callable[..., IsolationForestRanker]] = {
    "gp": GPRanker,
    "isolation_forest": IsolationForestRanker,
}
