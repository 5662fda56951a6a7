"""Batch Dawid-Skene EM over sparse votes, with gold clamped and Dirichlet priors.

The nightly re-fit of the whole crowd.  Votes are held as one sparse
(n_tasks, n_workers * K) count matrix A, so both EM steps are two sparse
matrix products and there is no Python loop over votes:

* E-step: ``log T = log rho + A @ log pi`` (reshaped), normalised per task;
* M-step: expected counts ``N[w, k, l] = (A.T @ T)`` plus the prior pseudo-counts.
"""
from __future__ import annotations

import warnings

import numpy as np
from tqdm.auto import tqdm

from ..base import EncodedVotes, VoteAggregator, clamp_gold, log_normalize_rows
from ..online import initial_agent_alpha
from .majority import vote_counts


def confusion_from_counts(a_t, posterior: np.ndarray, n_workers: int, prior: np.ndarray) -> np.ndarray:
    """Posterior Dirichlet pseudo-counts of every worker, shape (n_workers, K, K).

    ``a_t`` is the transposed sparse vote matrix (n_workers * K, n_tasks); its
    product with the (n_tasks, K) posterior gives expected counts indexed
    [worker * K + answer, true class], which are reordered to [worker, true, answer].
    """
    k = posterior.shape[1]
    counts = np.asarray(a_t @ posterior.astype(a_t.dtype)).reshape(n_workers, k, k).transpose(0, 2, 1)
    return counts + prior


def log_task_posterior(a, log_confusion: np.ndarray, log_class_prior: np.ndarray,
                       gold: np.ndarray) -> tuple[np.ndarray, float]:
    """E-step: (n_tasks, K) normalised log posteriors and the data log-likelihood.

    ``a`` is the sparse (n_tasks, n_workers * K) vote matrix; ``log_confusion`` has shape
    (n_workers, K, K) indexed [worker, true, answer].
    """
    n_workers, k, _ = log_confusion.shape
    per_answer = log_confusion.transpose(0, 2, 1).reshape(n_workers * k, k)
    joint = log_class_prior + np.asarray(a @ per_answer.astype(a.dtype), dtype=float)
    # Normalise in log space: a task with hundreds of votes has a joint far below float range.
    log_post, norm = log_normalize_rows(joint)
    return clamp_gold(log_post, gold), float(norm.sum())


def _normalise_rows(pseudo_counts: np.ndarray) -> np.ndarray:
    return np.log(pseudo_counts) - np.log(pseudo_counts.sum(axis=-1, keepdims=True))


class DawidSkene(VoteAggregator):
    """Dawid & Skene (1979) confusion-matrix model, fitted by MAP-EM on sparse votes.

    Model: task i has class z_i ~ Categorical(rho); worker w answers l with
    probability pi_w[z_i, l].  Priors: rho ~ Dirichlet(1 + class_prior_strength),
    each row pi_w[k] ~ Dirichlet(1 + c_k) with c the pseudo-counts of
    :func:`~aggregation.online.initial_agent_alpha` (``strength``, ``skill``) or
    ``worker_prior``.  Gold tasks are clamped to their class in every E-step
    (as in crowd-kit's ``true_labels``; Dawid & Skene 1979, Applied Statistics 28, 20).

    Parameters
    ----------
    strength, skill : float
        Prior pseudo-counts per confusion row and their diagonal share.
    worker_prior : ndarray of shape (K, K), optional
        Pseudo-counts for every worker, e.g. ``HierarchicalDS.population_alpha_``.
    class_prior_strength : float
        Pseudo-count added to each class count.
    max_iter, tol : int, float
        Stop when the data log-likelihood per vote changes by less than ``tol`` (crowd-kit's rule).
    progress : bool
        Show a tqdm bar over iterations.

    Attributes
    ----------
    worker_alpha_ : ndarray of shape (n_workers, K, K)
        Posterior pseudo-counts (prior plus expected counts), rows = true class;
        a row of it seeds :func:`~aggregation.online.initial_agent_alpha`.
    workers_ : Index
        Worker of each row of ``worker_alpha_``.
    confusion_ : ndarray of shape (n_workers, K, K)
        MAP confusion matrices.
    class_prior_ : ndarray of shape (K,)
    log_likelihood_ : float
    n_iter_ : int
    converged_ : bool

    Examples
    --------
    >>> import pandas as pd
    >>> votes = pd.DataFrame({"task": [1, 1, 1, 2, 2, 2], "worker": list("abcabc"),
    ...                       "label": ["x", "x", "y", "y", "y", "y"]})
    >>> DawidSkene().fit(votes).labels_.tolist()
    ['x', 'y']
    """

    def __init__(self, *, strength: float = 1.0, skill: float = 0.7, worker_prior: np.ndarray | None = None,
                 class_prior_strength: float = 1.0, max_iter: int = 100, tol: float = 1e-6,
                 progress: bool = False, classes=None):
        self.strength = strength
        self.skill = skill
        self.worker_prior = worker_prior
        self.class_prior_strength = class_prior_strength
        self.max_iter = max_iter
        self.tol = tol
        self.progress = progress
        self.classes = classes

    def _fit_encoded(self, enc: EncodedVotes) -> np.ndarray:
        k, n_workers = enc.n_classes, len(enc.workers)
        prior = initial_agent_alpha(k, prior=self.worker_prior, strength=self.strength, skill=self.skill)
        # float32 votes and posteriors: the sparse products are memory-bound, and single
        # precision halves the traffic; sums over a task's votes stay far inside float32 accuracy.
        a = enc.task_worker_label_matrix(dtype=np.float32)
        a_t = a.T.tocsr()
        counts = vote_counts(enc)
        # Start from vote fractions: EM from a uniform start has no reason to break the label symmetry.
        post = np.exp(clamp_gold(np.log(np.maximum(counts / counts.sum(1, keepdims=True), 1e-300)), enc.gold))
        self.converged_, previous = False, -np.inf
        for self.n_iter_ in tqdm(range(1, self.max_iter + 1), disable=not self.progress, desc="Dawid-Skene EM"):
            alpha = confusion_from_counts(a_t, post, n_workers, prior)
            class_counts = post.sum(axis=0) + self.class_prior_strength
            log_rho = np.log(class_counts / class_counts.sum())
            log_post, self.log_likelihood_ = log_task_posterior(a, _normalise_rows(alpha), log_rho, enc.gold)
            post = np.exp(log_post)
            if abs(self.log_likelihood_ - previous) < self.tol * len(enc.task):
                self.converged_ = True
                break
            previous = self.log_likelihood_
        if not self.converged_:
            warnings.warn(f"DawidSkene did not converge in {self.max_iter} iterations", RuntimeWarning,
                          stacklevel=3)
        self.worker_alpha_ = confusion_from_counts(a_t, post, n_workers, prior)
        self.confusion_ = np.exp(_normalise_rows(self.worker_alpha_))
        self.workers_ = enc.workers
        self.class_prior_ = np.exp(log_rho)
        return post
