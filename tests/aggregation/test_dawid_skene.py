import numpy as np
import pandas as pd
import pytest

from aggregation.votes.dawid_skene import DawidSkene
from aggregation.votes.majority import MajorityVote


def test_it_outvotes_a_contrary_worker(tiny_votes):
    model = DawidSkene().fit(tiny_votes)
    assert model.labels_.tolist() == ["x", "y", "x"]
    np.testing.assert_allclose(model.probas_.sum(axis=1), 1.0, atol=1e-9)


def test_it_learns_that_a_contrary_worker_is_unreliable(tiny_votes):
    model = DawidSkene().fit(tiny_votes)
    accuracy = dict(zip(model.workers_, np.einsum("wkk->w", model.confusion_) / 2))
    assert accuracy["c"] < 0.5 < accuracy["a"]


def test_it_clamps_gold_tasks(tiny_votes):
    gold = pd.DataFrame({"task": [1], "label": ["y"]})
    model = DawidSkene().fit(tiny_votes, gold)
    assert model.probas_.loc[1, "y"] == 1.0


def test_it_beats_majority_vote_when_a_biased_worker_dominates():
    # Three workers always say "x"; two careful ones tell the truth: y, y, x, y.
    truth = ["y", "y", "x", "y"] * 10
    rows = [(t, w, "x") for t in range(40) for w in ("p", "q", "r")]
    rows += [(t, w, truth[t]) for t in range(40) for w in ("s", "u")]
    votes = pd.DataFrame(rows, columns=["task", "worker", "label"])
    gold = pd.DataFrame({"task": [0, 2], "label": ["y", "x"]})
    ds = DawidSkene().fit(votes, gold).labels_
    mv = MajorityVote().fit(votes).labels_
    assert (ds.to_numpy() == np.array(truth)).mean() == 1.0 > (mv.to_numpy() == np.array(truth)).mean()


def test_it_recovers_known_worker_accuracy_from_a_simulated_crowd():
    from tests.aggregation.conftest import simulate_crowd
    votes, gold, info = simulate_crowd(n_tasks=2000, n_workers=20, votes_per_task=6, seed=1)
    model = DawidSkene().fit(votes, gold)
    order = [model.workers_.get_loc(w) for w in info["workers"]]
    learned = model.confusion_[order][:, [0, 1], [0, 1]]
    true = info["confusion"][:, [0, 1], [0, 1]]
    error = np.abs(learned - true)
    assert error.mean() < 0.03 and error.max() < 0.12
    assert (model.labels_.loc[info["truth"].index] == info["truth"]).mean() > 0.9


def test_it_warns_when_it_runs_out_of_iterations(simulated_crowd):
    votes, _, _ = simulated_crowd
    with pytest.warns(RuntimeWarning, match="did not converge"):
        DawidSkene(max_iter=1).fit(votes)
