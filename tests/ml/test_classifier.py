import dataclasses

import numpy as np
import pytest
import torch

from ml.checkpoint import load_checkpoint
from ml.classifier import ClassifierConfig, TreeEnsemble, predict, stack_vote_counts, train_classifier
from ml.synth import simulate_votes


def _cfg(tmp_path, **kw) -> ClassifierConfig:
    return ClassifierConfig(image_size=32, epochs=1, batch_size=8, n_ensemble=2, mc_samples=2,
                            out_dir=str(tmp_path / "model"), **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, survey, tree):
    folder, manifest = survey
    tmp = tmp_path_factory.mktemp("classifier")
    images = [folder / f for f in manifest["file"]]
    votes = simulate_votes(manifest, tree, n_volunteers=5)
    result = train_classifier(_cfg(tmp), images=images, vote_counts=votes, tree=tree, progress=False)
    return result, images, votes, tmp


def test_it_trains_and_reports_per_question_metrics(trained):
    result, *_ = trained
    assert result["checkpoint"].is_file()
    assert result["n_train"] + result["n_val"] == 24
    assert {"val_loss", "val_accuracy_T0"} <= set(result["metrics"])


def test_it_predicts_fractions_bald_and_entropy_for_every_question(trained, tree):
    result, images, *_ = trained
    out = predict(result["checkpoint"], images=images[:5])
    assert set(out) == {t.key for t in tree.questions()}
    for key, pred in out.items():
        k = len(tree.tasks[key].labels)
        assert pred["probs"].shape == (5, k) and np.allclose(pred["probs"].sum(1), 1, atol=1e-5)
        assert pred["bald"].shape == (5,) and (pred["bald"] >= 0).all()
        assert pred["entropy"].shape == (5,)


def test_it_predicts_the_same_numbers_twice(trained):
    result, images, *_ = trained
    a = predict(result["checkpoint"], images=images[:3])["T0"]["probs"]
    b = predict(result["checkpoint"], images=images[:3])["T0"]["probs"]
    assert np.allclose(a, b)


def test_it_resumes_from_the_last_epoch_with_the_optimizer_state(trained, tree):
    _, images, votes, tmp = trained
    first = load_checkpoint(tmp / "model" / "checkpoint.pt", kind="classifier")
    assert first["epoch"] == 1 and first["optimizer"]["state"]
    cfg = dataclasses.replace(_cfg(tmp), epochs=2, resume=True)
    train_classifier(cfg, images=images, vote_counts=votes, tree=tree, progress=False)
    second = load_checkpoint(tmp / "model" / "checkpoint.pt", kind="classifier")
    assert second["epoch"] == 2
    step = lambda s: int(next(iter(s["optimizer"]["state"].values()))["step"])
    assert step(second) == 2 * step(first)
    assert second["config"]["epochs"] == 2 and second["tree"] == tree.to_dict()


def test_it_outputs_concentrations_between_one_and_a_hundred_and_one(tree):
    model = TreeEnsemble(ClassifierConfig(n_ensemble=3), tree).eval()
    alpha = model(torch.rand(2, 3, 32, 32))
    n_answers = sum(len(t.labels) for t in tree.questions())
    assert alpha.shape == (3, 2, n_answers) and alpha.min() > 1 and alpha.max() < 101


def test_it_rejects_vote_counts_of_the_wrong_shape_before_training(tree, tmp_path, survey):
    folder, manifest = survey
    with pytest.raises(ValueError, match=r"vote_counts\['T0'\]"):
        train_classifier(_cfg(tmp_path), images=[folder / f for f in manifest["file"]],
                         vote_counts={"T0": np.ones((3, 3))}, tree=tree, progress=False)
    assert not (tmp_path / "model").exists()


def test_it_rejects_votes_for_tasks_outside_the_tree(tree):
    with pytest.raises(ValueError, match="not questions"):
        stack_vote_counts(tree, {"T9": np.ones((2, 2))}, 2)


def test_it_rejects_an_unknown_encoder(tree):
    with pytest.raises(ValueError, match="unknown encoder"):
        TreeEnsemble(ClassifierConfig(encoder="vgg99"), tree)


def test_it_builds_a_resnet18_ensemble_too(tree):
    model = TreeEnsemble(ClassifierConfig(encoder="resnet18", n_ensemble=1), tree).eval()
    assert model(torch.rand(1, 3, 32, 32)).shape[:2] == (1, 1)


def test_it_warm_starts_a_larger_ensemble_from_an_earlier_checkpoint(trained, tree, tmp_path):
    from ml.classifier import load_classifier
    from ml.classifier.train import _training_state
    from ml.device import runtime

    result, *_ = trained
    cfg = dataclasses.replace(_cfg(tmp_path), n_ensemble=3, init_checkpoint=str(result["checkpoint"]))
    model = _training_state(cfg, tree, runtime())["model"]
    saved, *_ = load_classifier(result["checkpoint"])
    assert torch.equal(model.members[2].head.weight, saved.members[0].head.weight)
    assert torch.equal(model.members[1].encoder.blocks[0][0].weight, saved.members[1].encoder.blocks[0][0].weight)


def test_it_averages_fewer_views_when_asked(trained):
    result, images, *_ = trained
    out = predict(result["checkpoint"], images=images[:2], views=1)
    assert out["T0"]["probs"].shape == (2, 3)
    with pytest.raises(ValueError, match="views"):
        predict(result["checkpoint"], images=images[:2], views=9)
