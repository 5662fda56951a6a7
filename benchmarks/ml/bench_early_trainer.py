"""The early machine: what the step-budget trainer learns from its first 100 labelled galaxies.

Usage (from the repository root; about 4 CPU-minutes on two shared cores)::

    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_early_trainer --threads 2

A synthetic survey of 500 galaxies (64 px) is split into 100 to train on, 100
more that arrive later, and 300 held out, never trained on.  Simulated volunteers
(``ml.synth.simulate_votes``, accuracy 0.8) label the first 200.  Two runs:

* **fresh**: a new classifier on the first 100, at the ``min_steps`` floor;
* **fine-tune**: warm-started from the fresh model, on all 200, with the
  fine-tuning schedule (``finetune_steps`` at ``finetune_lr_factor`` of the peak).

Both are scored by :func:`ml.classifier.evaluate_checkpoint` on the same 300
held-out galaxies against the generator's truth: accuracy with its 95% Wilson
interval, ECE, and the share of predictions above 0.9 and how many of those are
right (the machine retires galaxies only on confident predictions).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.ml.common import RESULTS, demo_tree, survey, write_result
from ml.classifier import ClassifierConfig, evaluate_checkpoint, train_classifier
from ml.synth import simulate_votes


def truth_labels(manifest, tree) -> dict[str, np.ndarray]:
    """``{question: (N,) answer index}`` from the manifest's ``truth_*`` columns; -1 where not reached."""
    return {t.key: np.array([t.labels.index(v) if v in t.labels else -1 for v in manifest[f"truth_{t.key}"]])
            for t in tree.questions() if f"truth_{t.key}" in manifest}


def summary(scores: dict, labels: dict[str, np.ndarray], confident: float) -> dict:
    """Per question: the scores, plus the share of held-out predictions above ``confident`` and their accuracy."""
    out = {}
    for key, s in scores.items():
        known = labels[key] >= 0
        probs, truth = s["probs"][known], labels[key][known]
        sure = probs.max(axis=1) > confident
        right = probs.argmax(axis=1) == truth
        out[key] = {"n": s["n"], "accuracy": s["accuracy"], "interval": s["interval"], "ece": s["ece"],
                    "confusion": s["confusion"].tolist(), "share_above": float(sure.mean()) if s["n"] else None,
                    "accuracy_above": float(right[sure].mean()) if sure.any() else None}
    return out


def run(name: str, cfg: ClassifierConfig, images, votes, tree, test_images, labels, args) -> dict:
    start = time.perf_counter()
    result = train_classifier(cfg, images=images, vote_counts=votes, tree=tree, val_fraction=0.0, progress=True)
    seconds = time.perf_counter() - start
    scores = evaluate_checkpoint(result["checkpoint"], images=test_images, labels=labels, views=args.views)
    row = {"run": name, "n_train": result["n_train"], "steps": result["steps"], "train_seconds": seconds,
           "train_images_per_s": result["metrics"]["train_images_per_s"], "questions": summary(scores, labels, args.confident)}
    t0 = row["questions"]["T0"]
    print(f"{name}: T0 accuracy {t0['accuracy']:.3f} {tuple(round(v, 3) for v in t0['interval'])}, "
          f"{t0['share_above']:.2f} above {args.confident} of which {t0['accuracy_above']} right, "
          f"{row['train_images_per_s']:.0f} images/s", flush=True)
    return row | {"checkpoint": str(result["checkpoint"])}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--confident", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tree = demo_tree()
    folder, manifest = survey("early_500", 500, seed=21)
    files = [folder / f for f in manifest["file"]]
    votes = simulate_votes(manifest.iloc[:200].reset_index(drop=True), tree, n_volunteers=5, accuracy=0.8,
                           seed=args.seed)
    test, labels = files[200:], truth_labels(manifest.iloc[200:].reset_index(drop=True), tree)
    base = ClassifierConfig(seed=args.seed)
    fresh = ClassifierConfig(steps=base.min_steps, seed=args.seed, out_dir=str(RESULTS / "models" / "early_fresh"))
    first = run("fresh", fresh, files[:100], {k: v[:100] for k, v in votes.items()}, tree, test, labels, args)
    tune = ClassifierConfig(seed=args.seed, init_checkpoint=first["checkpoint"],
                            out_dir=str(RESULTS / "models" / "early_finetune"))
    second = run("fine-tune", tune, files[:200], votes, tree, test, labels, args)
    write_result("early_trainer", {"runs": [first, second], "n_test": len(test), "config": vars(base)})


if __name__ == "__main__":
    main()
