"""Online SWAP: one Bayesian update per vote, the engine the platform runs live.

Each agent (a volunteer, or a machine classifier) holds a K x K matrix of
Dirichlet pseudo-counts ``alpha``: row k is the true class, column l the
answer given.  Its expected confusion matrix is ``alpha / alpha.sum(1)``.
A subject holds a log posterior over the K classes.  A vote on a *gold*
subject teaches the agent; a vote on any other subject moves the subject's
posterior by the agent's expected likelihood of that answer (Marshall et al.
2016, Space Warps, MNRAS 455, 1171; Beck et al. 2018, Galaxy Zoo Express,
MNRAS 476, 5516), generalised from their 2 x 2 (PL, PD) to K classes.

The batch estimator :class:`OnlineSWAP` replays the same :func:`vote_update`
in row order, so a recompute always equals the persisted online state.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from tqdm.auto import tqdm

from .base import EncodedVotes, VoteAggregator, clamp_gold

# Floor on the expected confusion probability: a vote may never drive a class to exactly
# zero, so one careless answer cannot make a later correction impossible.
_EPS = 1e-12

# The most gold votes that teach one agent one question. Gold is a training signal (Marshall et al.
# 2016, §2.2; Beck et al. 2018, §3.1, who stop showing gold once a volunteer is trained), and it is
# the one signal a volunteer can learn in advance: answers leak through feedback to throwaway
# sessions. Past the cap, only agreement with the crowd (the unsupervised update) moves the agent,
# so a gold-only agent's expected confusion stays at most (alpha0_kk + n_k) / (alpha0_k + n_k) with
# sum_k n_k <= GOLD_EVIDENCE_CAP: with the default prior (4, 0.65) a bounded vote weight.
GOLD_EVIDENCE_CAP = 20


def gold_evidence_weight(n_gold: int, *, cap: int | None = GOLD_EVIDENCE_CAP) -> float:
    """The pseudo-count the next gold vote adds for an agent that has had ``n_gold``: 1 below ``cap``, then 0."""
    return 1.0 if cap is None or n_gold < cap else 0.0


def initial_agent_alpha(n_classes: int, *, prior: np.ndarray | None = None, strength: float = 4.0,
                        skill: float = 0.65) -> np.ndarray:
    """Return the starting Dirichlet pseudo-counts of a new agent.

    Parameters
    ----------
    n_classes : int
        K, the number of answers of the question.
    prior : ndarray of shape (K, K), optional
        Pseudo-counts to start from, e.g. ``HierarchicalDS.population_alpha_``;
        a copy is returned.
    strength : float
        Total pseudo-count of each row when no ``prior`` is given (SWAP used 4).
    skill : float
        Probability on the diagonal of the default expected confusion matrix.

    Returns
    -------
    ndarray of shape (K, K)
        Rows: true class; columns: answer given.
    """
    if prior is not None:
        prior = np.array(prior, dtype=float)
        if prior.shape != (n_classes, n_classes) or not (prior > 0).all():
            raise ValueError(f"prior must be a positive ({n_classes}, {n_classes}) matrix")
        return prior
    if n_classes < 2:
        raise ValueError("an agent needs at least two classes")
    if not strength > 0 or not 0 < skill < 1:
        raise ValueError("strength must be > 0 and skill in (0, 1)")
    off = (1.0 - skill) / (n_classes - 1)
    probs = np.full((n_classes, n_classes), off)
    np.fill_diagonal(probs, skill)
    return strength * probs


def initial_log_posterior(n_classes: int, *, prior: np.ndarray | None = None) -> np.ndarray:
    """Log of the class prior of a new subject, shape (K,); uniform unless ``prior`` (K probabilities) is given."""
    if prior is None:
        return np.full(n_classes, -np.log(n_classes))
    prior = np.asarray(prior, dtype=float)
    if prior.shape != (n_classes,) or (prior <= 0).any():
        raise ValueError(f"prior must be {n_classes} positive probabilities")
    return np.log(prior / prior.sum())


def vote_update(*, agent_alpha: np.ndarray, subject_log_posterior: np.ndarray, label: int,
                gold: int | None = None, unsupervised_weight: float = 0.0,
                gold_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """One SWAP step for one vote; pure (the inputs are never changed).

    Parameters
    ----------
    agent_alpha : ndarray of shape (K, K)
        The voting agent's pseudo-counts (rows: true class, columns: answer).
    subject_log_posterior : ndarray of shape (K,)
        The subject's current log posterior.
    label : int
        Index of the answer given.
    gold : int, optional
        The subject's known class.  The agent then learns ``alpha[gold, label] += gold_weight``
        and the subject's posterior is returned unchanged.
    unsupervised_weight : float
        Without gold, after the subject update the agent learns
        ``alpha[:, label] += unsupervised_weight * p_new`` (SWAP's
        "supervised and unsupervised" mode); 0 turns this off.
    gold_weight : float
        The pseudo-count a gold vote adds (see :func:`gold_evidence_weight`); 1 is SWAP's rule.

    Returns
    -------
    (agent_alpha, subject_log_posterior) : new arrays of shapes (K, K) and (K,)
    """
    alpha = np.array(agent_alpha, dtype=float)
    log_post = np.array(subject_log_posterior, dtype=float)
    k = log_post.shape[0]
    if alpha.shape != (k, k):
        raise ValueError(f"agent_alpha has shape {alpha.shape}, expected ({k}, {k})")
    if not 0 <= label < k or (gold is not None and not 0 <= gold < k):
        raise ValueError(f"label and gold must be class indices in [0, {k})")
    if not gold_weight >= 0:
        raise ValueError(f"gold_weight must be >= 0, got {gold_weight!r}")
    if gold is not None:
        alpha[gold, label] += gold_weight
        return alpha, log_post
    expected = alpha[:, label] / alpha.sum(axis=1)
    log_post = log_post + np.log(np.maximum(expected, _EPS))
    # Normalise in log space: after many confident votes the raw products underflow.
    log_post -= logsumexp(log_post)
    if unsupervised_weight > 0:
        alpha[:, label] += unsupervised_weight * np.exp(log_post)
    return alpha, log_post


def information_gain(confusion: np.ndarray) -> np.ndarray:
    """Mutual information in bits between a uniform true class and the answer.

    Parameters
    ----------
    confusion : ndarray of shape (..., K, K)
        Row-stochastic confusion matrices (rows: true class).

    Returns
    -------
    ndarray of shape (...)
        0 for an agent whose answer ignores the truth, log2(K) for a perfect one.
    """
    pi = np.asarray(confusion, dtype=float)
    k = pi.shape[-1]
    answer = pi.mean(axis=-2, keepdims=True)
    # x log x -> 0 as x -> 0; the where() keeps 0 * log 0 out of the sum.
    ratio = np.where(pi > 0, pi / np.maximum(answer, _EPS), 1.0)
    return (pi * np.log2(ratio)).sum(axis=(-2, -1)) / k


def agent_skill(alpha: np.ndarray) -> float:
    """Return the expected information gain per vote in bits at a uniform prior.

    The SWAP "skill" of Marshall et al. (2016, appendix) generalised to K
    classes: the mutual information between the true class and the answer of
    an agent whose confusion matrix is the Dirichlet mean ``alpha / alpha.sum(1)``.
    """
    alpha = np.asarray(alpha, dtype=float)
    return float(information_gain(alpha / alpha.sum(axis=1, keepdims=True)))


class OnlineSWAP(VoteAggregator):
    """Replay of the online SWAP updates over a vote table, in row order.

    Model: subject classes are drawn from ``class_prior``; each agent answers
    class l for a subject of class k with probability pi_{k,l}, with a
    Dirichlet(alpha_k) belief over each row, learned from gold (and, when
    ``unsupervised_weight > 0``, from its own weighted votes).  Marshall et al.
    2016; Beck et al. 2018.

    Parameters
    ----------
    strength, skill : float
        Initial agent pseudo-counts, see :func:`initial_agent_alpha`.
    agent_prior : ndarray of shape (K, K), optional
        Population prior pseudo-counts; overrides strength and skill.
    class_prior : array of shape (K,), optional
        Subject prior; uniform by default.
    unsupervised_weight : float
        See :func:`vote_update`.
    gold_cap : int, optional
        Gold votes that teach each agent (:func:`gold_evidence_weight`); None (the published rule): all.
    classes : sequence, optional
        The answers in order (e.g. ``Task.labels``); default: sorted labels seen.
    progress : bool
        Show a tqdm bar over the votes.

    Attributes
    ----------
    worker_alpha_ : dict
        worker -> (K, K) pseudo-counts after the last vote.
    log_posterior_ : ndarray of shape (n_tasks, K)
        The subjects' online state (gold subjects keep their prior; ``probas_`` reports their gold class).

    Examples
    --------
    >>> import pandas as pd
    >>> votes = pd.DataFrame({"task": [1, 1, 2], "worker": ["a", "b", "a"], "label": ["x", "x", "y"]})
    >>> OnlineSWAP().fit(votes).labels_.tolist()
    ['x', 'y']
    """

    def __init__(self, *, strength: float = 4.0, skill: float = 0.65, agent_prior: np.ndarray | None = None,
                 class_prior: np.ndarray | None = None, unsupervised_weight: float = 0.0,
                 gold_cap: int | None = None, classes=None, progress: bool = False):
        self.strength = strength
        self.skill = skill
        self.agent_prior = agent_prior
        self.class_prior = class_prior
        self.unsupervised_weight = unsupervised_weight
        self.gold_cap = gold_cap
        self.classes = classes
        self.progress = progress

    def _fit_encoded(self, enc: EncodedVotes) -> np.ndarray:
        k = enc.n_classes
        start = initial_agent_alpha(k, prior=self.agent_prior, strength=self.strength, skill=self.skill)
        log_post = np.tile(initial_log_posterior(k, prior=self.class_prior), (len(enc.tasks), 1))
        alphas = [start] * len(enc.workers)
        n_gold = [0] * len(enc.workers)
        rows = zip(enc.task.tolist(), enc.worker.tolist(), enc.label.tolist())
        for t, w, lab in tqdm(rows, total=len(enc.task), disable=not self.progress, desc="online SWAP"):
            gold = int(enc.gold[t]) if enc.gold[t] >= 0 else None
            weight = gold_evidence_weight(n_gold[w], cap=self.gold_cap)
            alphas[w], log_post[t] = vote_update(agent_alpha=alphas[w], subject_log_posterior=log_post[t],
                                                 label=lab, gold=gold, gold_weight=weight,
                                                 unsupervised_weight=self.unsupervised_weight)
            n_gold[w] += int(gold is not None)
        self.worker_alpha_ = dict(zip(enc.workers, alphas))
        self.log_posterior_ = log_post
        # The stored state of a gold subject stays at its prior; what it reports is its known class.
        return np.exp(clamp_gold(log_post, enc.gold))
