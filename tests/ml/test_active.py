import math

import numpy as np
import pytest

from ml.active import bald_score, entropy, queue_priority, rank01


def test_it_gives_zero_information_when_samples_agree():
    samples = np.tile(np.array([[0.2, 0.8], [0.5, 0.5]]), (6, 1, 1))
    assert np.allclose(bald_score(samples), 0.0)


def test_it_gives_log_k_when_confident_samples_disagree_completely():
    samples = np.array([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0]]])
    assert math.isclose(float(bald_score(samples)[0]), math.log(3), rel_tol=1e-6)


def test_it_computes_a_hand_case_between_the_extremes():
    samples = np.array([[[0.9, 0.1]], [[0.5, 0.5]]])
    h = lambda p: -sum(x * math.log(x) for x in p)
    expected = h([0.7, 0.3]) - (h([0.9, 0.1]) + h([0.5, 0.5])) / 2
    assert math.isclose(float(bald_score(samples)[0]), expected, rel_tol=1e-9)


def test_it_rejects_samples_of_the_wrong_shape():
    with pytest.raises(ValueError, match="S, N, K"):
        bald_score(np.ones((3, 2)))


def test_it_blends_the_bald_rank_and_the_uncertainty_half_and_half():
    priority = queue_priority(bald_rank=np.array([0.0, 1.0, 0.5]), uncertainty=np.array([0.2, 0.4, 1.0]))
    assert priority == pytest.approx([0.1, 0.7, 0.75])


def test_it_uses_the_uncertainty_alone_without_a_model():
    assert list(queue_priority(bald_rank=None, uncertainty=np.array([0.1, 0.9, 0.5]))) == [0.1, 0.9, 0.5]


def test_a_galaxy_the_model_did_not_score_gets_no_priority_from_the_model():
    assert queue_priority(bald_rank=np.array([np.nan, 1.0]), uncertainty=np.array([1.0, 0.0])) == pytest.approx([0.5, 0.5])


def test_ranks_lie_in_the_unit_interval_ties_share_their_mean_and_nan_is_lowest():
    assert list(rank01(np.array([0.3, 0.1, 0.3, np.nan, 0.9]))) == [0.625, 0.25, 0.625, 0.0, 1.0]


def test_it_rejects_mismatched_lengths_and_bad_weights():
    with pytest.raises(ValueError, match="shape"):
        queue_priority(bald_rank=np.ones(2), uncertainty=np.ones(3))
    with pytest.raises(ValueError, match="weight"):
        queue_priority(bald_rank=None, uncertainty=np.ones(3), weight=2.0)


def test_it_computes_entropy_in_nats():
    assert math.isclose(float(entropy(np.array([0.5, 0.5]))), math.log(2))
