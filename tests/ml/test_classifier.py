import dataclasses

import numpy as np
import pytest
import torch

from ml.checkpoint import load_checkpoint
from ml.classifier import (ClassifierConfig, TreeEnsemble, predict, question_slices, stack_vote_counts,
                           train_classifier, vote_prior)
from ml.synth import simulate_votes


def _cfg(tmp_path, **kw) -> ClassifierConfig:
    kw = {"steps": 4, "min_steps": 4, "checkpoint_every": 2, "batch_size": 8, "n_ensemble": 2, **kw}
    return ClassifierConfig(image_size=32, mc_samples=2, out_dir=str(tmp_path / "model"), **kw)


def _adam_steps(ckpt: dict) -> int:
    return int(next(iter(ckpt["optimizer"]["state"].values()))["step"])


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
    assert {"val_loss", "val_accuracy_T0", "train_images_per_s"} <= set(result["metrics"])


def test_it_takes_exactly_the_step_budget_whatever_the_number_of_batches(trained):
    result, _, _, tmp = trained
    saved = load_checkpoint(tmp / "model" / "checkpoint.pt", kind="classifier")
    # 19 training galaxies at batch 8 are 3 batches a pass: the 4th step starts a reshuffled second pass.
    assert saved["step"] == 4 and _adam_steps(saved) == 4 and result["steps"] == 4


def test_the_step_floor_applies_however_few_labels_there_are(survey, tree, tmp_path):
    folder, manifest = survey
    images = [folder / f for f in manifest["file"]][:6]
    votes = {k: v[:6] for k, v in simulate_votes(manifest, tree, n_volunteers=3).items()}
    cfg = _cfg(tmp_path, steps=1, min_steps=4, batch_size=64, n_ensemble=1)
    assert cfg.schedule() == (4, cfg.lr)
    train_classifier(cfg, images=images, vote_counts=votes, tree=tree, val_fraction=0.0, progress=False)
    saved = load_checkpoint(tmp_path / "model" / "best.pt", kind="classifier")
    assert saved["step"] == 4 and _adam_steps(saved) == 4


def test_it_trains_on_everything_when_the_caller_keeps_its_own_held_out_set(trained, tree, tmp_path):
    _, images, votes, _ = trained
    result = train_classifier(_cfg(tmp_path, n_ensemble=1), images=images, vote_counts=votes, tree=tree,
                              val_fraction=0.0, progress=False)
    assert (result["n_train"], result["n_val"]) == (24, 0)
    assert result["checkpoint"].is_file() and "val_loss" not in result["metrics"]


def test_an_untrained_model_predicts_the_vote_prior_not_one_third(trained, tree):
    _, _, votes, _ = trained
    slices = question_slices(tree)
    prior = vote_prior(stack_vote_counts(tree, votes, 24), slices)
    model = TreeEnsemble(ClassifierConfig(n_ensemble=2), tree)
    model.set_prior(prior, tree)
    alpha = model.eval()(torch.rand(3, 3, 32, 32))  # (M, N, A)
    for key, s in slices.items():
        fractions = alpha[..., s] / alpha[..., s].sum(-1, keepdim=True)
        assert torch.allclose(fractions, prior[key].float().expand_as(fractions), atol=1e-5)
        assert torch.allclose(alpha[..., s].sum(-1), torch.tensor(float(s.stop - s.start)), atol=1e-4)
    counts_t0 = votes["T0"].sum(0)
    assert np.allclose(prior["T0"].numpy(), (counts_t0 + 1) / (counts_t0.sum() + 3))
    assert not torch.allclose(prior["T0"], torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.02)


def test_the_first_training_starts_from_the_training_set_prior(trained, tree, tmp_path):
    from ml.classifier.train import _training_state
    from ml.device import runtime

    _, _, votes, _ = trained
    prior = vote_prior(stack_vote_counts(tree, votes, 24), question_slices(tree))
    model = _training_state(_cfg(tmp_path), tree, runtime(), prior=prior)["model"].eval()
    alpha = model(torch.rand(1, 3, 32, 32))[0, 0, question_slices(tree)["T0"]]
    assert torch.allclose(alpha / alpha.sum(), prior["T0"].float(), atol=1e-5)


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


def test_it_resumes_from_the_last_step_with_the_optimizer_state(trained, tree):
    _, images, votes, tmp = trained
    first = load_checkpoint(tmp / "model" / "checkpoint.pt", kind="classifier")
    assert first["step"] == 4 and first["optimizer"]["state"]
    cfg = dataclasses.replace(_cfg(tmp), steps=8, resume=True)
    train_classifier(cfg, images=images, vote_counts=votes, tree=tree, progress=False)
    second = load_checkpoint(tmp / "model" / "checkpoint.pt", kind="classifier")
    assert second["step"] == 8 and _adam_steps(second) == 2 * _adam_steps(first)
    assert second["lr_scheduler"]["last_epoch"] == 8
    assert second["config"]["steps"] == 8 and second["tree"] == tree.to_dict()


def test_a_warm_start_fine_tunes_with_fewer_steps_a_lower_peak_and_a_floor(trained, tree, tmp_path):
    result, images, votes, _ = trained
    cfg = _cfg(tmp_path, finetune_steps=4, finetune_lr_factor=0.25, warmup_steps=1, lr_floor=0.2,
               init_checkpoint=str(result["checkpoint"]))
    assert cfg.schedule() == (4, cfg.lr * 0.25)
    train_classifier(cfg, images=images, vote_counts=votes, tree=tree, progress=False)
    saved = load_checkpoint(tmp_path / "model" / "checkpoint.pt", kind="classifier")
    group = saved["optimizer"]["param_groups"][0]
    assert saved["step"] == 4 and _adam_steps(saved) == 4
    assert group["initial_lr"] == pytest.approx(cfg.lr * 0.25)
    assert group["lr"] == pytest.approx(cfg.lr * 0.25 * 0.2)  # cosine ends on the floor, not at zero


def test_its_concentrations_are_positive_and_grow_without_a_ceiling(tree):
    model = TreeEnsemble(ClassifierConfig(n_ensemble=3), tree).eval()
    alpha = model(torch.rand(2, 3, 32, 32))
    n_answers = sum(len(t.labels) for t in tree.questions())
    assert alpha.shape == (3, 2, n_answers) and alpha.min() > 0
    with torch.no_grad():
        model.members[0].head.bias.fill_(20.0)
    assert model.members[0].concentrations(torch.zeros(1, 128)).min() > 150


def test_it_rejects_vote_counts_of_the_wrong_shape_before_training(tree, tmp_path, survey):
    folder, manifest = survey
    with pytest.raises(ValueError, match=r"vote_counts\['T0'\]"):
        train_classifier(_cfg(tmp_path), images=[folder / f for f in manifest["file"]],
                         vote_counts={"T0": np.ones((3, 3))}, tree=tree, progress=False)
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("bad", [{"steps": 0}, {"min_steps": 0}, {"finetune_steps": 0}, {"lr_floor": 1.0},
                                 {"finetune_lr_factor": 0.0}])
def test_it_rejects_a_bad_budget(bad):
    with pytest.raises(ValueError, match="ClassifierConfig"):
        ClassifierConfig(**bad).check()


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
