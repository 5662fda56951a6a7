import pandas as pd
import pytest

from aggregation.base import encode_votes, validate_boxes, validate_gold, validate_seen, validate_votes

BOXES = pd.DataFrame({"task": [1], "worker": ["a"], "x_min": [0.0], "y_min": [0.0], "x_max": [1.0], "y_max": [1.0]})


def test_it_names_the_missing_vote_column():
    with pytest.raises(ValueError, match="missing column.*worker"):
        validate_votes(pd.DataFrame({"task": [1], "label": ["x"]}))


def test_it_refuses_an_empty_vote_table():
    with pytest.raises(ValueError, match="empty"):
        validate_votes(pd.DataFrame({"task": [], "worker": [], "label": []}))


def test_it_refuses_a_gold_task_without_votes(tiny_votes):
    with pytest.raises(ValueError, match="gold task 9 has no votes"):
        validate_gold(pd.DataFrame({"task": [9], "label": ["x"]}), tiny_votes)


def test_it_refuses_boxes_with_x_max_below_x_min():
    with pytest.raises(ValueError, match="x_max < x_min"):
        validate_boxes(BOXES.assign(x_max=[-1.0]))


def test_it_refuses_non_numeric_boxes():
    with pytest.raises(ValueError, match="'y_min' must be numeric"):
        validate_boxes(BOXES.assign(y_min=["top"]))


def test_it_refuses_boxes_by_a_worker_who_never_saw_the_image():
    with pytest.raises(ValueError, match="worker 'a' drew boxes on task 1 but is not in seen"):
        validate_seen(pd.DataFrame({"task": [1], "worker": ["b"]}), BOXES)


def test_it_encodes_labels_in_the_order_given(tiny_votes):
    enc = encode_votes(tiny_votes, classes=["y", "x"])
    assert list(enc.classes) == ["y", "x"]
    assert enc.label[0] == 1


def test_it_refuses_labels_outside_the_given_classes(tiny_votes):
    with pytest.raises(ValueError, match="'y' is not one of the classes"):
        encode_votes(tiny_votes, classes=["x", "z"])
