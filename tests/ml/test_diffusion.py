"""The conditional diffusion model: a tiny one (16 px, 2 steps) trains, resumes and generates deterministically."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aggregation.schema import TaskTree

from ml.checkpoint import load_checkpoint
from ml.diffusion.conditions import answer_condition, parse_condition, path_condition, truth_conditions
from ml.diffusion.config import preset
from ml.diffusion.marker import generated_marker
from ml.diffusion.sample import generate, load_diffusion, save_generated
from ml.diffusion.model import DiffusionModel, sampling_scheduler
from ml.diffusion.train import fit_diffusion, snr_weights, train_diffusion

TINY = {"image_size": 16, "block_out_channels": (8, 16), "norm_num_groups": 4, "attention_head_dim": 8,
        "steps": 2, "batch_size": 4, "checkpoint_every": 1, "sample_steps": 2}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, survey, tree):
    folder, manifest = survey
    cfg = preset("small", **TINY, out_dir=str(tmp_path_factory.mktemp("diffusion")))
    result = train_diffusion(cfg, images=[folder / f for f in manifest["file"]],
                             conditions=truth_conditions(manifest, tree), tree=tree, progress=False)
    return result, load_diffusion(result["checkpoint"])


def test_it_trains_a_few_steps_into_one_checkpoint_dict(trained):
    result, (_, cfg, _, step) = trained
    assert result["steps"] == step == 2 and result["n_train"] == 24
    saved = load_checkpoint(result["checkpoint"], kind="diffusion")
    assert saved["config"]["image_size"] == 16 and "ema.module.unet.conv_in.weight" in saved["model"]
    assert np.isfinite(result["metrics"]["train_loss"])


def test_it_generates_the_right_shape_the_same_for_a_seed_whatever_the_batch(trained, tree):
    _, (net, cfg, _, _) = trained
    conds = np.stack([answer_condition("smooth", tree), answer_condition("T2.yes", tree)] * 2)
    a = generate(net, cfg, conds, seed=5)
    assert a.shape == (4, 3, 16, 16) and a.dtype == torch.uint8
    assert torch.equal(a, generate(net, cfg, conds, seed=5, batch_size=1))
    assert not torch.equal(a, generate(net, cfg, conds, seed=6))


def test_conditioning_changes_the_output_unless_guidance_is_zero(trained, tree):
    _, (net, cfg, _, _) = trained
    smooth, edge_on = answer_condition("smooth", tree)[None], answer_condition("T2.yes", tree)[None]
    assert not torch.equal(generate(net, cfg, smooth, seed=1), generate(net, cfg, edge_on, seed=1))
    # w = 0 keeps only the null-condition prediction: the condition cannot matter.
    assert torch.equal(generate(net, cfg, smooth, seed=1, guidance_scale=0.0),
                       generate(net, cfg, edge_on, seed=1, guidance_scale=0.0))


def test_a_checkpoint_from_before_v_prediction_loads_as_it_was_trained(trained, tmp_path):
    result, _ = trained
    saved = load_checkpoint(result["checkpoint"], kind="diffusion")
    old = {k: v for k, v in saved["config"].items() if k not in ("prediction_type", "resnet_time_scale_shift")}
    old_cfg = preset("small", **{**TINY, "prediction_type": "epsilon", "resnet_time_scale_shift": "default"})
    weights = DiffusionModel(old_cfg, saved["model"]["net.project.0.weight"].shape[1] - 1).state_dict()
    torch.save({**saved, "config": old, "model": weights}, tmp_path / "old.pt")
    _, cfg, _, _ = load_diffusion(tmp_path / "old.pt")
    assert (cfg.prediction_type, cfg.resnet_time_scale_shift) == ("epsilon", "default")


def test_it_resumes_from_its_checkpoint(trained, tree):
    result, _ = trained
    cfg = preset("small", **{**TINY, "steps": 3}, out_dir=str(result["checkpoint"].parent), resume=True)
    x = torch.randint(0, 255, (4, 3, 16, 16), dtype=torch.uint8)
    conds = torch.from_numpy(np.stack([answer_condition("artifact", tree)] * 4))
    resumed = fit_diffusion(cfg, x, conds, tree, progress=False)
    assert resumed["steps"] == 3  # one more step, not three


def test_generated_pngs_carry_the_marker_and_a_manifest(trained, tree, tmp_path):
    _, (net, cfg, _, _) = trained
    conds = np.stack([answer_condition("T2.yes", tree)] * 2)
    manifest = save_generated(generate(net, cfg, conds), conds, tmp_path, names=["T2.yes"] * 2,
                              meta={"model": "tiny", "step": 2}, tree=tree)
    assert list(manifest["condition"]) == ["T2.yes"] * 2 and manifest["generated"].all()
    from PIL import Image
    with Image.open(tmp_path / manifest["file"][0]) as img:
        assert generated_marker(img)["model"] == "tiny"


def test_an_answer_two_questions_share_must_name_its_question():
    ask = {"type": "single", "question": "?", "answers": [{"label": "yes", "text": "Yes", "next": None},
                                                         {"label": "no", "text": "No", "next": None}]}
    tree = TaskTree.from_dict({"first_task": "A", "tasks": {
        "A": {**ask, "answers": [{"label": "yes", "text": "Yes", "next": "B"}, {"label": "no", "text": "No"}]},
        "B": ask}})
    with pytest.raises(ValueError, match="ambiguous; write one of A.yes, B.yes"):
        answer_condition("yes", tree)
    assert answer_condition("B.no", tree).tolist() == [1, 0, 0, 1]  # the path to B answers A with yes


def test_conditions_follow_the_tree(tree, survey):
    _, manifest = survey
    conds = truth_conditions(manifest, tree)
    assert conds.shape == (24, 12) and np.allclose(conds[:, :3].sum(1), 1.0)
    # A smooth galaxy reaches T1 but not T2..T4.
    smooth = path_condition({"T0": "smooth", "T1": "cigar"}, tree)
    assert smooth.tolist() == [1, 0, 0, 0, 0, 1] + [0] * 6
    assert parse_condition("[1,0,0,0,0,1,0,0,0,0,0,0]", tree).tolist() == smooth.tolist()
    with pytest.raises(ValueError, match="no answer 'maybe'"):
        answer_condition("maybe", tree)
    with pytest.raises(ValueError, match="sum to 1"):
        parse_condition("[0.5,0,0,0,0,1,0,0,0,0,0,0]", tree)
    with pytest.raises(ValueError, match="12 fractions"):
        parse_condition("[1, 0]", tree)


def test_min_snr_weights_clip_the_clean_steps_and_keep_the_noisy_ones():
    alphas = torch.tensor([0.9, 0.5, 0.1])  # SNR 9, 1 and 1/9
    v = snr_weights(alphas, gamma=5.0, prediction_type="v_prediction")
    eps = snr_weights(alphas, gamma=5.0, prediction_type="epsilon")
    assert torch.allclose(v, torch.tensor([5 / 10, 1 / 2, 0.1]))
    assert torch.allclose(eps, torch.tensor([5 / 9, 1.0, 1.0]))
    assert torch.equal(snr_weights(alphas, gamma=0.0, prediction_type="v_prediction"), torch.ones(3))


def test_sampling_starts_from_the_last_training_timestep():
    cfg = preset("small")
    assert cfg.prediction_type == "v_prediction"
    timesteps = sampling_scheduler(cfg, 25).timesteps
    assert int(timesteps[0]) == cfg.train_timesteps - 1 and len(timesteps) == 25


@pytest.mark.parametrize("override, fragment", [({"prediction_type": "sample"}, "prediction_type must be one of"),
                                                ({"snr_gamma": -1.0}, "snr_gamma must be >= 0")])
def test_a_bad_diffusion_setting_is_named(override, fragment):
    with pytest.raises(ValueError, match=fragment):
        preset("small", **override).check()
