"""The augmentation experiment's control: copies of the 24 real edge-ons plus noise, in place of generated ones.

``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.diffusion.oversample`` writes
``var/diffusion/gen/oversample`` (72 images, sigma 0.05, the same manifest format as ``python -m ml generate``);
``classifiers experiment --generated var/diffusion/gen/oversample --ratio 3 --name oversample`` then trains on it.
It separates what the generated images add from what any extra edge-on-labelled images add.
"""
from __future__ import annotations

import torch

from aggregation.schema import galaxy_zoo_tree
from benchmarks.diffusion.data import ROOT, TRAIN_SIZE, conditions, files, is_rare, split
from ml.data import load_images
from ml.diffusion.quality import copy_and_noise
from ml.diffusion.sample import save_generated


def main(n: int = 72) -> None:
    pool = split()["pool"]
    rare = pool[is_rare(pool)]
    x, _ = load_images(files(rare), TRAIN_SIZE)
    images = copy_and_noise(x, n, sigma=0.05, seed=0)
    conds = conditions(rare)[torch.randint(0, len(rare), (n,), generator=torch.Generator().manual_seed(0)).numpy()]
    save_generated(images, conds, ROOT / "gen" / "oversample", names=["T2.yes"] * n, tree=galaxy_zoo_tree(),
                   meta={"baseline": "copy_and_noise", "sigma": 0.05})
    print(f"wrote {n} noisy copies of {len(rare)} real edge-ons")


if __name__ == "__main__":
    main()
