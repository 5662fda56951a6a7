import numpy as np
import pytest
import torch

from aggregation.metrics import binomial_interval
from ml.checkpoint import new_training_state, save_progress
from ml.classifier import ClassifierConfig, TreeEnsemble, evaluate_checkpoint, question_slices


@pytest.fixture(scope="module")
def prior_model(tmp_path_factory, tree):
    """An untrained classifier that predicts T0 = (0.6, 0.3, 0.1) for every image (zero head weights)."""
    cfg = ClassifierConfig(image_size=32, n_ensemble=1, mc_samples=2)
    model = TreeEnsemble(cfg, tree)
    prior = {key: torch.full((s.stop - s.start,), 1.0 / (s.stop - s.start)) for key, s in question_slices(tree).items()}
    prior["T0"] = torch.tensor([0.6, 0.3, 0.1])
    model.set_prior(prior, tree)
    optimizer = torch.optim.AdamW(model.parameters())
    state = new_training_state(model, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0),
                               torch.amp.GradScaler("cpu", enabled=False))
    out = tmp_path_factory.mktemp("prior_model")
    save_progress(state, {}, score=None, out_dir=out, config=cfg, tree=tree.to_dict(), kind="classifier")
    return out / "best.pt"


def test_it_scores_a_fixed_set_with_confusion_interval_and_calibration(prior_model, survey):
    folder, manifest = survey
    images = [folder / f for f in manifest["file"][:5]]
    # Truth: smooth, smooth, featured, artifact, unknown; the model says "smooth" at 0.6 for all.
    out = evaluate_checkpoint(prior_model, images=images, labels={"T0": np.array([0, 0, 1, 2, -1])}, views=1)
    t0 = out["T0"]
    assert set(out) == {"T0"} and t0["answers"] == ["smooth", "featured", "artifact"]
    assert t0["n"] == 4 and t0["accuracy"] == pytest.approx(0.5)
    assert t0["confusion"].tolist() == [[2, 0, 0], [1, 0, 0], [1, 0, 0]]
    # Wilson 95% for 2 of 4: centre 0.5, half-width 0.35.
    assert t0["interval"] == pytest.approx((0.1500, 0.8500), abs=1e-4) and t0["interval"] == binomial_interval(2, 4)
    # One bin at confidence 0.6 with accuracy 0.5.
    assert t0["ece"] == pytest.approx(0.1, abs=1e-5)
    assert t0["probs"].shape == (5, 3) and np.allclose(t0["probs"], [0.6, 0.3, 0.1], atol=1e-5)


def test_a_question_with_no_known_answer_has_no_accuracy(prior_model, survey):
    folder, manifest = survey
    out = evaluate_checkpoint(prior_model, images=[folder / manifest["file"][0]], labels={"T1": np.array([-1])},
                              views=1)
    assert out["T1"]["n"] == 0 and out["T1"]["accuracy"] is None and out["T1"]["interval"] == (0.0, 1.0)


@pytest.mark.parametrize("labels, message", [
    ({"T9": np.array([0])}, "not a question"),
    ({"T0": np.array([0, 1])}, "shape"),
    ({"T0": np.array([3])}, r"-1\.\.2"),
    ({"T0": np.array([0.5])}, "int array"),
])
def test_it_rejects_bad_labels_before_predicting(prior_model, survey, labels, message):
    folder, manifest = survey
    with pytest.raises(ValueError, match=message):
        evaluate_checkpoint(prior_model, images=[folder / manifest["file"][0]], labels=labels)
