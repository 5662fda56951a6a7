"""ml.represent: neighbours by hand, faiss and NumPy agree, the anomaly ranker follows labels, heads and fine-tuning."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.represent.anomaly import GPRanker, IsolationForestRanker
from ml.represent.embed import embed_tensor
from ml.represent.fewlabel import FewLabelHead, FinetuneConfig, finetune, finetuned_probs
from ml.represent.index import EmbeddingIndex


def test_it_finds_neighbours_on_the_unit_circle_in_order():
    angles = np.radians([0, 10, 30, 90, 180])
    index = EmbeddingIndex(np.c_[np.cos(angles), np.sin(angles)], np.array([1, 2, 3, 4, 5]))
    ids, scores = index.search(np.array([1.0, 0.0]), k=3, exclude=np.array([1]))
    assert ids.tolist() == [2, 3, 4]
    assert np.allclose(scores, np.cos(np.radians([10, 30, 90])), atol=1e-6)
    assert index.search(np.array([1.0, 0.0]), k=2, allowed=np.array([4, 5]))[0].tolist() == [4, 5]
    with pytest.raises(ValueError, match="dimensions"):
        index.search(np.ones(3), k=1)


def test_faiss_and_numpy_give_the_same_exact_neighbours():
    rng = np.random.default_rng(0)
    vectors, ids = rng.normal(size=(500, 8)), np.arange(500) * 3
    numpy_index, faiss_index = EmbeddingIndex(vectors, ids), EmbeddingIndex(vectors, ids, brute_force_below=1)
    for q in rng.normal(size=(5, 8)):
        for kw in ({}, {"exclude": ids[:10], "allowed": ids[::2]}):
            a, b = numpy_index.search(q, k=7, **kw), faiss_index.search(q, k=7, **kw)
            assert a[0].tolist() == b[0].tolist() and np.allclose(a[1], b[1], atol=1e-5)


def test_embeddings_are_unit_rows_and_the_same_for_a_rotated_galaxy():
    torch.manual_seed(0)
    from ml.encoders import SmallCNN

    x = torch.randint(0, 255, (3, 3, 16, 16), dtype=torch.uint8)
    e = embed_tensor([SmallCNN()], torch.cat([x, torch.rot90(x, 1, dims=(-2, -1))]), views=8)
    assert e.shape == (6, 128) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert np.allclose(e[:3], e[3:], atol=1e-4)  # all eight views averaged: a quarter turn changes nothing


def test_the_anomaly_ranking_moves_towards_what_the_researcher_marks():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 0.1, (10, 3)) + [1, 0, 0], rng.normal(0, 0.1, (10, 3)) + [0, 1, 0]])
    prior = IsolationForestRanker().fit(x).scores()
    ranked = GPRanker().fit(x, np.array([0, 10]), np.array([1.0, 0.0])).scores()
    assert ranked[1:10].mean() > prior[1:10].mean() and ranked[11:].mean() < prior[11:].mean()
    assert set(GPRanker().fit(x, np.array([0, 10]), np.array([1.0, 0.0])).acquire(5, exclude=np.array([0, 10]))) \
        <= set(range(1, 10))
    with pytest.raises(ValueError, match="0 or 1"):
        GPRanker().fit(x, np.array([0]), np.array([0.5]))


def test_the_few_label_head_is_surer_near_its_labels():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(-1, 0.2, (8, 2)), rng.normal(1, 0.2, (8, 2))])
    head = FewLabelHead(n_members=8).fit(x, np.repeat([0, 1], 8), n_classes=3)
    probs, std = head.predict(np.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]))
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1) and probs[:, 2].max() == 0
    assert probs[0].argmax() == 0 and probs[1].argmax() == 1 and std[2] > max(std[0], std[1])
    with pytest.raises(ValueError, match="two different answers"):
        FewLabelHead().fit(x, np.zeros(16), n_classes=2)


def test_fine_tuning_learns_a_compact_from_a_ring_galaxy_in_a_few_steps():
    from ml.encoders import SmallCNN

    yy, xx = np.mgrid[:16, :16]
    r = np.hypot(xx - 7.5, yy - 7.5)
    compact, ring = 230 * np.exp(-r**2 / 8), 230 * np.exp(-(r - 6) ** 2 / 2)
    noise = np.random.default_rng(0).normal(0, 5, (16, 3, 16, 16))
    pixels = np.clip(np.r_[[compact] * 8, [ring] * 8][:, None] + noise, 0, 255)
    images = torch.from_numpy(pixels.astype(np.uint8))
    labels = np.repeat([0, 1], 8)
    model = finetune(SmallCNN(), images, labels, n_classes=2, cfg=FinetuneConfig(steps=60, batch_size=8, lr=3e-3))
    assert (finetuned_probs(model, images).argmax(1) == labels).all()
