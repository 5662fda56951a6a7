import numpy as np
import pandas as pd
import pytest


def simulate_crowd(*, n_tasks=300, n_workers=30, votes_per_task=5, n_classes=2, n_gold=30, seed=0):
    """Votes from workers with known confusion matrices; returns (votes, gold, truth info)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_classes, size=n_tasks)
    accuracy = rng.uniform(0.55, 0.95, size=n_workers)
    # Row k of worker w: accuracy on the diagonal, the rest spread evenly.
    confusion = np.empty((n_workers, n_classes, n_classes))
    confusion[:] = ((1 - accuracy) / (n_classes - 1))[:, None, None]
    idx = np.arange(n_classes)
    confusion[:, idx, idx] = accuracy[:, None]
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(n_workers, size=votes_per_task, replace=False):
            rows.append((f"t{t}", f"w{w}", int(rng.choice(n_classes, p=confusion[w, truth[t]]))))
    votes = pd.DataFrame(rows, columns=["task", "worker", "label"])
    gold = pd.DataFrame({"task": [f"t{t}" for t in range(n_gold)], "label": truth[:n_gold]})
    info = {"truth": pd.Series(truth, index=[f"t{t}" for t in range(n_tasks)]),
            "confusion": confusion, "workers": [f"w{w}" for w in range(n_workers)]}
    return votes, gold, info


@pytest.fixture(scope="session")
def simulated_crowd():
    return simulate_crowd()


@pytest.fixture
def tiny_votes():
    # Worker c always disagrees; a and b agree and are right.
    return pd.DataFrame({"task": [1, 1, 1, 2, 2, 2, 3, 3, 3],
                         "worker": list("abcabcabc"),
                         "label": ["x", "x", "y", "y", "y", "x", "x", "x", "y"]})
