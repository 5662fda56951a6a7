"""The classifier on real SDSS images: GZ1 held-out accuracy per class, confusion matrix, rotation averaging.

Usage (from the repository root)::

    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_classifier_gz1 --steps 400 --seeds 0

Data: ../shared/data/gz1_sdss_subset (651 real SDSS DR7 cutouts, one Galaxy Zoo 1
class each; Lintott et al. 2008).  The tree is GZ1's own single question with its
six classes, so the classifier must also tell clockwise from anticlockwise
spirals: training mirrors images and swaps those two labels on the mirrored ones
(:mod:`ml.classifier.chirality`), and prediction swaps them back on its mirrored views.
Split: 80 % train (15 % of it for early stopping), 20 % test, stratified by class,
seed 0.  Images: the central half of each cutout (the galaxy fills it as in the
Galaxy Zoo scaling), resized to the classifier's 64 px.

Rotation-averaged prediction (Dieleman et al. 2015, MNRAS 450, 1441) is measured
by predicting the same test images with 1 view (none), 4 (rotations) and 8
(rotations and flips) views of the same trained models.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from aggregation.schema import TaskTree
from benchmarks.ml.bench_classifier import gz1_crops
from benchmarks.ml.common import DATA, RESULTS, ROOT, write_result
from ml.classifier import ClassifierConfig, predict, train_classifier

CLASSES = ["elliptical", "spiral_clockwise", "spiral_anticlockwise", "edge_on", "dont_know", "merger"]
MERGED = {"spiral_clockwise": "spiral", "spiral_anticlockwise": "spiral"}  # the 5-class view without chirality


def gz1_tree() -> TaskTree:
    return TaskTree.from_dict({"first_task": "gz1", "tasks": {"gz1": {
        "type": "single", "question": "Galaxy Zoo 1 class",
        "answers": [{"label": c, "text": c.replace("_", " "), "next": None} for c in CLASSES]}}})


def stratified_split(labels: pd.Series, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    test = []
    for _, idx in labels.groupby(labels).groups.items():
        idx = rng.permutation(np.asarray(idx))
        test += idx[:round(len(idx) * test_fraction)].tolist()
    test = np.sort(np.array(test))
    return np.setdiff1d(np.arange(len(labels)), test), test


def scores(true: np.ndarray, guess: np.ndarray, classes: list[str]) -> dict:
    """Overall accuracy, per-class recall and the confusion matrix (rows: true, columns: predicted)."""
    matrix = pd.crosstab(pd.Categorical(true, classes), pd.Categorical(guess, classes), dropna=False)
    recall = {c: float(matrix.loc[c, c] / matrix.loc[c].sum()) for c in classes if matrix.loc[c].sum()}
    return {"accuracy": float((true == guess).mean()), "mean_class_recall": float(np.mean(list(recall.values()))),
            "per_class": recall, "confusion": matrix.to_numpy().tolist(), "classes": classes, "n": int(len(true))}


def run_seed(args, seed: int, files: list, labels: pd.Series) -> dict:
    train_idx, test_idx = stratified_split(labels, 0.2, 0)
    counts = np.zeros((len(train_idx), len(CLASSES)))
    counts[np.arange(len(train_idx)), [CLASSES.index(c) for c in labels.iloc[train_idx]]] = 1.0
    cfg = ClassifierConfig(steps=args.steps, min_steps=args.steps, n_ensemble=args.members, seed=seed,
                           out_dir=str(RESULTS / "models" / f"clf_gz1_{seed}"), resume=args.resume)
    start = time.process_time()
    res = train_classifier(cfg, images=[files[i] for i in train_idx], vote_counts={"gz1": counts},
                           tree=gz1_tree(), val_fraction=0.15)
    out = {"train_cpu_s": time.process_time() - start, "n_train": res["n_train"], "n_val": res["n_val"],
           "n_test": int(len(test_idx)), "best_step": res["metrics"].get("step")}
    true = labels.iloc[test_idx].to_numpy()
    for views in (1, 4, 8):
        probs = predict(res["checkpoint"], images=[files[i] for i in test_idx], views=views)["gz1"]["probs"]
        guess = np.array(CLASSES)[probs.argmax(1)]
        merged = (pd.Series(true).replace(MERGED).to_numpy(), pd.Series(guess).replace(MERGED).to_numpy())
        out[f"views_{views}"] = {"six": scores(true, guess, CLASSES),
                                 "five": scores(*merged, [MERGED.get(c, c) for c in CLASSES if c != "spiral_clockwise"])}
    return out


def plot_confusion(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["views_8"]["six"]
    m = np.array(s["confusion"], float)
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    ax.imshow(m / m.sum(1, keepdims=True).clip(1), cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, int(v), ha="center", va="center", fontsize=8, color="white" if v > m.max() / 2 else "black")
    names = [c.replace("spiral_", "").replace("_", " ") for c in s["classes"]]
    ax.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="GZ1 class",
           title=f"GZ1 held-out (n={s['n']}), 8 views: {s['accuracy']:.1%}")
    plt.setp(ax.get_xticklabels(), rotation=35, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--members", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files, labels = gz1_crops()
    results = {str(seed): run_seed(args, seed, files, labels) for seed in args.seeds}
    figure = ROOT / "docs" / "figures" / "gz1_confusion.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    plot_confusion(results[str(args.seeds[0])], figure)
    write_result("classifier_gz1", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
