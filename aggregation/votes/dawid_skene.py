"""Dawid-Skene-family estimators: full DS, one-coin DS, MACE and the EBCC-style mixture.

All four share the EM engine of :mod:`aggregation.votes.em` and differ only in
the worker model (:mod:`aggregation.votes.workers`) and the number of latent
subtypes per class.  Each reports posterior-mean task probabilities, credible
intervals sampled from the Dirichlet posterior of the worker confusions, and
per-worker skill intervals.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..base import EncodedVotes, VoteAggregator
from ..online import information_gain
from .em import EMResult, Problem, e_step, em_fit, problem_build
from .vb import N_SUBTYPES
from .workers import full_confusion

# Interval draws are capped at this many (draw, task, class) cells, so memory stays bounded on big crowds.
_MAX_DRAW_CELLS = 20_000_000


def encoded_problem(enc: EncodedVotes, n_subtypes: int = 1) -> Problem:
    """The engine's :class:`~aggregation.votes.em.Problem` for encoded votes."""
    return problem_build(enc.task, enc.worker, enc.label, n_tasks=len(enc.tasks), n_workers=len(enc.workers),
                         k=enc.n_classes, gold=enc.gold, n_subtypes=n_subtypes)


def class_level(problem: Problem, run: EMResult, values: np.ndarray) -> np.ndarray:
    """Collapse (n_workers, S, K) per-state rows to (n_workers, K, K) per class, weighting subtypes by prior."""
    if len(problem.state_class) == problem.k:
        return values
    rho = np.exp(run.log_rho)
    weight = rho / np.bincount(problem.state_class, rho, minlength=problem.k)[problem.state_class]
    out = np.zeros((values.shape[0], problem.k, problem.k))
    np.add.at(out, (slice(None), problem.state_class), values * weight[None, :, None])
    return out


def posterior_draws(problem: Problem, run: EMResult, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Task class probabilities (n_draws, n_tasks, K) under sampled worker confusions and class prior.

    Each draw samples every confusion row from its Dirichlet(alpha) posterior and the
    class prior from Dirichlet(posterior class counts + 1), then runs one E-step: the
    spread of the task probabilities over draws is their parameter uncertainty.
    """
    tasks = []
    counts = run.post.sum(axis=0) + 1.0
    for _ in range(n_draws):
        gam = rng.gamma(np.maximum(run.workers.alpha, 1e-6))
        pi = gam / gam.sum(axis=-1, keepdims=True)
        log_rho = np.log(np.maximum(rng.dirichlet(counts), 1e-300))
        post, _ = e_step(problem, pi, log_rho)
        by_class = np.zeros((post.shape[0], problem.k), dtype=np.float32)
        np.add.at(by_class.T, problem.state_class, post.T)
        tasks.append(by_class)
    return np.stack(tasks)


def skill_draws(problem: Problem, post: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """(n_draws, n_workers) skill in bits, each draw a full confusion given sampled true classes.

    Each draw samples every task's class from its (n_tasks, K) posterior ``post``, counts
    each worker's answers against those classes, and samples the confusion rows from the
    posterior of the shrunk full-confusion model (:func:`~aggregation.votes.workers.full_confusion`,
    its empirical-Bayes prior re-learned on the draw).  Sampling the classes carries the
    uncertainty of the labels into the skill (one Gibbs sweep from the fitted posterior),
    and the full confusion describes the worker whatever simpler model labelled the tasks,
    so a one-coin fit of a biased worker cannot make the interval miss the worker's skill.
    """
    k = problem.k
    cum = np.cumsum(post, axis=1)
    draws = []
    for _ in range(n_draws):
        # Inverse-CDF sampling of one class per task; min() guards the rounding of the last cumsum.
        z = np.minimum((rng.random((len(post), 1)) > cum).sum(axis=1), k - 1)
        onehot = np.eye(k, dtype=np.float32)[z]
        counts = np.asarray(problem.a_t @ onehot, dtype=float).reshape(problem.n_workers, k, k).transpose(0, 2, 1)
        alpha = full_confusion(counts, np.arange(k)).alpha
        gam = rng.gamma(np.maximum(alpha, 1e-6))
        draws.append(information_gain(gam / gam.sum(axis=-1, keepdims=True)))
    return np.stack(draws)


def population_alpha(confusion: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(K, K) Dirichlet pseudo-counts matching the vote-weighted mean and variance of worker confusion rows.

    A Dirichlet with mean m and concentration s has var_j = m_j (1 - m_j) / (s + 1); solving for s
    per row gives the population prior a new agent of the online engine starts from.
    """
    w = weights / max(weights.sum(), 1e-12)
    mean = np.einsum("w,wkl->kl", w, confusion)
    var = np.einsum("w,wkl->kl", w, (confusion - mean) ** 2)
    concentration = np.mean(mean * (1 - mean) / np.maximum(var, 1e-12) - 1.0, axis=1, keepdims=True)
    return mean * np.clip(concentration, 1.0, 1e4)


class EMAggregator(VoteAggregator):
    """Shared estimator of the Dawid-Skene family (fit by MAP-EM; see :mod:`aggregation.votes.em`).

    Parameters
    ----------
    n_restarts : int
        EM runs; the one with the highest log-likelihood is kept.
    guard : float
        Each class prior stays within ``[share / guard, share * guard]`` of its vote share.
    min_votes : int
        Workers with fewer votes take the population's one-coin skill.
    n_draws : int
        Posterior draws for ``probas_interval_`` and ``worker_skill_interval_`` (0: none).
    interval : float
        Mass of the credible intervals.
    max_iter, tol : int, float
        Stop when the log-likelihood per vote changes by less than ``tol``.
    random_state : int
    classes : sequence, optional

    Attributes
    ----------
    confusion_ : ndarray of shape (n_workers, K, K)
        Posterior-mean confusion matrices, rows = true class.
    worker_alpha_ : ndarray of shape (n_workers, K, K)
        Dirichlet pseudo-counts behind them; a row seeds :func:`~aggregation.online.initial_agent_alpha`.
    workers_ : Index
    class_prior_ : ndarray of shape (K,)
    population_alpha_ : ndarray of shape (K, K)
        The crowd as Dirichlet pseudo-counts (:func:`population_alpha`), for ``initial_agent_alpha(prior=...)``.
    log_likelihood_ : float
    n_iter_ : int
    converged_ : bool
    probas_interval_ : DataFrame
        Index task; columns ``("lower", class)`` and ``("upper", class)``; always contains ``probas_``.
    worker_skill_interval_ : DataFrame
        Index worker; ``skill, lower, upper`` in bits (:func:`~aggregation.online.information_gain`).
    """

    worker_model = "full"
    n_subtypes = 1

    def __init__(self, *, n_restarts: int = 3, guard: float = 3.0, min_votes: int = 3, n_draws: int = 100,
                 interval: float = 0.95, max_iter: int = 100, tol: float = 1e-6, random_state: int = 0,
                 progress: bool = False, classes=None):
        self.n_restarts = n_restarts
        self.guard = guard
        self.min_votes = min_votes
        self.n_draws = n_draws
        self.interval = interval
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.progress = progress
        self.classes = classes

    def _options(self) -> dict:
        return {"guard": self.guard, "min_votes": self.min_votes, "max_iter": self.max_iter, "tol": self.tol}

    def _fit_encoded(self, enc: EncodedVotes) -> np.ndarray:
        problem = encoded_problem(enc, self.n_subtypes)
        run = em_fit(problem, self.worker_model, n_restarts=self.n_restarts, random_state=self.random_state,
                     **self._options())
        if not run.converged:
            warnings.warn(f"{type(self).__name__} did not converge in {self.max_iter} iterations", RuntimeWarning,
                          stacklevel=3)
        self._store(problem, run, enc)
        post = np.zeros((len(enc.tasks), enc.n_classes))
        np.add.at(post.T, problem.state_class, run.post.T)
        return self._intervals(problem, run, enc, post)

    def _store(self, problem: Problem, run: EMResult, enc: EncodedVotes) -> None:
        self.confusion_ = class_level(problem, run, run.workers.pi)
        self.worker_alpha_ = class_level(problem, run, run.workers.alpha)
        self.workers_ = enc.workers
        self.class_prior_ = np.bincount(problem.state_class, np.exp(run.log_rho), minlength=enc.n_classes)
        self.population_alpha_ = population_alpha(self.confusion_, np.bincount(enc.worker, minlength=len(enc.workers)))
        self.log_likelihood_, self.n_iter_, self.converged_ = run.log_likelihood, run.n_iter, run.converged

    def _intervals(self, problem: Problem, run: EMResult, enc: EncodedVotes, post: np.ndarray) -> np.ndarray:
        """Fill the interval attributes; returns the task probabilities (posterior mean over draws)."""
        n_draws = min(self.n_draws, _MAX_DRAW_CELLS // max(post.size, 1))
        self.probas_interval_ = self.worker_skill_interval_ = None
        if n_draws < 2:
            return post
        tasks = posterior_draws(problem, run, n_draws, np.random.default_rng(self.random_state))
        # Gold rows are one-hot in every draw; elsewhere averaging over draws is the posterior predictive.
        mean = tasks.mean(axis=0, dtype=float)
        mean = mean / mean.sum(axis=1, keepdims=True)
        tail = (1.0 - self.interval) / 2
        # Quantiles of a few draws can miss the mean by Monte-Carlo noise; widen to contain it.
        lower = np.minimum(np.quantile(tasks, tail, axis=0), mean)
        upper = np.maximum(np.quantile(tasks, 1 - tail, axis=0), mean)
        columns = pd.MultiIndex.from_product([["lower", "upper"], enc.classes], names=["bound", "label"])
        self.probas_interval_ = pd.DataFrame(np.concatenate([lower, upper], axis=1), index=enc.tasks,
                                             columns=columns)
        skill = skill_draws(problem, post, n_draws, np.random.default_rng([self.random_state, 1]))
        self.worker_skill_interval_ = pd.DataFrame(
            {"skill": np.median(skill, axis=0), "lower": np.quantile(skill, tail, axis=0),
             "upper": np.quantile(skill, 1 - tail, axis=0)}, index=enc.workers)
        return mean


class DawidSkene(EMAggregator):
    """Full Dawid & Skene (1979) confusion matrices with empirical-Bayes shrinkage to the population.

    Model: z_i ~ Categorical(rho); worker w answers l with probability pi_w[z_i, l];
    pi_w[k] ~ Dirichlet(m_k P_k) with P_k the pooled row of class k and m_k learned in the
    M-step by maximising the Dirichlet-multinomial marginal likelihood.  Gold tasks are
    clamped (Dawid & Skene 1979, Applied Statistics 28, 20).

    Examples
    --------
    >>> votes = pd.DataFrame({"task": [1, 1, 1, 2, 2, 2], "worker": list("abcabc"),
    ...                       "label": ["x", "x", "y", "y", "y", "y"]})
    >>> DawidSkene().fit(votes).labels_.tolist()
    ['x', 'y']
    """

    worker_model = "full"


class OneCoinDawidSkene(EMAggregator):
    """One accuracy per worker, errors spread evenly (Raykar et al. 2010, JMLR 11, 1297; one-coin DS).

    Accuracy ~ Beta at the population accuracy with an empirical-Bayes strength.
    """

    worker_model = "one_coin"


class MACE(EMAggregator):
    """MACE: each worker answers the truth with probability theta, else spams from xi.

    Hovy, Berg-Kirkpatrick, Vaswani & Hovy 2013, "Learning Whom to Trust with MACE", NAACL;
    fitted by EM with population priors on theta and xi.
    """

    worker_model = "mace"


class SubtypeMixture(EMAggregator):
    """EBCC-style mixture: each class has ``n_subtypes`` latent subtypes with their own worker confusions.

    Li, Rubinstein & Cohn 2019, "Exploiting Worker Correlation for Label Aggregation in
    Crowdsourcing", ICML: correlated workers share errors on a subtype.  Fitted by MAP-EM
    (EBCC uses mean-field VB) with shrunk full confusion rows per subtype.
    """

    worker_model = "full"
    n_subtypes = 2


class EBCC(EMAggregator):
    """EBCC: subtypes of each class on which workers err alike, fitted by mean-field VB.

    Li, Rubinstein & Cohn 2019, "Exploiting Worker Correlation for Label Aggregation in
    Crowdsourcing", ICML; the model, priors and defaults are in :mod:`aggregation.votes.vb`
    (10 subtypes per class, a sparse Dirichlet over them, 4 : 1 pseudo-votes for the right answer).
    ``guard`` and ``min_votes`` do not apply; restarts are kept by ELBO.

    Examples
    --------
    >>> votes = pd.DataFrame({"task": [1, 1, 1, 2, 2, 2, 3, 3, 3], "worker": list("abcabcabc"),
    ...                       "label": list("xxyyyyxxx")})
    >>> EBCC(n_draws=0).fit(votes).labels_.tolist()
    ['x', 'y', 'x']
    """

    worker_model = "vb"
    n_subtypes = N_SUBTYPES
