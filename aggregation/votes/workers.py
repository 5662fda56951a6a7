"""Worker models of the EM engine: each turns expected counts into confusion matrices.

Every model takes the expected counts ``C[w, s, l]`` (worker w answered l on items
whose latent state is s; a state belongs to one class, ``state_class[s]``) and
returns the posterior-mean confusion ``pi`` and the Dirichlet pseudo-counts
``alpha`` behind it, both of shape (n_workers, S, K).  The prior of every worker is
the population (empirical Bayes): its centre is the crowd's pooled behaviour and
its strength is the one that maximises the Dirichlet-multinomial marginal
likelihood of all workers' counts (Minka 2000, "Estimating a Dirichlet
distribution"), re-learned in each M-step.  A worker with fewer than
``min_votes`` votes takes the population's one-coin skill instead.

Models: full confusion (Dawid & Skene 1979, Applied Statistics 28, 20), one coin
per worker (the "one-coin" DS of Raykar et al. 2010, JMLR 11, 1297, Sec. 2 and
crowd-kit's OneCoinDawidSkene), and the spammer model of MACE (Hovy, Berg-Kirkpatrick,
Vaswani & Hovy 2013, NAACL): with probability theta a worker answers the truth,
otherwise a label from their own spam distribution xi.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln

# Candidate prior strengths (pseudo-votes per confusion row): a grid, because the
# marginal likelihood is one-dimensional and cheap, and a grid never diverges.
STRENGTHS = np.geomspace(0.25, 2e3, 24)
# Hyperprior of the population: CROWD_VOTES pseudo-votes per row at CROWD_SKILL accuracy.  It says
# "the crowd is better than chance" and keeps a crowd of a few split votes from collapsing to
# accuracy 1/2 (the maximum-likelihood fixed point there); a few thousand real votes outweigh it.
CROWD_VOTES, CROWD_SKILL = 10.0, 0.75


@dataclass
class WorkerFit:
    """Output of a worker model: ``pi`` and ``alpha`` (n_workers, S, K), and state kept between M-steps."""

    pi: np.ndarray
    alpha: np.ndarray
    n_params: int
    state: dict = field(default_factory=dict)


def dirichlet_strength(counts: np.ndarray, centre: np.ndarray) -> float:
    """Strength m maximising sum over rows of log DirMult(counts_r | m * centre) on :data:`STRENGTHS`.

    Parameters
    ----------
    counts : ndarray of shape (R, K)
        Expected counts of R workers (rows with no votes carry no information and drop out).
    centre : ndarray of shape (K,)
        Population mean, positive, summing to one.
    """
    counts = counts[counts.sum(axis=1) > 0]
    if not len(counts):
        return float(STRENGTHS[len(STRENGTHS) // 2])
    m = STRENGTHS[:, None, None]
    a = m * centre[None, None, :]
    # gammaln of non-integer expected counts: the marginal likelihood extends smoothly to EM's soft counts.
    score = (gammaln(m[:, :, 0]) - gammaln(m[:, :, 0] + counts.sum(1)[None])).sum(1)
    score = score + (gammaln(counts[None] + a) - gammaln(a)).sum(axis=(1, 2))
    return float(STRENGTHS[int(np.argmax(score))])


def correct_mask(state_class: np.ndarray, k: int) -> np.ndarray:
    """(S, K) boolean: answer l is the truth of state s."""
    return state_class[:, None] == np.arange(k)[None, :]


def one_coin_confusion(accuracy: np.ndarray, state_class: np.ndarray, k: int) -> np.ndarray:
    """(..., S, K) confusion of workers with ``accuracy`` (...,) and errors spread evenly."""
    acc = np.asarray(accuracy, dtype=float)[..., None, None]
    return np.where(correct_mask(state_class, k), acc, (1.0 - acc) / (k - 1))


def _accuracy_counts(counts: np.ndarray, state_class: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per worker (n_workers,) expected correct answers and votes."""
    mask = correct_mask(state_class, counts.shape[-1])
    return (counts * mask).sum(axis=(1, 2)), counts.sum(axis=(1, 2))


def _population_accuracy(hits: np.ndarray, totals: np.ndarray) -> float:
    """The crowd's pooled accuracy under the :data:`CROWD_SKILL` hyperprior."""
    return float(np.clip((hits.sum() + CROWD_VOTES * CROWD_SKILL) / (totals.sum() + CROWD_VOTES), 1e-3, 1 - 1e-3))


def _beta_fit(hits: np.ndarray, totals: np.ndarray) -> tuple[float, float, float]:
    """Population mean, EB strength and the (n,) posterior-mean rates of a beta-binomial crowd."""
    mean = _population_accuracy(hits, totals)
    pair = np.stack([hits, totals - hits], axis=1)
    m = dirichlet_strength(pair, np.array([mean, 1.0 - mean]))
    return mean, m, (hits + m * mean) / (totals + m)


def _few_vote_fallback(fit: WorkerFit, counts: np.ndarray, state_class: np.ndarray, min_votes: int) -> WorkerFit:
    """Give workers with fewer than ``min_votes`` votes the population's one-coin skill."""
    hits, totals = _accuracy_counts(counts, state_class)
    few = totals < min_votes
    if few.any():
        mean = _population_accuracy(hits, totals)
        k = counts.shape[-1]
        fit.pi[few] = one_coin_confusion(mean, state_class, k)
        fit.alpha[few] = fit.pi[few] * (counts[few].sum(-1, keepdims=True) + 1.0)
    return fit


def full_confusion(counts: np.ndarray, state_class: np.ndarray, *, min_votes: int = 0,
                   state: dict | None = None) -> WorkerFit:
    """Full confusion rows shrunk to the population row with a learned strength per state.

    ``alpha[w, s] = C[w, s] + m_s * P_s`` with ``P_s`` the pooled answer distribution of
    the class of state s and ``m_s`` its empirical-Bayes strength.
    """
    n_workers, s, k = counts.shape
    # Pool by class, not by state: every subtype of a class shrinks to that class's row,
    # which keeps a subtype from drifting to stand for another class.
    pooled = np.zeros((k, k))
    np.add.at(pooled, state_class, counts.sum(axis=0))
    centre = pooled + CROWD_VOTES * np.where(np.eye(k, dtype=bool), CROWD_SKILL, (1 - CROWD_SKILL) / (k - 1))
    # Diagonal dominance of the population (DS's identifiability assumption): on items of
    # class k the crowd says k at least as often as any other answer, so a class cannot drift away.
    np.fill_diagonal(centre, np.maximum(np.diag(centre), centre.max(axis=1)))
    centre = (centre / centre.sum(axis=1, keepdims=True))[state_class]
    strength = np.array([dirichlet_strength(counts[:, r], centre[r]) for r in range(s)])
    alpha = counts + strength[None, :, None] * centre[None]
    fit = WorkerFit(alpha / alpha.sum(axis=-1, keepdims=True), alpha, n_workers * s * (k - 1),
                    {"strength": strength})
    return _few_vote_fallback(fit, counts, state_class, min_votes)


def one_coin(counts: np.ndarray, state_class: np.ndarray, *, min_votes: int = 0,
             state: dict | None = None) -> WorkerFit:
    """One accuracy per worker, Beta prior at the population accuracy with a learned strength."""
    hits, totals = _accuracy_counts(counts, state_class)
    _, m, accuracy = _beta_fit(hits, totals)
    pi = one_coin_confusion(accuracy, state_class, counts.shape[-1])
    fit = WorkerFit(pi, pi * (counts.sum(-1, keepdims=True) + m), counts.shape[0], {"strength": m})
    return _few_vote_fallback(fit, counts, state_class, min_votes)


def mace(counts: np.ndarray, state_class: np.ndarray, *, min_votes: int = 0,
         state: dict | None = None) -> WorkerFit:
    """MACE spammer model: ``pi[w, s, l] = theta_w [l = class(s)] + (1 - theta_w) xi_w[l]``.

    One generalised-EM step on the spam indicator per call: a wrong answer is
    surely spam; a right one is spam with odds ``(1 - theta) xi_l : theta``.
    theta and xi get population priors with empirical-Bayes strengths.
    """
    n_workers, _, k = counts.shape
    state = state or {}
    theta = state.get("theta", np.full(n_workers, 0.5))
    xi = state.get("xi", np.full((n_workers, k), 1.0 / k))
    right = correct_mask(state_class, k)[None]
    spam_share = (1 - theta)[:, None, None] * xi[:, None, :]
    resp = np.where(right, spam_share / (theta[:, None, None] + spam_share), 1.0)
    spam = (counts * resp).sum(axis=1)
    totals = counts.sum(axis=(1, 2))
    _, _, theta = _beta_fit(totals - spam.sum(1), totals)
    centre = (spam.sum(0) + 1.0) / (spam.sum() + k)
    m = dirichlet_strength(spam, centre)
    xi = (spam + m * centre) / (spam.sum(1, keepdims=True) + m)
    pi = np.where(right, theta[:, None, None], 0.0) + (1 - theta)[:, None, None] * xi[:, None, :]
    fit = WorkerFit(pi, pi * (counts.sum(-1, keepdims=True) + m), n_workers * k, {"theta": theta, "xi": xi})
    return _few_vote_fallback(fit, counts, state_class, min_votes)


WORKER_MODELS = {"one_coin": one_coin, "mace": mace, "full": full_confusion}
