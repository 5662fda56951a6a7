import numpy as np
import pytest

from aggregation.online import initial_agent_alpha
from aggregation.votes.hierarchical import HierarchicalDS
from tests.aggregation.conftest import simulate_crowd

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted():
    votes, gold, info = simulate_crowd(n_tasks=120, n_workers=12, votes_per_task=5, n_gold=10, seed=3)
    model = HierarchicalDS(n_iter=2000, draws=100, random_state=0).fit(votes, gold)
    return model, gold, info


def test_it_labels_a_simulated_crowd_well(fitted):
    model, _, info = fitted
    assert (model.labels_.loc[info["truth"].index] == info["truth"]).mean() > 0.85


def test_it_brackets_each_task_probability_by_its_credible_interval(fitted):
    model, _, _ = fitted
    lower, upper = model.probas_interval_["lower"], model.probas_interval_["upper"]
    assert (lower.to_numpy() <= model.probas_.to_numpy() + 1e-9).all()
    assert (model.probas_.to_numpy() <= upper.to_numpy() + 1e-9).all()


def test_it_clamps_gold_tasks(fitted):
    model, gold, _ = fitted
    assert (model.labels_.loc[gold["task"]].to_numpy() == gold["label"].to_numpy()).all()


def test_it_ranks_workers_by_their_true_skill(fitted):
    model, _, info = fitted
    skill = model.worker_skill_interval_.loc[info["workers"], "skill"].to_numpy()
    true_accuracy = info["confusion"][:, 0, 0]
    assert np.corrcoef(np.argsort(np.argsort(skill)), np.argsort(np.argsort(true_accuracy)))[0, 1] > 0.5
    interval = model.worker_skill_interval_
    assert (interval["lower"] <= interval["skill"]).all() and (interval["skill"] <= interval["upper"]).all()


def test_it_exports_the_population_prior_as_pseudo_counts_for_new_agents(fitted):
    model, _, _ = fitted
    alpha = initial_agent_alpha(2, prior=model.population_alpha_)
    assert alpha.shape == (2, 2) and (alpha > 0).all()
    assert (np.diag(alpha) > alpha.sum(axis=1) / 2).all()


def test_it_rejects_an_unknown_method(tiny_votes):
    with pytest.raises(ValueError, match="method must be"):
        HierarchicalDS(method="gibbs").fit(tiny_votes)


def test_it_samples_with_nuts_too(tiny_votes):
    model = HierarchicalDS(method="nuts", draws=30, tune=30, random_state=1).fit(tiny_votes)
    assert model.labels_.tolist() == ["x", "y", "x"]
    assert model.idata_.posterior.sizes["draw"] == 30
