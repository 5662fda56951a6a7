import numpy as np
import pandas as pd
import pytest

from aggregation.boxes import (LeanBoxAggregator, MajorityBoxAggregator, cluster_boxes, consensus_for_image,
                               iou_matrix)


def frame(rows):
    return pd.DataFrame(rows, columns=["task", "worker", "x_min", "y_min", "x_max", "y_max"])


TWO_AGREE = frame([(1, "a", 0, 0, 10, 10), (1, "b", 1, 0, 11, 10), (1, "c", 50, 50, 60, 60)])


def test_it_computes_iou_by_hand():
    iou = iou_matrix([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]])
    np.testing.assert_allclose(iou, [[2 / 6, 0.0]])


def test_it_never_puts_two_boxes_of_one_worker_in_a_cluster():
    coords = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    ids = cluster_boxes(coords, np.array([0, 0, 1]))
    assert ids[0] != ids[1] and len(set(ids)) == 2


def test_it_keeps_a_box_two_of_three_agree_on_and_drops_the_lone_one():
    consensus, risk = consensus_for_image(TWO_AGREE, ["a", "b", "c"])
    assert len(consensus) == 1
    np.testing.assert_allclose(consensus.loc[0, ["x_min", "y_min", "x_max", "y_max"]], [0.5, 0, 10.5, 10])
    assert consensus.loc[0, "n_workers"] == 2 and consensus.loc[0, "n_seen"] == 3
    assert 0 < risk < 1


def test_it_counts_an_empty_view_as_evidence_against_a_box():
    one_box = frame([(1, "a", 0, 0, 10, 10)])
    alone = consensus_for_image(one_box, ["a"])[0]
    doubted = consensus_for_image(one_box, ["a", "b", "c", "d"])[0]
    assert len(alone) == 1 and len(doubted) == 0


def test_it_lowers_the_risk_as_agreeing_workers_arrive():
    box = (0, 0, 10, 10)
    risks = [consensus_for_image(frame([(1, w, *box) for w in "abcd"[:n]]), list("abcd"[:n]))[1]
             for n in (1, 2, 3, 4)]
    assert all(np.diff(risks) < 0)


def test_it_gives_an_image_nobody_marked_only_the_risk_of_missed_objects():
    # Defaults: 0.25 hard objects marked with p 0.45 and 0.75 easy ones marked with p 0.9 per image.
    consensus, risk = consensus_for_image(frame([]), ["a", "b"], objects_per_image=[0.1, 0.25, 0.75])
    assert consensus.empty
    assert risk == pytest.approx(0.25 * 0.55 ** 2 + 0.75 * 0.1 ** 2)


def test_it_trusts_a_worker_with_a_low_miss_rate():
    params = pd.DataFrame({"fp_rate": [0.01, 0.3], "miss_rate": [0.01, 0.5], "sigma": [0.1, 0.3]},
                          index=pd.Index(["good", "sloppy"], name="worker"))
    boxes = frame([(1, "good", 0, 0, 10, 10)])
    trusted, _ = consensus_for_image(boxes, ["good", "sloppy"], worker_params=params)
    assert len(trusted) == 1


def test_it_learns_who_misses_boxes_on_a_simulated_crowd():
    rng = np.random.default_rng(0)
    miss = {"good": 0.05, "bad": 0.6}
    rows, seen = [], []
    for task in range(200):
        objects = rng.uniform(0, 100, size=(rng.integers(1, 4), 2))
        for worker in ["good", "bad", "x", "y", "z"]:
            seen.append((task, worker))
            for x, y in objects:
                if rng.random() > miss.get(worker, 0.2):
                    jitter = rng.normal(0, 0.5, 4)
                    rows.append((task, worker, x + jitter[0], y + jitter[1], x + 10 + jitter[2], y + 20 + jitter[3]))
    model = LeanBoxAggregator().fit(frame(rows), pd.DataFrame(seen, columns=["task", "worker"]))
    params = model.worker_params_
    assert params.loc["good", "miss_rate"] < 0.1 < 0.5 < params.loc["bad", "miss_rate"] < 0.7
    assert model.converged_ and model.risk_.index.nunique() == 200


def test_it_keeps_majority_boxes_by_fraction_of_viewers():
    model = MajorityBoxAggregator().fit(TWO_AGREE, pd.DataFrame({"task": [1] * 4, "worker": list("abcd")}))
    assert model.consensus_["n_workers"].tolist() == [2]
    assert model.consensus_["p_real"].tolist() == [0.5]


def test_it_refuses_boxes_of_two_images_in_consensus_for_image():
    with pytest.raises(ValueError, match="one image"):
        consensus_for_image(frame([(1, "a", 0, 0, 1, 1), (2, "a", 0, 0, 1, 1)]), ["a"])


def test_many_images_in_one_pass_give_each_image_its_own_consensus_and_risk():
    from aggregation.boxes import consensus_for_images

    other = frame([(2, "a", 20, 20, 30, 30), (2, "d", 21, 20, 31, 30)])
    seen = pd.DataFrame({"task": [1, 1, 1, 2, 2, 2], "worker": ["a", "b", "c", "a", "d", "e"]})
    consensus, risk = consensus_for_images(pd.concat([TWO_AGREE, other]), seen)
    for task, boxes, workers in ((1, TWO_AGREE, ["a", "b", "c"]), (2, other, ["a", "d", "e"])):
        alone, alone_risk = consensus_for_image(boxes, workers)
        mine = consensus[consensus["task"] == task].drop(columns="task").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone)
        assert risk[task] == pytest.approx(alone_risk)


def _crowd_on_images(seed: int, n_images: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Boxes and views of a small crowd: images in shuffled order, one to five objects seen by a few workers."""
    rng = np.random.default_rng(seed)
    rows, seen = [], []
    for task in rng.permutation(n_images):
        objects = rng.uniform(0, 50, size=(rng.integers(0, 5), 2))
        for worker in rng.choice(12, rng.integers(1, 7), replace=False):
            seen.append((task, f"w{worker}"))
            for x, y in objects[rng.random(len(objects)) < 0.7]:
                size, jitter = rng.uniform(4, 12), rng.normal(0, 0.8, 4)
                rows.append((task, f"w{worker}", x + jitter[0], y + jitter[1], x + size + jitter[2],
                             y + size + jitter[3]))
    return frame(rows), pd.DataFrame(seen, columns=["task", "worker"])


def test_candidates_are_each_image_clusters_with_their_median_boxes_and_every_viewer():
    from aggregation.boxes.candidates import build_candidates
    from aggregation.boxes.geometry import median_box

    boxes, seen = _crowd_on_images(seed=3, n_images=25)
    cands = build_candidates(boxes, seen)
    for task, image in boxes.groupby("task"):  # each image clustered alone, its candidates' boxes its medians
        coords = image[["x_min", "y_min", "x_max", "y_max"]].to_numpy(dtype=float)
        ids = cluster_boxes(coords, image["worker"].to_numpy())
        medians = np.array([median_box(coords[ids == c]) for c in range(ids.max() + 1)])
        mine = cands.boxes[cands.boxes["task"] == task]
        np.testing.assert_array_equal(mine[["x_min", "y_min", "x_max", "y_max"]].to_numpy(), medians)
        assert mine["n_workers"].tolist() == np.bincount(ids).tolist()
    # The views: every candidate joined to every viewer of its image, in seen order, with the distance of a mark.
    pairs = pd.DataFrame({"candidate": np.arange(len(cands.boxes)), "t": cands.boxes["t"].to_numpy()})
    expected = pairs.merge(cands.seen[["t", "w", "worker"]], on="t")
    assert cands.views[["candidate", "w", "worker"]].equals(expected[["candidate", "w", "worker"]])
    assert cands.views["drew"].sum() == len(boxes) and cands.views["drew"].equals(cands.views["distance"].notna())
    drawn = cands.views[cands.views["drew"]]
    assert ((drawn["distance"] >= 0) & (drawn["distance"] < 0.5)).all()  # each mark close to its median box


def test_it_names_a_worker_who_drew_on_an_image_they_did_not_view():
    from aggregation.base import validate_seen

    boxes, seen = _crowd_on_images(seed=4, n_images=5)
    first = boxes.iloc[0]
    unseen = seen[~((seen["task"] == first["task"]) & (seen["worker"] == first["worker"]))]
    with pytest.raises(ValueError, match=f"worker '{first['worker']}' drew boxes on task {first['task']} but"):
        validate_seen(unseen, boxes)
