"""Clump detector: completeness and purity on held-out synthetic galaxies, galaxy backbone vs scratch.

Usage (from the repository root)::

    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_detector --sizes 500 1000 --steps 450 --threads 1 \
        --classifier benchmarks/ml/results/models/clf_synth_2000/best.pt

Uses the classifier checkpoint given by ``--classifier`` as the galaxy-pretrained
backbone (or trains one on synthetic votes when it is omitted), then
for each training size a detector from that backbone and one from scratch, on
the true clump boxes of featured galaxies; evaluates on 600 held-out galaxies
(seed 200) with the centre-distance rule of :func:`ml.detector.completeness_purity`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch

from benchmarks.ml.common import RESULTS, demo_tree, survey, write_result
from ml.classifier import ClassifierConfig, train_classifier
from ml.detector import DetectorConfig, completeness_purity, detect, train_detector
from ml.synth import simulate_votes

COLS = ["task", "x_min", "y_min", "x_max", "y_max"]


def truth_boxes(manifest: pd.DataFrame) -> pd.DataFrame:
    rows = [(i, *b) for i, c in enumerate(manifest["clumps"]) for b in json.loads(c)]
    return pd.DataFrame(rows, columns=COLS)


def backbone(pool_dir: Path, pool: pd.DataFrame, n: int, steps: int) -> Path:
    """A classifier trained on the first ``n`` pool galaxies with 10 simulated volunteers each."""
    out = RESULTS / "models" / f"classifier_backbone_{n}_{steps}steps"
    if (out / "best.pt").is_file():
        return out / "best.pt"
    part = pool.head(n)
    votes = simulate_votes(part, demo_tree(), n_volunteers=10, accuracy=0.8)
    cfg = ClassifierConfig(steps=steps, n_ensemble=1, out_dir=str(out))
    return train_classifier(cfg, images=[pool_dir / f for f in part["file"]], vote_counts=votes,
                            tree=demo_tree(), progress=True)["checkpoint"]


def evaluate(ckpt: Path, test_dir: Path, test: pd.DataFrame, thresholds=(0.3, 0.5, 0.7)) -> dict:
    found = detect(ckpt, images=[test_dir / f for f in test["file"]], score_threshold=min(thresholds))
    truth = truth_boxes(test)
    # Synthetic PSF FWHM is 1.6-2.6 px at 64 px; the matching radius is max(FWHM, half box side).
    return {f"{t:.1f}": completeness_purity(found[found.score >= t], truth, psf_fwhm=2.1) for t in thresholds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--steps", type=int, default=450, help="detector optimizer steps")
    parser.add_argument("--backbone-n", type=int, default=3000, help="classifier training galaxies")
    parser.add_argument("--backbone-steps", type=int, default=225)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="detector initialisation, split and augmentation seed")
    parser.add_argument("--backbones", nargs="+", default=["classifier", "scratch"])
    parser.add_argument("--classifier", type=Path, help="use this classifier checkpoint as the backbone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pool_dir, pool = survey("pool", 6000, seed=100)
    test_dir, test = survey("test", 1000, seed=200)
    test = test.head(600)
    clf = args.classifier
    if clf is None and "classifier" in args.backbones:
        clf = backbone(pool_dir, pool, args.backbone_n, args.backbone_steps)
    runs = []
    for n in args.sizes:
        # Train only on featured face-on galaxies: the others have no clumps and teach little.
        part = pool[(pool.truth_T2 == "no")].head(n).reset_index(drop=True)
        for kind in args.backbones:
            suffix = f"_seed{args.seed}" if args.seed else ""
            out = RESULTS / "models" / f"detector_{kind}_{n}_{args.steps}steps{suffix}"
            cfg = DetectorConfig(backbone=kind, steps=args.steps, out_dir=str(out), val_fraction=0.1, seed=args.seed)
            res = train_detector(cfg, images=[pool_dir / f for f in part["file"]], boxes=truth_boxes(part),
                                 classifier_checkpoint=clf, progress=True)
            runs.append({"n_train": res["n_train"], "backbone": kind, "steps": args.steps,
                         "train_metrics": res["metrics"], "test": evaluate(res["checkpoint"], test_dir, test)})
            print(runs[-1])
    name = f"detector_{'_'.join(map(str, args.sizes))}" + (f"_seed{args.seed}" if args.seed else "")
    write_result(name, {"args": {**vars(args), "classifier": str(clf)}, "runs": runs})


if __name__ == "__main__":
    main()
