"""The EM engine behind every Dawid-Skene-family model: E-step, guarded class prior, restarts, held-out score.

Votes are one sparse (n_tasks, n_workers * K) count matrix A, so both EM steps are
sparse matrix products with no Python loop over votes.  Each task has a latent
*state* s; state s stands for class ``state_class[s]``.  With one state per class
this is Dawid & Skene (1979); with several subtypes per class it is the mixture of
EBCC (Li, Rubinstein & Cohn 2019, "Exploiting Worker Correlation for Label
Aggregation in Crowdsourcing", ICML): items of a class come in subtypes on which
workers err alike, so correlated errors are explained instead of counted twice.
EBCC fits this by mean-field VB; here it is MAP-EM with the empirical-Bayes worker
priors of :mod:`aggregation.votes.workers`.

* E-step: ``log T = log rho + A @ log pi`` (reshaped), normalised per task;
* M-step: expected counts ``C = A.T @ T`` into a worker model; class prior from T, guarded.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..base import log_normalize_rows
from .workers import WORKER_MODELS, WorkerFit


@dataclass(frozen=True)
class Problem:
    """Votes in the engine's form.

    ``a``: sparse (n_tasks, n_workers * K) counts at column ``worker * K + label``; ``a_t`` its transpose;
    ``gold``: (n_tasks,) class or -1; ``state_class``: (S,) class of each latent state;
    ``vote_share``: (K,) smoothed share of votes per class, the anchor of the prior guard.
    """

    a: sparse.csr_matrix
    a_t: sparse.csr_matrix
    n_workers: int
    k: int
    gold: np.ndarray
    state_class: np.ndarray
    vote_share: np.ndarray


@dataclass
class EMResult:
    """A converged (or stopped) EM run: state posteriors (n_tasks, S), worker fit, log prior (S,)."""

    post: np.ndarray
    workers: WorkerFit
    log_rho: np.ndarray
    log_likelihood: float
    n_iter: int
    converged: bool


def problem_build(task, worker, label, *, n_tasks: int, n_workers: int, k: int, gold: np.ndarray,
                  n_subtypes: int = 1) -> Problem:
    """Build a :class:`Problem` from (n_votes,) integer codes; ``n_subtypes`` latent states per class."""
    # float32 votes and posteriors: the sparse products are memory-bound, and single
    # precision halves the traffic; sums over a task's votes stay far inside float32 accuracy.
    data = np.ones(len(task), dtype=np.float32)
    a = sparse.csr_matrix((data, (task, worker * k + label)), shape=(n_tasks, n_workers * k))
    share = (np.bincount(label, minlength=k) + 1.0) / (len(label) + k)
    return Problem(a, a.T.tocsr(), n_workers, k, np.asarray(gold), np.repeat(np.arange(k), n_subtypes), share)


def e_step(problem: Problem, pi: np.ndarray, log_rho: np.ndarray) -> tuple[np.ndarray, float]:
    """(n_tasks, S) normalised state posteriors and the data log-likelihood; gold tasks clamped to their class."""
    n_workers, s, k = pi.shape
    # Logs of probabilities, floored: a zero in pi must cost a lot, not give -inf times zero.
    per_answer = np.log(np.maximum(pi, 1e-300)).transpose(0, 2, 1).reshape(n_workers * k, s)
    joint = log_rho + np.asarray(problem.a @ per_answer.astype(np.float32), dtype=float)
    has_gold = problem.gold >= 0
    if has_gold.any():
        joint[has_gold] = np.where(problem.state_class[None] == problem.gold[has_gold, None],
                                   joint[has_gold], -np.inf)
    # Normalise in log space: a task with hundreds of votes has a joint far below float range.
    log_post, norm = log_normalize_rows(joint)
    return np.exp(log_post), float(norm.sum())


def expected_counts(problem: Problem, post: np.ndarray) -> np.ndarray:
    """(n_workers, S, K) expected counts ``C[w, s, l]`` from (n_tasks, S) state posteriors."""
    s = post.shape[1]
    flat = np.asarray(problem.a_t @ post.astype(np.float32), dtype=float)
    return flat.reshape(problem.n_workers, problem.k, s).transpose(0, 2, 1)


def guarded_log_prior(problem: Problem, post: np.ndarray, *, guard: float, strength: float = 1.0) -> np.ndarray:
    """(S,) log prior of the states: class shares kept within ``guard`` times the vote share.

    Without the guard a class nobody votes for can grow a large prior and swallow
    items (on fact_eval, 0.1% of the votes became a 13% prior); the clip keeps each
    latent class tied to the answer it stands for.  Subtypes share their class's
    mass in proportion to their posterior counts.
    """
    by_state = post.sum(axis=0) + strength
    by_class = np.bincount(problem.state_class, by_state, minlength=problem.k)
    rho = by_class / by_class.sum()
    lo, hi = problem.vote_share / guard, np.minimum(problem.vote_share * guard, 1.0)
    for _ in range(5):  # clip and renormalise until both hold (a few rounds suffice for small K)
        rho = np.clip(rho, lo, hi)
        rho = rho / rho.sum()
    within = by_state / by_class[problem.state_class]
    return np.log(rho[problem.state_class] * within)


def initial_posterior(problem: Problem, rng: np.random.Generator | None) -> np.ndarray:
    """(n_tasks, S) start: vote fractions, perturbed by ``rng`` (a restart) and split over subtypes.

    Starting from vote fractions breaks EM's label symmetry; a restart multiplies them by
    Gamma noise, and subtypes always get a random split, so restarts explore.
    """
    counts = np.asarray(problem.a.sum(axis=1)).ravel()
    by_class = np.asarray(problem.a @ np.tile(np.eye(problem.k, dtype=np.float32), (problem.n_workers, 1)),
                          dtype=float)
    by_class = np.where(counts[:, None] > 0, by_class, 1.0)
    if rng is not None:
        by_class = (by_class + 0.1) * rng.gamma(2.0, size=by_class.shape)
    post = by_class[:, problem.state_class]
    if len(problem.state_class) > problem.k:
        split = (rng or np.random.default_rng(0)).uniform(0.5, 1.5, size=post.shape)
        post = post * split
    return post / post.sum(axis=1, keepdims=True)


def em_run(problem: Problem, model: str, post: np.ndarray, *, guard: float, min_votes: int,
           max_iter: int, tol: float) -> EMResult:
    """EM from ``post`` until the log-likelihood per vote moves by less than ``tol`` (crowd-kit's rule)."""
    fit_workers, state, previous = WORKER_MODELS[model], {}, -np.inf
    n_votes = problem.a.nnz
    for n_iter in range(1, max_iter + 1):
        workers = fit_workers(expected_counts(problem, post), problem.state_class, min_votes=min_votes,
                              state=state)
        state = workers.state
        log_rho = guarded_log_prior(problem, post, guard=guard)
        post, log_likelihood = e_step(problem, workers.pi, log_rho)
        if abs(log_likelihood - previous) < tol * max(n_votes, 1):
            return EMResult(post, workers, log_rho, log_likelihood, n_iter, True)
        previous = log_likelihood
    return EMResult(post, workers, log_rho, log_likelihood, max_iter, False)


def _runner(model: str):
    """The fitting loop of ``model``: MAP-EM for the worker models, VB for ``"vb"`` (the EBCC mixture)."""
    if model != "vb":
        return em_run
    # Imported here: vb.py builds on this module's E-step, so a top-level import would be circular.
    from .vb import vb_run
    return lambda problem, _model, start, **options: vb_run(problem, start, **options)


def em_fit(problem: Problem, model: str, *, n_restarts: int, random_state: int, **options) -> EMResult:
    """Best of ``n_restarts`` EM runs by log-likelihood; run 0 starts from the vote fractions.

    Ties between runs keep the earlier run, so the result is deterministic for a ``random_state``.
    """
    rng = np.random.default_rng(random_state)
    best = None
    for restart in range(max(n_restarts, 1)):
        start = initial_posterior(problem, rng if restart or len(problem.state_class) > problem.k else None)
        run = _runner(model)(problem, model, start, **options)
        if best is None or run.log_likelihood > best.log_likelihood + 1e-9:
            best = run
    return best


def heldout_log_likelihood(codes: tuple[np.ndarray, np.ndarray, np.ndarray], *, n_tasks: int, n_workers: int,
                           k: int, gold: np.ndarray, model: str, n_subtypes: int, folds: int, random_state: int,
                           **options) -> float:
    """Mean log-probability of each held-out vote given the other votes (``folds``-fold cross-validation).

    The score of vote (i, w, l) is ``log sum_s P(s | other votes of i) pi_w[s, l]``: a
    model is judged on answers it did not see, so a richer worker model wins only
    when its extra parameters predict new votes (never from truth; gold stays clamped).
    """
    task, worker, label = codes
    fold = np.random.default_rng([random_state, 7]).integers(folds, size=len(task))
    total = 0.0
    for f in range(folds):
        train, test = fold != f, fold == f
        problem = problem_build(task[train], worker[train], label[train], n_tasks=n_tasks, n_workers=n_workers,
                                k=k, gold=gold, n_subtypes=n_subtypes)
        run = em_fit(problem, model, n_restarts=1, random_state=random_state, **options)
        prob = np.einsum("vs,vs->v", run.post[task[test]], run.workers.pi[worker[test], :, label[test]])
        total += float(np.log(np.maximum(prob, 1e-300)).sum())
    return total / len(task)
