"""Classifier accuracy: held-out synthetic galaxies, and the held-out part of the GZ1 SDSS subset.

Usage (from the repository root)::

    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_classifier --n-train 2000 --steps 200 --threads 1

1. Synthetic: train on ``n_train`` pool galaxies (10 simulated volunteers of
   accuracy 0.8 each), predict 1,000 held-out galaxies (seed 200) and score the
   argmax of the predicted fractions against the generator's truth, per question
   (galaxies where the question has a true answer).
2. GZ1 (../shared/data/gz1_sdss_subset, real SDSS images): classes mapped onto
   the demo tree (elliptical -> smooth; spiral -> featured, not edge-on, spiral;
   edge_on -> featured, edge-on; dont_know -> artifact; mergers left out), one
   vote per galaxy, 80/20 split (seed 0).  Three models on the same split:
   synthetic-only (no GZ1 training), GZ1 from scratch, GZ1 warm-started from the
   synthetic model.  Images are centre-cropped to half their side first, so the
   galaxy fills the frame about as much as in the synthetic images.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from PIL import Image

from benchmarks.ml.common import DATA, RESULTS, demo_tree, survey, write_result
from ml.classifier import ClassifierConfig, predict, train_classifier
from ml.synth import simulate_votes

GZ1_MAP = {"elliptical": ("smooth", "", ""), "spiral_clockwise": ("featured", "no", "spiral"),
           "spiral_anticlockwise": ("featured", "no", "spiral"), "edge_on": ("featured", "yes", ""),
           "dont_know": ("artifact", "", "")}


def accuracy(preds: dict, truth: pd.DataFrame, tree) -> dict[str, dict]:
    out = {}
    for key, pred in preds.items():
        labels = tree.tasks[key].labels
        column = truth.get(f"truth_{key}")
        if column is None:
            continue
        mask = column.isin(labels).to_numpy()
        if not mask.any():
            continue
        guess = np.array(labels)[pred["probs"][mask].argmax(1)]
        out[key] = {"accuracy": float((guess == column[mask].to_numpy()).mean()), "n": int(mask.sum())}
    return out


def synthetic(args, tree) -> tuple[dict, str]:
    pool_dir, pool = survey("pool", 6000, seed=100)
    test_dir, test = survey("test", 1000, seed=200)
    part = pool.head(args.n_train)
    votes = simulate_votes(part, tree, n_volunteers=10, accuracy=0.8, seed=1)
    cfg = ClassifierConfig(steps=args.steps, n_ensemble=2, out_dir=str(RESULTS / "models" / f"clf_synth_{args.n_train}"))
    start = time.perf_counter()
    res = train_classifier(cfg, images=[pool_dir / f for f in part["file"]], vote_counts=votes, tree=tree)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    preds = predict(res["checkpoint"], images=[test_dir / f for f in test["file"]], progress=True)
    predict_seconds = time.perf_counter() - start
    return {"n_train": res["n_train"], "n_val": res["n_val"], "steps": res["steps"], "train_seconds": seconds,
            "val_metrics": res["metrics"], "predict_images_per_s": len(test) / predict_seconds,
            "test_vs_truth": accuracy(preds, test, tree)}, str(res["checkpoint"])


def gz1_crops() -> tuple[list, pd.Series]:
    """Centre crops (half the side) of every GZ1 image, cached as PNG, and each one's GZ1 class name."""
    labels = pd.read_csv(DATA / "gz1_sdss_subset" / "labels.csv")
    folder = RESULTS / "data" / "gz1_crop"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name in labels["image"]:
        target = folder / (name.replace("/", "_").rsplit(".", 1)[0] + ".png")
        if not target.is_file():
            with Image.open(DATA / "gz1_sdss_subset" / name) as im:
                w, h = im.size
                im.convert("RGB").crop((w // 4, h // 4, w - w // 4, h - h // 4)).save(target)
        files.append(target)
    return files, labels["gz1_class_name"]


def gz1_folder() -> tuple[list, pd.DataFrame]:
    """The GZ1 crops without mergers (no place in the demo tree) and their demo-tree truth columns."""
    files, classes = gz1_crops()
    keep = classes.isin(GZ1_MAP).to_numpy()
    files, classes = [f for f, k in zip(files, keep) if k], classes[keep].reset_index(drop=True)
    mapped = classes.map(GZ1_MAP)
    truth = pd.DataFrame({"truth_T0": [m[0] for m in mapped], "truth_T2": [m[1] for m in mapped],
                          "truth_T4": [m[2] for m in mapped], "class": classes})
    return files, truth


def gz1(args, tree, synthetic_ckpt: str) -> dict:
    files, truth = gz1_folder()
    order = np.random.default_rng(0).permutation(len(files))
    n_test = len(files) // 5
    test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    votes = simulate_votes(truth.iloc[train_idx].reset_index(drop=True), tree, n_volunteers=1, accuracy=1.0)
    # Only answers GZ1 actually gives count: drop the random answers the walk adds (T1, T3, unknown T4).
    for key in ("T1", "T3"):
        votes[key][:] = 0
    votes["T4"][(truth.iloc[train_idx]["truth_T4"] == "").to_numpy()] = 0
    test_files, test_truth = [files[i] for i in test_idx], truth.iloc[test_idx].reset_index(drop=True)
    out = {"n_train": int(train_idx.size), "n_test": int(n_test),
           "synthetic_only": accuracy(predict(synthetic_ckpt, images=test_files), test_truth, tree)}
    for name, init in (("gz1_scratch", None), ("gz1_from_synthetic", synthetic_ckpt)):
        # Same budget and peak learning rate for both, so only the starting weights differ.
        cfg = ClassifierConfig(steps=args.gz1_steps, finetune_steps=args.gz1_steps, finetune_lr_factor=1.0,
                               n_ensemble=2, init_checkpoint=init,
                               out_dir=str(RESULTS / "models" / name), lr=args.gz1_lr)
        res = train_classifier(cfg, images=[files[i] for i in train_idx], vote_counts=votes, tree=tree,
                               val_fraction=0.15)
        out[name] = accuracy(predict(res["checkpoint"], images=test_files), test_truth, tree)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps (8 epochs of 1,600 at batch 64)")
    parser.add_argument("--gz1-steps", type=int, default=300)
    parser.add_argument("--gz1-lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tree = demo_tree()
    synth_result, ckpt = synthetic(args, tree)
    write_result(f"classifier_{args.n_train}", {"args": vars(args), "synthetic": synth_result,
                                                 "gz1": gz1(args, tree, ckpt)})


if __name__ == "__main__":
    main()
