import numpy as np
import pandas as pd
import pytest

from aggregation.crowd import crowd_uniform_errors, votes_simulate


def simulate_crowd(*, n_tasks=300, n_workers=30, votes_per_task=5, n_classes=2, n_gold=30, seed=0):
    """Votes from workers with known confusion matrices (aggregation.crowd); returns (votes, gold, truth info)."""
    truth = np.random.default_rng(seed).integers(n_classes, size=n_tasks)
    crowd = crowd_uniform_errors(skill=(0.55, 0.95))
    sim = votes_simulate(spec=crowd, truth=truth, n_classes=n_classes, n_workers=n_workers,
                         votes_per_task=votes_per_task, seed=seed)
    votes = pd.DataFrame({"task": [f"t{t}" for t in sim["task"]], "worker": [f"w{w}" for w in sim["worker"]],
                          "label": sim["label"]})
    gold = pd.DataFrame({"task": [f"t{t}" for t in range(n_gold)], "label": truth[:n_gold]})
    info = {"truth": pd.Series(truth, index=[f"t{t}" for t in range(n_tasks)]),
            "confusion": sim["confusion"], "workers": [f"w{w}" for w in range(n_workers)]}
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
