"""Augmentation: generated images join the classes rare in the labelled set, at the stated ratio."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ml.classifier import ClassifierConfig, train_classifier
from ml.classifier.train import stack_vote_counts
from ml.diffusion.augment import generated_plan, with_generated
from ml.diffusion.conditions import answer_condition
from ml.diffusion.sample import save_generated


def votes_for(names: list[str], tree, n_votes: float = 10.0) -> np.ndarray:
    return np.stack([answer_condition(n, tree) for n in names]) * n_votes


@pytest.fixture
def pool(tmp_path, tree):
    names = ["T2.yes"] * 10 + ["smooth"] * 10
    conds = np.stack([answer_condition(n, tree) for n in names])
    images = torch.randint(0, 255, (len(names), 3, 16, 16), dtype=torch.uint8)
    save_generated(images, conds, tmp_path, names=names, meta={"model": "test"}, tree=tree)
    return tmp_path


def test_only_the_rare_class_gets_generated_images_at_the_ratio(pool, tree):
    # 48 smooth and 2 edge-on labelled galaxies: edge-on is 4% (< 5%), smooth is not rare.
    counts = votes_for(["smooth"] * 48 + ["T2.yes"] * 2, tree).astype(np.float32)
    x = torch.zeros((50, 3, 16, 16), dtype=torch.uint8)
    train_idx = np.arange(50)
    assert generated_plan(counts, pd.read_csv(pool / "manifest.csv"), tree, ratio=2.0) == {"T2.yes": 4}
    x2, counts2, idx2, n = with_generated(x, counts, train_idx, tree=tree, folder=pool, ratio=2.0)
    assert n == 4 and len(x2) == 54 and idx2.tolist() == list(range(54))
    # Pseudo-votes: the condition times the labelled galaxies' median votes (10), edge-on every time.
    assert np.allclose(counts2[50:], votes_for(["T2.yes"] * 4, tree))
    # The ratio is capped by what the pool holds.
    assert with_generated(x, counts, train_idx, tree=tree, folder=pool, ratio=100.0)[3] == 10


def test_no_rare_class_means_no_generated_images(pool, tree):
    counts = votes_for(["smooth"] * 10 + ["T2.yes"] * 10, tree).astype(np.float32)
    x = torch.zeros((20, 3, 16, 16), dtype=torch.uint8)
    assert with_generated(x, counts, np.arange(20), tree=tree, folder=pool, ratio=3.0)[3] == 0


def test_the_classifier_trainer_adds_them_and_reports_how_many(pool, tree, survey, tmp_path):
    folder, manifest = survey
    names = ["T0.smooth"] * 23 + ["T2.yes"]  # one edge-on among 24: 4%
    counts = {"T0": votes_for(names, tree)[:, :3], "T2": votes_for(names, tree)[:, 6:8]}
    cfg = ClassifierConfig(image_size=16, steps=2, min_steps=2, batch_size=8, n_ensemble=1,
                           out_dir=str(tmp_path / "clf"), generated_dir=str(pool), generated_ratio=3.0)
    result = train_classifier(cfg, images=[folder / f for f in manifest["file"]], vote_counts=counts, tree=tree,
                              val_fraction=0.0, progress=False)
    assert result["n_generated"] == 3 and result["n_train"] == 24
    assert stack_vote_counts(tree, counts, 24).shape == (24, 12)
