import numpy as np
import pandas as pd
import pytest

from aggregation.base import class_order_key, decide_labels
from aggregation.votes.auto import AutoDawidSkene
from aggregation.votes.dawid_skene import EBCC, MACE, DawidSkene, OneCoinDawidSkene, SubtypeMixture
from aggregation.votes.workers import dirichlet_strength, full_confusion, mace, one_coin
from aggregation.votes.majority import MajorityVote
from tests.aggregation.conftest import simulate_crowd

MODELS = [DawidSkene, OneCoinDawidSkene, MACE, SubtypeMixture, EBCC, AutoDawidSkene]


@pytest.mark.parametrize("cls", MODELS)
def test_each_model_outvotes_a_contrary_worker_on_a_tiny_crowd(cls, tiny_votes):
    # Two unanimous items tell every model that the crowd is better than chance.
    unanimous = pd.DataFrame({"task": [4, 4, 4, 5, 5, 5], "worker": list("abcabc"), "label": list("xxxyyy")})
    model = cls(n_draws=20).fit(pd.concat([tiny_votes, unanimous], ignore_index=True))
    assert model.labels_.tolist() == ["x", "y", "x", "x", "y"]
    np.testing.assert_allclose(model.probas_.sum(axis=1), 1.0, atol=1e-6)
    inside = (model.probas_interval_["lower"] <= model.probas_) & (model.probas_ <= model.probas_interval_["upper"])
    assert inside.to_numpy().all()


def test_one_coin_gives_a_worker_the_hand_computed_shrunk_accuracy():
    # Two workers, two items of state 0 each: worker 0 right twice, worker 1 right once.
    counts = np.array([[[2.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]]])
    fit = one_coin(counts, np.array([0, 1]))
    mean, m = 10.5 / 14, fit.state["strength"]  # population accuracy (3 + 7.5) / (4 + 10), the hyperprior
    np.testing.assert_allclose(fit.pi[0, 0, 0], (2 + m * mean) / (2 + m))
    np.testing.assert_allclose(fit.pi[1, 1, 1], (1 + m * mean) / (2 + m))


def test_full_confusion_shrinks_rows_to_the_pooled_row():
    counts = np.array([[[9.0, 1.0], [1.0, 9.0]], [[5.0, 5.0], [2.0, 8.0]]])
    fit = full_confusion(counts, np.array([0, 1]))
    pooled = np.array([[14.0 + 7.5, 6.0 + 2.5], [3.0 + 2.5, 17.0 + 7.5]])  # plus the crowd hyperprior
    centre = pooled / pooled.sum(axis=1, keepdims=True)
    m = fit.state["strength"]
    np.testing.assert_allclose(fit.alpha[1, 0], counts[1, 0] + m[0] * centre[0])


def test_mace_calls_a_worker_who_always_says_x_a_spammer():
    counts = np.array([[[10.0, 0.0], [0.0, 10.0]], [[10.0, 0.0], [10.0, 0.0]]])
    state = {}
    for _ in range(50):
        fit = mace(counts, np.array([0, 1]), state=state)
        state = fit.state
    assert state["theta"][0] > 0.8 > 0.2 > state["theta"][1]
    assert state["xi"][1, 0] > 0.8


def test_the_strength_is_large_for_identical_workers_and_small_for_diverse_ones():
    same = np.tile([[30.0, 10.0]], (20, 1))
    diverse = np.array([[40.0, 0.0], [0.0, 40.0]] * 10)
    centre = np.array([0.75, 0.25])
    assert dirichlet_strength(same, centre) > 100 > 1 > dirichlet_strength(diverse, np.array([0.5, 0.5]))


def test_a_tie_goes_to_the_class_with_the_larger_prior_then_to_the_first_class():
    posterior = np.array([[0.5, 0.5], [0.5, 0.5], [0.3, 0.7]])
    assert decide_labels(posterior, np.array([0.2, 0.8])).tolist() == [1, 1, 1]
    assert decide_labels(posterior, np.array([0.5, 0.5])).tolist() == [0, 0, 1]


def test_numeric_labels_sort_by_value_so_a_tie_never_depends_on_spelling():
    assert sorted(["10", "2", "b", "1"], key=class_order_key) == ["1", "2", "10", "b"]
    votes = pd.DataFrame({"task": [1, 1, 2, 2, 2], "worker": list("ababc"), "label": ["10", "2", "2", "2", "10"]})
    model = MajorityVote().fit(votes)
    assert list(model.classes_) == ["2", "10"] and model.labels_.loc[1] == "2"  # "2" has more votes overall


def test_the_class_prior_guard_keeps_a_rare_answer_rare():
    rng = np.random.default_rng(0)
    truth = rng.integers(2, size=400)
    rows = [(t, w, truth[t] if rng.random() < 0.8 else 1 - truth[t]) for t in range(400) for w in range(5)]
    rows += [(0, 9, 2)]  # one vote for a third answer
    votes = pd.DataFrame(rows, columns=["task", "worker", "label"])
    model = DawidSkene(n_draws=0).fit(votes)
    assert model.class_prior_[2] < 3 * 2 / len(votes)
    assert (model.labels_ == 2).sum() == 0


def test_restarts_never_lose_likelihood(simulated_crowd):
    votes, _, _ = simulated_crowd
    one = MACE(n_restarts=1, n_draws=0).fit(votes)
    five = MACE(n_restarts=5, n_draws=0).fit(votes)
    assert five.log_likelihood_ >= one.log_likelihood_ - 1e-6


def test_it_recovers_worker_accuracy_and_prior_of_a_simulated_crowd():
    votes, _, info = simulate_crowd(n_tasks=2000, n_workers=20, votes_per_task=6, seed=3)
    model = AutoDawidSkene(n_draws=0).fit(votes)
    order = [model.workers_.get_loc(w) for w in info["workers"]]
    error = np.abs(model.confusion_[order][:, [0, 1], [0, 1]] - info["confusion"][:, [0, 1], [0, 1]])
    assert error.mean() < 0.03
    np.testing.assert_allclose(model.class_prior_, np.bincount(info["truth"], minlength=2) / 2000, atol=0.03)
