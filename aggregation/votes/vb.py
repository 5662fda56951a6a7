"""Mean-field variational Bayes for the subtype mixture: the EBCC model of correlated workers.

Model (Li, Rubinstein & Cohn 2019, "Exploiting Worker Correlation for Label
Aggregation in Crowdsourcing", ICML, Sec. 3): item i has a class z_i ~ Cat(rho) and
a subtype g_i ~ Cat(tau_z) within it; worker w answers l with probability
``pi_w[z, g, l]``.  Items of one subtype are the ones on which workers err alike, so
errors that several workers share are explained by the subtype instead of being
counted as independent evidence for a wrong class (the failure of Dawid-Skene on
the ZenCrowd data).  Priors: ``rho ~ Dir(1)``, ``tau_k ~ Dir(a_tau / M)`` (sparse, so
unneeded subtypes empty out), ``pi_w[k, g] ~ Dir(b + (a - b) e_k)``: a pseudo-votes on
the right answer and b on each wrong one.

The variational posterior is q(z, g) q(rho) q(tau) q(pi) with Dirichlet factors; each
coordinate step is closed-form.  The E-step is the engine's
:func:`~aggregation.votes.em.e_step` fed ``exp E[log pi]`` and ``E[log rho tau]``
(sub-normalised rows: VB's penalty on parameters seen in few votes).  The score kept
over restarts is the evidence lower bound (ELBO).
"""
from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from .em import EMResult, Problem, e_step, expected_counts
from .workers import WorkerFit, correct_mask

# EBCC's published defaults: M = 10 subtypes, a_tau = 0.1, a = 4, b = 1.
N_SUBTYPES, SUBTYPE_CONCENTRATION, RIGHT_PSEUDO, WRONG_PSEUDO = 10, 0.1, 4.0, 1.0


def expected_log_dirichlet(alpha: np.ndarray) -> np.ndarray:
    """E[log p] under Dirichlet(alpha) over the last axis: digamma(alpha) - digamma(sum alpha)."""
    return digamma(alpha) - digamma(alpha.sum(axis=-1, keepdims=True))


def dirichlet_kl(alpha: np.ndarray, prior: np.ndarray) -> float:
    """KL(Dir(alpha) || Dir(prior)) summed over all leading axes (last axis: the simplex).

    >>> round(dirichlet_kl(np.array([1.0, 1.0]), np.array([1.0, 1.0])), 12)
    0.0
    """
    prior = np.broadcast_to(prior, alpha.shape)
    total, total_prior = alpha.sum(-1), prior.sum(-1)
    kl = gammaln(total) - gammaln(total_prior) - (gammaln(alpha) - gammaln(prior)).sum(-1)
    kl = kl + ((alpha - prior) * expected_log_dirichlet(alpha)).sum(-1)
    return float(kl.sum())


def _worker_prior(problem: Problem) -> np.ndarray:
    """(S, K) pseudo-counts of one worker's confusion rows: a on the state's class, b elsewhere."""
    return np.where(correct_mask(problem.state_class, problem.k), RIGHT_PSEUDO, WRONG_PSEUDO)


def _state_prior(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Dirichlet pseudo-counts of the class prior (K,) and of the subtype weights per state (S,)."""
    per_class = np.bincount(problem.state_class, minlength=problem.k)
    return np.ones(problem.k), SUBTYPE_CONCENTRATION / per_class[problem.state_class]


def _expected_log_state(problem: Problem, post: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E[log rho_class + log tau_state] (S,) and the posterior pseudo-counts of rho (K,) and tau (S,)."""
    class_prior, subtype_prior = _state_prior(problem)
    by_state = post.sum(axis=0)
    nu = class_prior + np.bincount(problem.state_class, by_state, minlength=problem.k)
    eta = subtype_prior + by_state
    # tau_k is one Dirichlet per class over its subtypes: normalise eta within each class.
    eta_total = np.bincount(problem.state_class, eta, minlength=problem.k)[problem.state_class]
    log_tau = digamma(eta) - digamma(eta_total)
    return expected_log_dirichlet(nu)[problem.state_class] + log_tau, nu, eta


def _elbo(problem: Problem, log_norm: float, alpha: np.ndarray, nu: np.ndarray, eta: np.ndarray) -> float:
    """ELBO after an optimal q(z, g): the E-step's log normaliser minus the KL of every Dirichlet factor."""
    class_prior, subtype_prior = _state_prior(problem)
    kl = dirichlet_kl(alpha, _worker_prior(problem)) + dirichlet_kl(nu, class_prior)
    for k in range(problem.k):  # tau is one Dirichlet per class
        members = problem.state_class == k
        kl += dirichlet_kl(eta[members], subtype_prior[members])
    return log_norm - kl


def vb_run(problem: Problem, post: np.ndarray, *, max_iter: int, tol: float, **_ignored) -> EMResult:
    """Coordinate-ascent VB from state posteriors ``post`` (n_tasks, S) until the ELBO per vote settles.

    ``guard`` and ``min_votes`` of the MAP engine are not used: the fixed EBCC priors play their part.
    Returns an :class:`~aggregation.votes.em.EMResult` whose ``workers.pi`` is the posterior-mean
    confusion (the predictive of a new vote) and ``workers.alpha`` the Dirichlet posterior.
    """
    prior, previous, n_votes = _worker_prior(problem), -np.inf, max(problem.a.nnz, 1)
    for n_iter in range(1, max_iter + 1):
        alpha = expected_counts(problem, post) + prior[None]
        log_state, nu, eta = _expected_log_state(problem, post)
        # exp(E[log pi]) rows sum to less than one; that shortfall is VB's price on thin evidence.
        post, log_norm = e_step(problem, np.exp(expected_log_dirichlet(alpha)), log_state)
        elbo = _elbo(problem, log_norm, alpha, nu, eta)
        if abs(elbo - previous) < tol * n_votes:
            break
        previous = elbo
    workers = WorkerFit(alpha / alpha.sum(-1, keepdims=True), alpha, int(alpha.size - alpha.shape[0] * alpha.shape[1]))
    log_rho = np.log(np.exp(log_state) / np.exp(log_state).sum())
    return EMResult(post, workers, log_rho, elbo, n_iter, abs(elbo - previous) < tol * n_votes)
