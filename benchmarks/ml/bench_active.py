"""Active learning: labels needed to reach a fixed accuracy, BALD versus random acquisition.

Usage (from the repository root)::

    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_active --pool 1500 --start 100 --step 100 --rounds 5 --threads 1

A pool of synthetic galaxies starts unlabelled except ``start`` random ones.
Each round trains a fresh classifier (one member, MC dropout, as in Walmsley et
al. 2020) on the labelled galaxies (10 simulated volunteers of accuracy 0.8
each) for a fixed number of gradient steps (so small sets are not under-trained),
scores every question's accuracy on 500 held-out test galaxies against the
truth, then labels ``step`` more: the highest BALD scores of question
``--question`` among the unlabelled (``bald``) or a random draw (``random``).
Both strategies share the starting set and every seed.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks.ml.bench_classifier import accuracy
from benchmarks.ml.common import RESULTS, demo_tree, survey, write_result
from ml.classifier import ClassifierConfig, predict, train_classifier
from ml.synth import simulate_votes


def run(strategy: str, args, tree, pool_dir, pool, test_dir, test, votes) -> list[dict]:
    rng = np.random.default_rng(args.seed)
    labelled = list(rng.choice(len(pool), size=args.start, replace=False))
    curve = []
    for round_ in range(args.rounds + 1):
        idx = np.array(sorted(labelled))
        cfg = ClassifierConfig(steps=args.steps, min_steps=args.steps, batch_size=args.batch_size, n_ensemble=1, mc_samples=args.mc_samples,
                               seed=args.seed, out_dir=str(RESULTS / "models" / f"active_{strategy}"))
        res = train_classifier(cfg, images=[pool_dir / pool["file"][i] for i in idx],
                               vote_counts={k: v[idx] for k, v in votes.items()}, tree=tree,
                               val_fraction=0.0, progress=False)
        preds = predict(res["checkpoint"], images=[test_dir / f for f in test["file"]], views=args.views)
        scores = accuracy(preds, test, tree)
        curve.append({"labels": int(idx.size), **{f"test_accuracy_{k}": v["accuracy"] for k, v in scores.items()}})
        print(strategy, curve[-1], flush=True)
        if round_ == args.rounds:
            break
        unlabelled = np.setdiff1d(np.arange(len(pool)), idx)
        if strategy == "random":
            chosen = rng.choice(unlabelled, size=args.step, replace=False)
        else:
            bald = predict(res["checkpoint"], images=[pool_dir / pool["file"][i] for i in unlabelled],
                           views=args.views)[args.question]["bald"]
            chosen = unlabelled[np.argsort(-bald)[: args.step]]
        labelled.extend(int(i) for i in chosen)
    return curve


def labels_to_reach(curve: list[dict], key: str, target: float) -> int | None:
    return next((c["labels"] for c in curve if c[key] >= target), None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", type=int, default=1500)
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--step", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=120, help="gradient steps per round")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--question", default="T0", help="question whose BALD drives acquisition")
    parser.add_argument("--mc-samples", type=int, default=10)
    parser.add_argument("--views", type=int, default=2, help="rotations averaged at prediction (speed)")
    parser.add_argument("--targets", type=float, nargs="+", default=[0.9, 0.95, 0.98])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tree = demo_tree()
    pool_dir, pool = survey("pool", 6000, seed=100)
    test_dir, test = survey("test", 1000, seed=200)
    pool, test = pool.tail(args.pool).reset_index(drop=True), test.tail(500).reset_index(drop=True)
    votes = simulate_votes(pool, tree, n_volunteers=10, accuracy=0.8, seed=args.seed)
    curves = {s: run(s, args, tree, pool_dir, pool, test_dir, test, votes) for s in ("random", "bald")}
    key = f"test_accuracy_{args.question}"
    reach = {s: {str(t): labels_to_reach(c, key, t) for t in args.targets} for s, c in curves.items()}
    write_result(f"active_{args.question}_seed{args.seed}", {"args": vars(args), "curves": curves, "labels_to_reach": reach})


if __name__ == "__main__":
    main()
