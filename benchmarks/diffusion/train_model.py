"""Stage 1 of #18: train the small diffusion model on the labelled pool (edge-ons held to 24).

``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.diffusion.train_model [--steps N] [--resume]
[--train-set full]`` writes ``var/diffusion/model/checkpoint.pt`` (``model_full/`` for the full set) and its
``train.json`` (CPU seconds, images/s).
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from aggregation.schema import galaxy_zoo_tree
from benchmarks.diffusion.data import ROOT, TRAIN_SIZE, conditions, files, split
from ml.diffusion.config import preset
from ml.diffusion.train import train_diffusion

MODEL = ROOT / "model"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--train-set", choices=("pool", "full"), default="pool",
                        help="pool: edge-ons held to 24 (the augmentation experiment); full: every edge-on of the "
                             "labelled 1,600 (conditional accuracy with no class starved)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pool = split()[args.train_set]
    out = MODEL if args.train_set == "pool" else ROOT / "model_full"
    cfg = preset("small", steps=args.steps, image_size=TRAIN_SIZE, checkpoint_every=200, out_dir=str(out),
                 resume=args.resume)
    wall = time.perf_counter()
    result = train_diffusion(cfg, images=files(pool), conditions=conditions(pool), tree=galaxy_zoo_tree())
    steps_here = result["steps"]
    report = {"n_train": result["n_train"], "steps": steps_here, "cpu_seconds": result["cpu_seconds"],
              "wall_seconds": time.perf_counter() - wall, "batch_size": cfg.batch_size,
              "images_per_cpu_s": steps_here * cfg.batch_size / max(result["cpu_seconds"], 1e-9),
              "final_loss": result["metrics"].get("train_loss"), "resumed": args.resume}
    (out / "train.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
