"""A new question from few labels: "is it a merger?" at 50, 100 and 300 labels.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.represent.bench_newquestion --seeds 3

No encoder has seen a merger (see `common`). For each budget and seed, that many held-out
galaxies are drawn at random (stratified by merger or not) as the labels; the rest of the
held-out pool is the test set. Models, on the same labels and test galaxies:

* ``head_gz1`` / ``head_synthetic`` / ``head_untrained``: the platform's `FewLabelHead` on the
  frozen GZ1-trained, synthetic-only and untrained encoders;
* ``finetune_gz1``: the GZ1-trained encoder fine-tuned end to end (`ml.represent.fewlabel.finetune`);
* ``scratch``: the same network and budget from a fresh initialisation.

Scored by ROC AUC and balanced accuracy against the GZ1 class.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from benchmarks.represent.common import ENCODER_SIZE, RESULTS, embeddings, gz1_table, load_uint8, write_result
from ml.classifier.predict import load_classifier
from ml.registry import build_encoder
from ml.represent.fewlabel import FewLabelHead, FinetuneConfig, finetune, finetuned_probs

BUDGETS = (50, 100, 300)


def draw(y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified random ``(train, test)`` row indices with ``n`` training rows."""
    rng = np.random.default_rng(seed)
    pos, neg = rng.permutation(np.flatnonzero(y == 1)), rng.permutation(np.flatnonzero(y == 0))
    n_pos = max(2, round(n * len(pos) / len(y)))
    train = np.concatenate([pos[:n_pos], neg[:n - n_pos]])
    return np.sort(train), np.setdiff1d(np.arange(len(y)), train)


def score(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"auc": round(float(roc_auc_score(y, p)), 3),
            "balanced_accuracy": round(float(balanced_accuracy_score(y, p > 0.5)), 3)}


def one_run(vectors: dict, images: torch.Tensor, y: np.ndarray, n: int, seed: int, steps: int) -> dict:
    train, test = draw(y, n, seed)
    out = {}
    for name, x in vectors.items():
        probs, _ = FewLabelHead(random_state=seed).fit(x[train], y[train], n_classes=2).predict(x[test])
        out[f"head_{name}"] = score(y[test], probs[:, 1])
    cfg = FinetuneConfig(steps=steps, seed=seed)
    gz1 = load_classifier(RESULTS / "models" / "gz1" / "best.pt")[0].members[0].encoder
    torch.manual_seed(seed)
    for name, encoder, factor in (("finetune_gz1", gz1, 0.3), ("scratch", build_encoder("small_cnn"), 1.0)):
        cfg.encoder_lr_factor = factor  # a fresh encoder learns at the head's rate
        model = finetune(encoder, images[train], y[train], n_classes=2, cfg=cfg)
        out[name] = score(y[test], finetuned_probs(model, images[test])[:, 1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    torch.set_num_threads(1)
    held = gz1_table().query("split != 'encoder_train'").reset_index(drop=True)  # never seen by the gz1 encoder
    y = (held["cls"] == "merger").to_numpy().astype(np.int64)
    vectors = {name: embeddings(name, held["file"]) for name in ("gz1", "synthetic", "untrained")}
    images = torch.nn.functional.interpolate(load_uint8(held["file"]).float(), size=ENCODER_SIZE, mode="bilinear",
                                             antialias=True).round().clamp(0, 255).to(torch.uint8)
    runs = {n: [one_run(vectors, images, y, n, seed, args.steps) for seed in range(args.seeds)] for n in BUDGETS}
    summary = {n: {model: {m: round(float(np.mean([r[model][m] for r in rs])), 3) for m in ("auc", "balanced_accuracy")}
                   for model in rs[0]} for n, rs in runs.items()}
    write_result("newquestion", {"args": vars(args), "n_pool": len(held), "n_mergers": int(y.sum()),
                                 "mean_over_seeds": summary, "runs": runs})


if __name__ == "__main__":
    main()
