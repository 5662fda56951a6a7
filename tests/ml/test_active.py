import math

import numpy as np
import pytest

from ml.active import bald_score, entropy, queue_priority


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


def test_it_ranks_priorities_into_the_unit_interval():
    priority = queue_priority(bald=np.array([0.0, 0.5, 0.1]), posterior_entropy=np.array([0.3, 0.2, 0.1]))
    assert priority.min() >= 0 and priority.max() <= 1
    assert np.argmax(priority) == 1


def test_it_uses_the_engine_entropy_alone_without_a_model():
    priority = queue_priority(bald=None, posterior_entropy=np.array([0.1, 0.9, 0.5]))
    assert list(priority) == [0.0, 1.0, 0.5]


def test_it_gives_tied_scores_equal_priority():
    priority = queue_priority(bald=None, posterior_entropy=np.array([0.2, 0.2, 0.9]))
    assert priority[0] == priority[1] < priority[2]


def test_it_rejects_mismatched_lengths_and_bad_weights():
    with pytest.raises(ValueError, match="shape"):
        queue_priority(bald=np.ones(2), posterior_entropy=np.ones(3))
    with pytest.raises(ValueError, match="weight"):
        queue_priority(bald=None, posterior_entropy=np.ones(3), weight=2.0)


def test_it_computes_entropy_in_nats():
    assert math.isclose(float(entropy(np.array([0.5, 0.5]))), math.log(2))
