import numpy as np
import pytest

from aggregation.metrics import binomial_interval, expected_calibration_error


def test_a_perfectly_calibrated_set_has_zero_ece():
    # Four items at 0.75 confidence, three of them right: accuracy equals confidence.
    probs = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1])) == pytest.approx(0.0)


def test_ece_weights_each_bin_by_its_share_of_items():
    # Bin 0.9: confidence 0.9, accuracy 1/2 -> gap 0.4 on half the items;
    # bin 0.6: confidence 0.6, accuracy 1 -> gap 0.4 on the other half.
    probs = [[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.4, 0.6]]
    assert expected_calibration_error(probs, [0, 0, 0, 1]) == pytest.approx(0.4)


def test_a_confident_wrong_answer_costs_its_confidence():
    assert expected_calibration_error([[1.0, 0.0, 0.0]], [2]) == pytest.approx(1.0)


def test_ece_rejects_truth_outside_the_classes():
    with pytest.raises(ValueError, match="class indices"):
        expected_calibration_error([[0.5, 0.5]], [2])


def test_ece_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        expected_calibration_error([[0.5, 0.5]], [0, 1])


def test_the_wilson_interval_matches_the_textbook_value_for_8_of_10():
    lower, upper = binomial_interval(8, 10)
    assert lower == pytest.approx(0.4902, abs=1e-4) and upper == pytest.approx(0.9433, abs=1e-4)


def test_the_wilson_interval_stays_inside_zero_and_one_at_the_extremes():
    lower, upper = binomial_interval(10, 10)
    assert upper == 1.0 and lower == pytest.approx(0.7225, abs=1e-4)
    assert binomial_interval(0, 10)[0] == 0.0


def test_the_interval_is_everything_when_nothing_was_scored():
    assert binomial_interval(0, 0) == (0.0, 1.0)


def test_a_wider_confidence_gives_a_wider_interval():
    narrow, wide = binomial_interval(30, 40, confidence=0.8), binomial_interval(30, 40, confidence=0.99)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]


def test_the_interval_rejects_more_successes_than_trials():
    with pytest.raises(ValueError, match="successes"):
        binomial_interval(11, 10)
