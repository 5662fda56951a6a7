"""Hierarchical Bayesian Dawid-Skene in PyMC: a population prior over volunteer skill.

Dawid-Skene gives each volunteer a free confusion matrix, which a volunteer
with three votes cannot pin down.  Here every confusion row is drawn from a
population: row k of worker w has logits ``mu[k] + sigma[k] * z[w, k]`` with
z standard normal (a per-class logit-normal population, in the spirit of the
hierarchical BCC models of Kim & Ghahramani 2012 and Venanzi et al. 2014,
"Community-based Bayesian aggregation models for crowdsourcing", WWW).  The
population is learned from all volunteers, so a newcomer borrows strength
from everyone, and the fitted population becomes the starting pseudo-counts
of new agents in the online engine (``population_alpha_`` →
:func:`~aggregation.online.initial_agent_alpha`).

Task classes are summed out of the likelihood (so ADVI or NUTS only see
continuous parameters) and recovered afterwards per posterior draw, which
gives credible intervals for every task probability and every worker's skill.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import log_softmax, logsumexp, softmax

from ..base import EncodedVotes, VoteAggregator, clamp_gold
from ..online import information_gain

# Gold tasks get this log-weight on the classes they are not: finite, unlike -inf,
# so the sampler's gradients stay defined, and still exp(-1e4) == 0.
_GOLD_MASK = -1e4


def _build_model(enc: EncodedVotes, *, skill_prior: float):
    import pymc as pm
    import pytensor.tensor as pt

    k, n_workers, n_tasks = enc.n_classes, len(enc.workers), len(enc.tasks)
    mask = np.zeros((n_tasks, k))
    has_gold = enc.gold >= 0
    mask[has_gold] = _GOLD_MASK
    mask[has_gold, enc.gold[has_gold]] = 0.0
    with pm.Model() as model:
        rho = pm.Dirichlet("rho", a=np.ones(k))
        mu = pm.Normal("mu", mu=skill_prior * np.eye(k), sigma=1.5, shape=(k, k))
        sigma = pm.HalfNormal("sigma", sigma=1.0, shape=k)
        z = pm.Normal("z", 0.0, 1.0, shape=(n_workers, k, k))
        logits = mu[None, :, :] + sigma[None, :, None] * z
        log_pi = logits - pt.logsumexp(logits, axis=-1, keepdims=True)
        per_vote = log_pi[enc.worker, :, enc.label]
        per_task = pt.inc_subtensor(pt.zeros((n_tasks, k))[enc.task], per_vote)
        joint = pt.log(rho)[None, :] + per_task + mask
        pm.Potential("votes", pt.logsumexp(joint, axis=1).sum())
    return model


def _draws(idata, name: str) -> np.ndarray:
    values = idata.posterior[name].to_numpy()
    return values.reshape(-1, *values.shape[2:])


def log_pi_draws(idata) -> np.ndarray:
    """(n_draws, n_workers, K, K) log confusion matrices from the posterior draws."""
    mu, sigma, z = _draws(idata, "mu"), _draws(idata, "sigma"), _draws(idata, "z")
    return log_softmax(mu[:, None] + sigma[:, None, :, None] * z, axis=-1)


def task_posterior_draws(enc: EncodedVotes, idata) -> np.ndarray:
    """(n_draws, n_tasks, K) task class posteriors, one per posterior draw of the parameters."""
    a = enc.task_worker_label_matrix()
    log_rho = np.log(_draws(idata, "rho"))
    out = []
    for log_pi, lr in zip(log_pi_draws(idata), log_rho):
        n_workers, k, _ = log_pi.shape
        joint = lr + np.asarray(a @ log_pi.transpose(0, 2, 1).reshape(n_workers * k, k))
        out.append(np.exp(clamp_gold(joint - logsumexp(joint, axis=1, keepdims=True), enc.gold)))
    return np.stack(out)


def population_pseudo_counts(idata, *, n_samples: int = 4000, seed: int = 0) -> np.ndarray:
    """(K, K) Dirichlet pseudo-counts matching the mean and variance of the fitted population.

    Each row k of a new worker's confusion matrix is softmax(mu[k] + sigma[k] eps);
    we sample it over posterior draws and match a Dirichlet by moments
    (var_j = m_j (1 - m_j) / (s + 1) gives the concentration s).
    """
    rng = np.random.default_rng(seed)
    mu, sigma = _draws(idata, "mu"), _draws(idata, "sigma")
    pick = rng.integers(len(mu), size=n_samples)
    eps = rng.standard_normal((n_samples, *mu.shape[1:]))
    rows = softmax(mu[pick] + sigma[pick][:, :, None] * eps, axis=-1)
    mean, var = rows.mean(axis=0), rows.var(axis=0)
    concentration = np.mean(mean * (1 - mean) / np.maximum(var, 1e-12) - 1.0, axis=1, keepdims=True)
    return mean * np.clip(concentration, 1.0, 1e4)


class HierarchicalDS(VoteAggregator):
    """Dawid-Skene with a learned logit-normal population prior over confusion rows (PyMC).

    Model::

        rho ~ Dirichlet(1);  mu[k] ~ Normal(skill_prior * e_k, 1.5);  sigma[k] ~ HalfNormal(1)
        pi_w[k] = softmax(mu[k] + sigma[k] z[w, k]),  z ~ Normal(0, 1)
        z_i ~ Categorical(rho);  label of worker w on task i ~ Categorical(pi_w[z_i])

    Parameters
    ----------
    method : {"advi", "nuts"}
        Mean-field ADVI (fast; intervals tend to be narrow) or NUTS (slower, better intervals).
    n_iter : int
        ADVI optimisation steps.
    draws, tune : int
        Posterior draws kept (and NUTS tuning steps).
    learning_rate : float
        Adam step size for ADVI.
    skill_prior : float
        Prior mean of the diagonal logits: volunteers are assumed better than chance.
    interval : float
        Mass of the credible intervals.
    random_state : int
    classes : sequence, optional

    Attributes
    ----------
    idata_ : arviz.InferenceData
        Posterior draws of rho, mu, sigma, z.
    probas_interval_ : DataFrame
        Index task; columns ``("lower", class)`` and ``("upper", class)``.
    worker_skill_interval_ : DataFrame
        Index worker; ``skill, lower, upper``: information gain per vote in bits
        (:func:`~aggregation.online.information_gain`), posterior mean and interval.
    worker_confusion_ : ndarray of shape (n_workers, K, K)
        Posterior mean confusion matrices.
    population_alpha_ : ndarray of shape (K, K)
        The population prior as Dirichlet pseudo-counts, for ``initial_agent_alpha(prior=...)``.

    Examples
    --------
    >>> votes = pd.DataFrame({"task": [1, 1, 1, 2, 2, 2], "worker": list("abcabc"),
    ...                       "label": ["x", "x", "y", "y", "y", "y"]})
    >>> HierarchicalDS(n_iter=500, draws=50).fit(votes).labels_.tolist()
    ['x', 'y']
    """

    def __init__(self, *, method: str = "advi", n_iter: int = 10000, draws: int = 500, tune: int = 500,
                 learning_rate: float = 0.02, skill_prior: float = 1.5, interval: float = 0.95,
                 random_state: int = 0, progress: bool = False, classes=None):
        self.method = method
        self.n_iter = n_iter
        self.draws = draws
        self.tune = tune
        self.learning_rate = learning_rate
        self.skill_prior = skill_prior
        self.interval = interval
        self.random_state = random_state
        self.progress = progress
        self.classes = classes

    def _sample(self, model):
        import pymc as pm

        with model:
            if self.method == "advi":
                approx = pm.fit(n=self.n_iter, method="advi", random_seed=self.random_state,
                                obj_optimizer=pm.adam(learning_rate=self.learning_rate),
                                progressbar=self.progress)
                return approx.sample(self.draws, random_seed=self.random_state)
            return pm.sample(draws=self.draws, tune=self.tune, chains=2, cores=1, random_seed=self.random_state,
                             progressbar=self.progress, compute_convergence_checks=False)

    def _fit_encoded(self, enc: EncodedVotes) -> np.ndarray:
        if self.method not in ("advi", "nuts"):
            raise ValueError(f"method must be 'advi' or 'nuts', got {self.method!r}")
        self.idata_ = self._sample(_build_model(enc, skill_prior=self.skill_prior))
        tail = (1.0 - self.interval) / 2
        draws = task_posterior_draws(enc, self.idata_)
        columns = pd.MultiIndex.from_product([["lower", "upper"], enc.classes], names=["bound", "label"])
        bounds = np.concatenate([np.quantile(draws, tail, axis=0), np.quantile(draws, 1 - tail, axis=0)], axis=1)
        self.probas_interval_ = pd.DataFrame(bounds, index=enc.tasks, columns=columns)
        pi = np.exp(log_pi_draws(self.idata_))
        skill = information_gain(pi)
        self.worker_skill_interval_ = pd.DataFrame(
            {"skill": skill.mean(axis=0), "lower": np.quantile(skill, tail, axis=0),
             "upper": np.quantile(skill, 1 - tail, axis=0)}, index=enc.workers)
        self.worker_confusion_ = pi.mean(axis=0)
        self.population_alpha_ = population_pseudo_counts(self.idata_, seed=self.random_state)
        return draws.mean(axis=0)
