"""Clump detector on real SDSS Stripe 82 galaxies (GZH S82 clumpy sample; EVALUATION ONLY, never trained on).

Usage (from the repository root)::

    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_detector_gzh --checkpoint MODEL/best.pt --crops 128 160 212

The 424-px Galaxy Zoo: Hubble JPEGs span ~8.5 Petrosian R90 radii; our 64-px
synthetic images span ~2.5-4.  Each image is therefore centre-cropped to
``crop`` px before the detector (which resizes it to its own 64 px), and only
the catalogue clumps inside the crop count.  Truth: the 543 clumps of Mehta et
al. 2021 (ApJ 912, 49) found by their contrast-based algorithm, as squares of
side 2 x PSF FWHM; a detection matches when its centre lies within
max(PSF FWHM, half the box side) of a clump's centre.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from benchmarks.ml.common import DATA, RESULTS, write_result
from ml.detector import completeness_purity, detect

GZH = DATA / "gzh_s82_clumpy_galaxies"


def crops(size: int) -> tuple[list[Path], pd.DataFrame, dict]:
    """Cached centre crops, the clumps inside them (crop pixels) and each crop's PSF FWHM."""
    galaxies = pd.read_csv(GZH / "galaxies.csv")
    clumps = pd.read_csv(GZH / "clumps.csv")
    folder = RESULTS / "data" / f"gzh_crop{size}"
    folder.mkdir(parents=True, exist_ok=True)
    files, rows, fwhm = [], [], {}
    for task, gal in enumerate(galaxies.itertuples()):
        target = folder / Path(gal.image).with_suffix(".png").name
        with Image.open(GZH / gal.image) as im:
            offset = (im.size[0] - size) / 2
            if not target.is_file():
                im.convert("RGB").crop((offset, offset, offset + size, offset + size)).save(target)
        files.append(target)
        mine = clumps[clumps.objid == gal.objid]
        fwhm[task] = float(mine.psf_fwhm_px.median()) if len(mine) else 5.0
        for c in mine.itertuples():
            x, y, half = c.x_px + 0.5 - offset, c.y_px + 0.5 - offset, c.psf_fwhm_px  # pixel centre -> edge coords
            if 0 <= x < size and 0 <= y < size:
                rows.append((task, x - half, y - half, x + half, y + half))
    return files, pd.DataFrame(rows, columns=["task", "x_min", "y_min", "x_max", "y_max"]), fwhm


def random_baseline(found: pd.DataFrame, size: int, fwhm: dict, seed: int = 0) -> pd.DataFrame:
    """As many detections per image as ``found``, at uniformly random places (PSF-sized boxes)."""
    rng = np.random.default_rng(seed)
    rows = []
    for task, n in found.groupby("task").size().items():
        for x, y in rng.uniform(0, size, size=(n, 2)):
            rows.append((task, x - fwhm[task], y - fwhm[task], x + fwhm[task], y + fwhm[task], 0.0))
    return pd.DataFrame(rows, columns=["task", "x_min", "y_min", "x_max", "y_max", "score"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--crops", type=int, nargs="+", default=[128, 160, 212])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.3, 0.5])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--name", default="detector_gzh")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for size in args.crops:
        files, truth, fwhm = crops(size)
        found = detect(args.checkpoint, images=files, score_threshold=min(args.thresholds))
        results[str(size)] = {"n_galaxies": len(files), "n_clumps_in_crop": len(truth),
                              **{f"{t:.1f}": completeness_purity(found[found.score >= t], truth, fwhm)
                                 for t in args.thresholds}}
        # Chance level: the same number of detections per image as at score >= 0.3, placed at random.
        chance = random_baseline(found[found.score >= 0.3], size, fwhm)
        results[str(size)]["random_at_0.3"] = completeness_purity(chance, truth, fwhm)
    write_result(args.name, {"args": {**vars(args), "checkpoint": str(args.checkpoint)}, "results": results})


if __name__ == "__main__":
    main()
