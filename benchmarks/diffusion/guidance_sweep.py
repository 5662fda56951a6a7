"""A quick look at #18's conditioning: class and full-path accuracy per guidance weight, few images per class.

``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.diffusion.guidance_sweep CHECKPOINT --guidance 2,5 [--per-class 16]``
prints one line per weight: per class ``(conditional accuracy, class accuracy)`` and their means.  The full
measurement, with KID and the grid, is ``benchmarks.diffusion.evaluate``.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aggregation.schema import galaxy_zoo_tree
from benchmarks.diffusion.classifiers import JUDGE
from benchmarks.diffusion.data import conditions, split
from benchmarks.diffusion.evaluate import CLASSES
from ml.classifier import predict
from ml.diffusion.conditions import answer_condition
from ml.diffusion.quality import conditional_accuracy
from ml.diffusion.sample import generate, load_diffusion


def _judge(images: torch.Tensor) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / f"{i}.png" for i in range(len(images))]
        for path, img in zip(paths, images):
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(path)
        return {q: v["probs"] for q, v in predict(JUDGE / "best.pt", images=paths).items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--guidance", default="2,5")
    parser.add_argument("--per-class", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tree, pool, n = galaxy_zoo_tree(), split()["pool"], args.per_class
    net, cfg, _, step = load_diffusion(args.checkpoint)
    for w in (float(v) for v in args.guidance.split(",")):
        rng, row = np.random.default_rng(0), {}
        for k, (label, (name, test)) in enumerate(CLASSES.items()):
            members = pool[test(pool).to_numpy()]
            conds = conditions(members)[rng.choice(len(members), n, replace=True)]
            probs = _judge(generate(net, cfg, conds, seed=100 + k, guidance_scale=w))
            row[label] = (round(float(conditional_accuracy(probs, conds, tree).mean()), 2),
                          round(float(conditional_accuracy(probs, np.tile(answer_condition(name, tree), (n, 1)),
                                                           tree).mean()), 2))
        print(f"step {step} w {w}: {row} mean {np.mean(list(row.values()), axis=0).round(2).tolist()}", flush=True)


if __name__ == "__main__":
    main()
