import numpy as np
import pandas as pd
import pytest

from aggregation.registry import AGGREGATORS, BOX_AGGREGATORS, get_aggregator, get_box_aggregator

# The PyMC model is exercised in its own test file; here it runs with a tiny budget.
FAST = {"hierarchical": {"n_iter": 300, "draws": 20}}
NAMES = [pytest.param(n, marks=pytest.mark.slow) if n == "hierarchical" else n for n in sorted(AGGREGATORS)]

BOXES = pd.DataFrame({"task": [1, 1, 2], "worker": ["a", "b", "a"], "x_min": [0.0, 1.0, 5.0],
                      "y_min": [0.0, 0.0, 5.0], "x_max": [10.0, 11.0, 9.0], "y_max": [10.0, 10.0, 9.0]})
SEEN = pd.DataFrame({"task": [1, 1, 2, 2], "worker": ["a", "b", "a", "b"]})


def learned(model):
    return [name for name in vars(model) if name.endswith("_")]


@pytest.mark.parametrize("name", NAMES)
def test_it_fits_every_vote_aggregator_the_same_way(name, tiny_votes):
    model = get_aggregator(name, **FAST.get(name, {}))
    assert learned(model) == []
    assert model.fit(tiny_votes) is model
    np.testing.assert_allclose(model.probas_.sum(axis=1), 1.0, atol=1e-9)
    assert model.fit_predict(tiny_votes).equals(model.labels_)
    again = get_aggregator(name, **FAST.get(name, {})).fit(tiny_votes)
    pd.testing.assert_frame_equal(model.probas_, again.probas_)


@pytest.mark.parametrize("name", sorted(BOX_AGGREGATORS))
def test_it_fits_every_box_aggregator_the_same_way(name):
    model = get_box_aggregator(name)
    assert learned(model) == []
    assert model.fit(BOXES, SEEN) is model
    assert {"task", "x_min", "y_min", "x_max", "y_max", "p_real", "n_workers"} <= set(model.consensus_.columns)
    pd.testing.assert_frame_equal(model.consensus_, get_box_aggregator(name).fit(BOXES, SEEN).consensus_)


def test_it_lists_the_valid_names_for_an_unknown_one():
    with pytest.raises(ValueError, match="valid names: .*ds.*majority"):
        get_aggregator("bogus")
