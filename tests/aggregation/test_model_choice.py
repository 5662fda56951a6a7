import numpy as np
import pandas as pd

from aggregation.votes.auto import AutoDawidSkene


def crowd(confusions, n_tasks=1500, votes_per_task=5, seed=0):
    """Votes of workers with the given (n_workers, K, K) confusion matrices on balanced classes."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(confusions.shape[1], size=n_tasks)
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(len(confusions), votes_per_task, replace=False):
            rows.append((t, w, rng.choice(confusions.shape[2], p=confusions[w, truth[t]])))
    return pd.DataFrame(rows, columns=["task", "worker", "label"]), truth


def test_model_choice_picks_one_coin_on_a_one_coin_crowd():
    rng = np.random.default_rng(1)
    acc = rng.uniform(0.6, 0.9, size=60)
    confusions = np.stack([[[a, (1 - a) / 2, (1 - a) / 2], [(1 - a) / 2, a, (1 - a) / 2],
                            [(1 - a) / 2, (1 - a) / 2, a]] for a in acc])
    votes, truth = crowd(confusions)
    model = AutoDawidSkene(n_draws=0).fit(votes)
    assert model.chosen_ == "one_coin"
    assert (model.labels_.sort_index().to_numpy() == truth).mean() > 0.85


def test_model_choice_picks_full_ds_on_a_class_dependent_crowd():
    # Half the crowd calls class 1 "0" half the time; the other half confuse class 2 with 1.
    a = np.array([[0.9, 0.05, 0.05], [0.45, 0.5, 0.05], [0.05, 0.05, 0.9]])
    b = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.5, 0.45]])
    votes, truth = crowd(np.stack([a] * 15 + [b] * 15))
    model = AutoDawidSkene(n_draws=0).fit(votes)
    assert model.chosen_ == "ds"
    assert model.scores_["ds"] > model.scores_["one_coin"]
