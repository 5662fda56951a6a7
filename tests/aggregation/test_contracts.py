import numpy as np
import pytest

from aggregation.contracts import (BOX_COLUMNS, PLATFORM_UNSUPERVISED_WEIGHT, SEEN_COLUMNS, VOTE_COLUMNS,
                                   EngineState, annotations_to_frames, annotations_to_records)
from aggregation.schema import TaskTree

TREE = TaskTree.from_dict({"first_task": "T0", "tasks": {
    "T0": {"type": "single", "answers": [{"label": "smooth", "next": "T3"}, {"label": "featured", "next": "T1"}]},
    "T1": {"type": "drawing", "tools": [{"label": "clump"}], "next": "T3"},
    "T3": {"type": "multiple", "answers": [{"label": "ring"}, {"label": "lens"}]}}})
BOX = {"tool": "clump", "x_min": 1, "y_min": 2, "x_max": 3, "y_max": 4}


def test_votes_boxes_and_seen_come_out_in_the_engines_words():
    frames = annotations_to_frames(TREE, [
        (10, "ann", [{"task": "T0", "value": "smooth"}, {"task": "T3", "value": ["ring"]}]),
        (10, "bob", [{"task": "T0", "value": "featured"}, {"task": "T1", "value": [BOX, {**BOX, "x_max": 9}]},
                     {"task": "T3", "value": []}]),
        (11, "ann", [{"task": "T0", "value": "featured"}, {"task": "T1", "value": []}, {"task": "T3", "value": []}])])
    assert list(frames.votes) == ["T0"]  # multiple-answer questions are not votes of the one-label model
    assert frames.votes["T0"].values.tolist() == [[10, "ann", "smooth"], [10, "bob", "featured"], [11, "ann", "featured"]]
    assert tuple(frames.boxes.columns) == BOX_COLUMNS and tuple(frames.votes["T0"].columns) == VOTE_COLUMNS
    assert frames.boxes.values.tolist() == [[10, "bob", 1.0, 2.0, 3.0, 4.0], [10, "bob", 1.0, 2.0, 9.0, 4.0]]
    assert tuple(frames.seen.columns) == SEEN_COLUMNS
    assert frames.seen.values.tolist() == [[10, "bob"], [11, "ann"]]  # ann saw image 11 and drew nothing


def test_no_rows_give_empty_tables_with_their_columns():
    frames = annotations_to_frames(TREE, [])
    assert frames.votes == {} and frames.boxes.empty and frames.seen.empty
    assert tuple(frames.boxes.columns) == BOX_COLUMNS and tuple(frames.seen.columns) == SEEN_COLUMNS


def test_ticked_answers_of_a_multiple_question_are_kept_as_choices_even_when_none_was_ticked():
    records = annotations_to_records(TREE, [(1, "ann", [{"task": "T3", "value": ["ring", "lens"]}]),
                                            (2, "bob", [{"task": "T3", "value": []}])])
    assert records.choices == {"T3": [(1, "ann", "ring"), (1, "ann", "lens")]}


def test_a_question_the_tree_lacks_is_skipped_and_records_accumulate():
    records = annotations_to_records(TREE, [(1, "ann", [{"task": "T9", "value": "x"}])])
    annotations_to_records(TREE, [(2, "bob", [{"task": "T0", "value": "smooth"}])], into=records)
    assert records.votes == {"T0": [(2, "bob", "smooth")]}


def test_a_malformed_row_or_mark_is_a_clear_error():
    with pytest.raises(ValueError, match="task, worker, annotations"):
        annotations_to_frames(TREE, [(1, [{"task": "T0", "value": "smooth"}])])
    with pytest.raises(ValueError, match="lacks y_max"):
        annotations_to_frames(TREE, [(1, "ann", [{"task": "T1", "value": [{"x_min": 0, "y_min": 0, "x_max": 1}]}])])


def test_the_engine_state_defaults_to_the_platforms_half_weight():
    assert EngineState().unsupervised_weight == PLATFORM_UNSUPERVISED_WEIGHT == 0.5
    assert EngineState.from_dict({}) == EngineState.from_dict(None) == EngineState()


def test_the_engine_state_survives_a_round_trip_through_json():
    state = EngineState(unsupervised_weight=0, agent_prior={"T0": [[3, 1], [1, 3]]}, class_prior={"T0": [0.2, 0.8]},
                        box_worker_params={"worker": [1, 2], "fp_rate": [0.1, 0.2]}, refitted_at="2026-01-01T00:00")
    data = state.to_dict()
    assert EngineState.from_dict(data) == state and data["agent_prior"] == {"T0": [[3.0, 1.0], [1.0, 3.0]]}
    np.testing.assert_array_equal(state.agent_prior_for("T0"), [[3, 1], [1, 3]])
    assert state.agent_prior_for("T1") is None and state.class_prior_for("T0").sum() == pytest.approx(1.0)
    assert state.box_params_frame().loc[2, "fp_rate"] == 0.2


@pytest.mark.parametrize("data, message", [
    ({"unsupervised_weight": -1}, "unsupervised_weight"),
    ({"unsupervised_weight": True}, "unsupervised_weight"),
    ({"unsupervised_weight": float("nan")}, "unsupervised_weight"),
    ({"agent_prior": {"T0": [[1, 2, 3]]}}, r"agent_prior\['T0'\] must be a \(K, K\) matrix"),
    ({"agent_prior": {"T0": [[1, 0], [0, 1]]}}, "positive"),
    ({"class_prior": {"T0": ["a", "b"]}}, "must be numbers"),
    ({"box_worker_params": {"fp_rate": [0.1]}}, "'worker' column"),
    ({"box_worker_params": {"worker": [1, 2], "fp_rate": [0.1]}}, "one length"),
    ({"refitted_at": 5}, "refitted_at"),
    ({"temperature": 1}, "unknown engine state key 'temperature'"),
])
def test_a_bad_engine_state_is_refused_with_a_message_naming_the_fault(data, message):
    with pytest.raises(ValueError, match=message):
        EngineState.from_dict(data)
