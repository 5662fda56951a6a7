import numpy as np
import pandas as pd
import pytest

from aggregation.online import information_gain
from aggregation.votes.dawid_skene import DawidSkene
from aggregation.votes.majority import MajorityVote


def test_it_outvotes_a_contrary_worker(tiny_votes):
    model = DawidSkene().fit(tiny_votes)
    assert model.labels_.tolist() == ["x", "y", "x"]
    np.testing.assert_allclose(model.probas_.sum(axis=1), 1.0, atol=1e-9)


def test_it_learns_that_a_contrary_worker_is_unreliable(tiny_votes):
    # Five copies of the tiny crowd: three votes each cannot tell workers apart, fifteen can.
    copies = [tiny_votes.assign(task=tiny_votes["task"] + 10 * i) for i in range(5)]
    model = DawidSkene().fit(pd.concat(copies, ignore_index=True))
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


def test_its_95_percent_skill_intervals_cover_the_true_skill_of_most_simulated_workers():
    # Class-dependent workers (Dirichlet confusion rows), 50 votes each: the interval must hold the
    # true information gain for about 95% of them; 0.85 leaves room for 60 workers' binomial noise.
    rng = np.random.default_rng(4)
    base = np.array([[4.0, 1.0, 1.0], [1.0, 4.0, 1.0], [1.0, 1.0, 4.0]])
    confusion = np.stack([[rng.dirichlet(3 * row) for row in base] for _ in range(60)])
    truth = rng.integers(3, size=600)
    worker = np.concatenate([rng.choice(60, 5, replace=False) for _ in range(600)])
    task = np.repeat(np.arange(600), 5)
    label = (rng.random(len(task))[:, None] > confusion[worker, truth[task]].cumsum(axis=1)).sum(axis=1)
    votes = pd.DataFrame({"task": task, "worker": worker, "label": label})
    interval = DawidSkene(n_draws=100).fit(votes).worker_skill_interval_.sort_index()
    true_skill = information_gain(confusion[interval.index.to_numpy()])
    inside = (interval["lower"] <= true_skill) & (true_skill <= interval["upper"])
    assert inside.mean() >= 0.85
    assert (interval["upper"] - interval["lower"]).mean() < 0.5  # and the intervals say something
