import numpy as np
import pytest

from aggregation.base import encode_votes
from aggregation.votes.dawid_skene import encoded_problem
from aggregation.votes.em import initial_posterior
from aggregation.votes.vb import dirichlet_kl, expected_log_dirichlet, vb_run
from tests.aggregation.conftest import simulate_crowd


def test_expected_log_of_a_flat_dirichlet_is_digamma_1_minus_digamma_2():
    # psi(1) - psi(2) = -1 exactly.
    np.testing.assert_allclose(expected_log_dirichlet(np.array([1.0, 1.0])), [-1.0, -1.0])


def test_the_kl_of_beta_2_1_from_the_flat_beta_is_log_2_minus_a_half():
    # q(x) = 2x, so KL = E[log 2x] = log 2 + psi(2) - psi(3) = log 2 - 1/2.
    assert dirichlet_kl(np.array([2.0, 1.0]), np.array([1.0, 1.0])) == pytest.approx(np.log(2) - 0.5)
    rows = np.array([[3.0, 2.0], [1.0, 1.0]])
    assert dirichlet_kl(rows, rows) == pytest.approx(0.0, abs=1e-12)


def test_each_vb_sweep_raises_the_elbo():
    votes, _, _ = simulate_crowd(n_tasks=300, n_workers=12, votes_per_task=4, seed=5)
    problem = encoded_problem(encode_votes(votes), n_subtypes=3)
    start = initial_posterior(problem, np.random.default_rng(0))
    elbos = [vb_run(problem, start, max_iter=n, tol=0.0).log_likelihood for n in range(1, 8)]
    assert np.all(np.diff(elbos) >= -1e-6)
    assert elbos[-1] > elbos[0]
