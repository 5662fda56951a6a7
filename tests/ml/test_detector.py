import json

import numpy as np
import pandas as pd
import pytest
import torch

from ml.checkpoint import load_checkpoint
from ml.classifier import ClassifierConfig, train_classifier
from ml.data import dihedral
from ml.detector import DetectorConfig, check_training_boxes, completeness_purity, detect, match_boxes, train_detector
from ml.detector.augment import dihedral_boxes
from ml.synth import simulate_votes


def _truth_boxes(manifest) -> pd.DataFrame:
    rows = [(i, *b, 0.8) for i, c in enumerate(manifest["clumps"]) for b in json.loads(c)]
    return pd.DataFrame(rows, columns=["task", "x_min", "y_min", "x_max", "y_max", "p_real"])


@pytest.fixture(scope="module")
def classifier_ckpt(tmp_path_factory, survey, tree):
    folder, manifest = survey
    cfg = ClassifierConfig(image_size=32, steps=3, min_steps=3, batch_size=8, n_ensemble=1,
                           out_dir=str(tmp_path_factory.mktemp("clf")))
    return train_classifier(cfg, images=[folder / f for f in manifest["file"]],
                            vote_counts=simulate_votes(manifest, tree), tree=tree, progress=False)["checkpoint"]


def test_it_trains_from_the_classifier_backbone_and_detects(tmp_path, survey, classifier_ckpt):
    folder, manifest = survey
    images = [folder / f for f in manifest["file"]]
    cfg = DetectorConfig(steps=2, batch_size=4, out_dir=str(tmp_path))
    result = train_detector(cfg, images=images, boxes=_truth_boxes(manifest),
                            classifier_checkpoint=classifier_ckpt, progress=False)
    saved = load_checkpoint(result["checkpoint"], kind="detector")
    assert saved["config"]["image_size"] == 32 and saved["step"] == 2
    found = detect(result["checkpoint"], images=images[:4], score_threshold=0.0)
    assert list(found.columns) == ["task", "x_min", "y_min", "x_max", "y_max", "score"]
    assert found["task"].between(0, 3).all()


def test_it_copies_the_classifier_encoder_into_the_backbone(tmp_path, survey, classifier_ckpt):
    from ml.classifier import load_classifier
    from ml.detector.model import backbone_encoder
    from ml.detector.train import _initial_model

    model, cfg = _initial_model(DetectorConfig(), classifier_ckpt)
    classifier, *_ = load_classifier(classifier_ckpt)
    w = classifier.members[0].encoder.blocks[0][0].weight
    assert torch.equal(backbone_encoder(model).blocks[0][0].weight, w) and cfg.image_size == 32


def test_it_resumes_a_detector_from_its_last_step(tmp_path, survey):
    folder, manifest = survey
    images = [folder / f for f in manifest["file"]][:8]
    boxes = _truth_boxes(manifest)
    boxes = boxes[boxes.task < 8]
    cfg = DetectorConfig(backbone="scratch", image_size=32, steps=2, batch_size=4, out_dir=str(tmp_path),
                         val_fraction=0.0)
    train_detector(cfg, images=images, boxes=boxes, progress=False)
    first = load_checkpoint(tmp_path / "checkpoint.pt", kind="detector")
    cfg.steps, cfg.resume = 3, True
    train_detector(cfg, images=images, boxes=boxes, progress=False)
    second = load_checkpoint(tmp_path / "checkpoint.pt", kind="detector")
    adam_step = lambda s: int(next(iter(s["optimizer"]["state"].values()))["step"])
    assert (first["step"], second["step"]) == (2, 3) and adam_step(second) == 3


def test_it_needs_a_classifier_checkpoint_for_the_classifier_backbone(tmp_path, survey):
    folder, manifest = survey
    with pytest.raises(ValueError, match="classifier_checkpoint"):
        train_detector(DetectorConfig(out_dir=str(tmp_path)), images=[folder / manifest["file"][0]],
                       boxes=_truth_boxes(manifest).head(0), progress=False)


@pytest.mark.parametrize("bad, message", [
    ({"x_max": 0.0}, "x_max > x_min"),
    ({"task": 99}, "index"),
    ({"p_real": 1.5}, "p_real"),
])
def test_it_rejects_bad_boxes(bad, message):
    boxes = pd.DataFrame([{"task": 0, "x_min": 1.0, "y_min": 1.0, "x_max": 5.0, "y_max": 5.0, "p_real": 1.0}])
    with pytest.raises(ValueError, match=message):
        check_training_boxes(boxes.assign(**bad), n_images=2)


def test_it_rejects_boxes_without_coordinates():
    with pytest.raises(ValueError, match="x_min"):
        check_training_boxes(pd.DataFrame({"task": [0]}), n_images=1)


@pytest.mark.parametrize("k", range(8))
def test_it_moves_boxes_with_their_pixels_under_rotations_and_flips(k):
    image = torch.zeros(1, 16, 16)
    image[0, 2:5, 9:14] = 1.0  # rows 2-4, columns 9-13: box x 9..14, y 2..5
    box = dihedral_boxes(torch.tensor([[9.0, 2.0, 14.0, 5.0]]), k, 16)[0].long().tolist()
    moved = dihedral(image, k)[0]
    rows, cols = torch.nonzero(moved, as_tuple=True)
    assert box == [int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1]


def test_it_matches_detections_by_centre_within_a_psf():
    truth = np.array([[10, 10, 14, 14], [30, 30, 34, 34]], float)
    pred = np.array([[11, 11, 15, 15], [50, 50, 54, 54], [10.5, 10, 14.5, 14]], float)
    assert list(match_boxes(pred, truth, psf_fwhm=2.0)) == [0, -1, -1]


def test_it_scores_completeness_and_purity():
    truth = pd.DataFrame({"task": [0, 0, 1], "x_min": [10, 30, 5], "y_min": [10, 30, 5],
                          "x_max": [14, 34, 9], "y_max": [14, 34, 9]})
    pred = pd.DataFrame({"task": [0, 1, 1], "x_min": [11, 5, 40], "y_min": [11, 5, 40],
                         "x_max": [15, 9, 44], "y_max": [15, 9, 44], "score": [0.9, 0.8, 0.7]})
    scores = completeness_purity(pred, truth, psf_fwhm=2.0)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 1, 1)
    assert scores["completeness"] == pytest.approx(2 / 3) and scores["purity"] == pytest.approx(2 / 3)


def test_it_rescales_boxes_from_file_pixels_to_the_working_size():
    from ml.detector.train import _boxes_per_image

    table = pd.DataFrame([{"task": 1, "x_min": 10.0, "y_min": 20.0, "x_max": 30.0, "y_max": 40.0, "p_real": 0.7}])
    out = _boxes_per_image(table, np.array([[64, 64], [128, 256]]), 64, 2)
    assert out[0].shape == (0, 5)
    assert out[1].tolist() == [[5.0, 5.0, 15.0, 10.0, pytest.approx(0.7)]]
