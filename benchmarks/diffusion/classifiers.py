"""Classifiers of #18: the judge (conditional accuracy, KID features) and the rare-class experiment.

``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.diffusion.classifiers judge``
``... classifiers experiment --generated var/diffusion/gen/rare --ratio 3 [--seeds 0 1 2]``
``... classifiers experiment`` (no --generated: the baseline without augmentation)

The experiment trains the classifier on the labelled pool (24 edge-ons among ~1460
galaxies, 10 simulated volunteers of accuracy 0.85 each), with and without generated
edge-ons, and scores edge-on completeness and purity on the 800 held-out galaxies
against their truth.  A galaxy is called edge-on when p(featured) x p(edge-on | featured) > 0.5.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from aggregation.schema import galaxy_zoo_tree
from benchmarks.diffusion.data import ROOT, TRAIN_SIZE, files, is_rare, split
from ml.classifier import ClassifierConfig, predict, train_classifier
from ml.synth import simulate_votes

JUDGE = ROOT / "judge"
RESULTS = ROOT / "results"
VOTERS, ACCURACY, STEPS = 10, 0.85, 300


def _train(table, out: Path, *, seed: int, steps: int, generated: Path | None = None, ratio: float = 0.0) -> dict:
    tree = galaxy_zoo_tree()
    counts = simulate_votes(table, tree, n_volunteers=VOTERS, accuracy=ACCURACY, seed=0)
    cfg = ClassifierConfig(image_size=TRAIN_SIZE, steps=steps, min_steps=steps, n_ensemble=1, seed=seed,
                           out_dir=str(out),
                           generated_dir=str(generated) if generated else None, generated_ratio=ratio)
    start = time.process_time()
    result = train_classifier(cfg, images=files(table), vote_counts=counts, tree=tree, val_fraction=0.0,
                              progress=False)
    return {**result, "checkpoint": str(result["checkpoint"]), "cpu_seconds": time.process_time() - start}


def edge_on_probability(checkpoint: Path, images: list[Path]) -> np.ndarray:
    """``(N,)`` p(featured) x p(edge-on | featured) from a classifier checkpoint."""
    preds = predict(checkpoint, images=images, views=4)
    return preds["T0"]["probs"][:, 1] * preds["T2"]["probs"][:, 0]


def completeness_purity(truth: np.ndarray, called: np.ndarray) -> dict:
    tp = int((truth & called).sum())
    return {"completeness": tp / max(int(truth.sum()), 1), "purity": tp / max(int(called.sum()), 1),
            "n_true": int(truth.sum()), "n_called": int(called.sum()), "tp": tp}


def experiment(generated: Path | None, ratio: float, seeds: list[int], name: str = "aug") -> list[dict]:
    data = split()
    heldout = data["heldout"]
    truth = is_rare(heldout)
    rows = []
    for seed in seeds:
        tag = f"{name}{ratio:g}" if generated else "none"
        fit = _train(data["pool"], ROOT / "clf" / f"{tag}-s{seed}", seed=seed, steps=STEPS, generated=generated,
                     ratio=ratio)
        p = edge_on_probability(Path(fit["checkpoint"]), files(heldout))
        rows.append({"arm": tag, "seed": seed, "n_generated": fit["n_generated"], "n_train": fit["n_train"],
                     "cpu_seconds": fit["cpu_seconds"], **completeness_purity(truth, p > 0.5)})
        print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"experiment-{rows[0]['arm']}.json").write_text(json.dumps(rows, indent=2))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stage", choices=["judge", "experiment"])
    parser.add_argument("--generated", type=Path)
    parser.add_argument("--ratio", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--name", default="aug", help="arm name (e.g. oversample for the copy-and-noise control)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.stage == "judge":
        fit = _train(split()["full"], JUDGE, seed=0, steps=400)
        print(json.dumps(fit, indent=2))
    else:
        experiment(args.generated, args.ratio, args.seeds, args.name)


if __name__ == "__main__":
    main()
