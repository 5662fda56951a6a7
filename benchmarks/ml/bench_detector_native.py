"""The clump detector at native resolution: train on synthetic + injected galaxies, test once on real S82 clumps.

Usage (from the repository root; data are rendered once into ``benchmarks/ml/results/data``)::

    nice -n 10 .venv/bin/python -m ml --threads 1 synth --n 3000 --out benchmarks/ml/results/data/synth256_3000 --seed 100
    nice -n 10 .venv/bin/python -m ml --threads 1 inject --images FOLDER_OF_GZ1_AND_DEMO_CUTOUTS \\
        --out benchmarks/ml/results/data/inject_gz1demo --seed 0
    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_detector_native --steps 1200 [--resume]
    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_detector_native --evaluate-only
    # run 3: injected inside the disc, with decoy stars, ImageNet backbone (docs/BENCHMARKS.md, #12)
    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_detector_native --make-data
    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_detector_native --sources injected_disc \\
        --encoder efficientnet_lite0 --steps 3000 --checkpoint-every 500 --name detector_native_r3 ...

Training data: the 256-px SDSS-like synthetic survey (:mod:`ml.synth`) and real
GZ1 + demo SDSS cutouts with injected clumps (:mod:`ml.inject`), 10 % of them held
out; injected clumps too faint to change the 8-bit image are not counted as truth.  The score threshold is the one of highest F1 on that held-out 10 %, fixed
before the S82 images are read.  Then the detector runs once on the 92 raw
424-px GZH Stripe 82 JPEGs (Mehta et al. 2021; EVALUATION ONLY, never trained on)
and is scored against their 543 clumps: a detection matches a clump whose
centre lies within max(PSF FWHM, half the box side) in that JPEG's pixels.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from benchmarks.ml.bench_detector_gzh import random_baseline
from benchmarks.ml.common import DATA, RESULTS, ROOT, write_result
from ml.checkpoint import load_checkpoint
from ml.data import split_indices
from ml.detector import DetectorConfig, completeness_purity, detect, train_detector
from ml.detector.anchors import anchor_sizes_from, box_sides, clump_scout_sides
from ml.detector.metrics import threshold_curve

GZH = DATA / "gzh_s82_clumpy_galaxies"
SOURCES = {"synthetic": RESULTS / "data" / "synth256_3000", "injected": RESULTS / "data" / "inject_gz1demo",
           "injected_disc": RESULTS / "data" / "inject_gz1demo_disc"}
DEFAULT_SOURCES = ("synthetic", "injected")  # runs 1 and 2; run 3 trains on injected_disc alone
HOSTS = (DATA / "gz1_sdss_subset" / "images", ROOT / "zooapp" / "demo" / "sdss")  # real hosts for injection
DISC_RECIPE = {"seed": 3, "inner": True, "stars": 2.0}  # run 3's injected set (pre-registered in BENCHMARKS #12)
SDSS_FWHM_PX = 1.4 / 0.396  # one SDSS PSF FWHM at the survey's native scale


VISIBLE_GREY_LEVELS = 45  # an injected clump must change some pixel by this much (8-bit levels summed over RGB, ~15 each)


def training_set(sources: tuple[str, ...] = DEFAULT_SOURCES) -> tuple[list[Path], pd.DataFrame, list[str]]:
    """Images, their true clump boxes (``task`` = index) and each image's source name, for the named sources."""
    images, rows, source = [], [], []
    for name in sources:
        folder = SOURCES[name]
        manifest = pd.read_csv(folder / "manifest.csv", dtype={"id": str}, keep_default_na=False)
        for k, (file, clumps) in enumerate(zip(manifest["file"], manifest["clumps"])):
            boxes = json.loads(clumps or "[]")
            if name.startswith("injected") and boxes:
                boxes = visible(folder / file, Path(manifest["source"][k]), boxes)
            rows += [(len(images), *box) for box in boxes]
            images.append(folder / file)
            source.append(name)
    return images, pd.DataFrame(rows, columns=["task", "x_min", "y_min", "x_max", "y_max"]), source


def visible(injected: Path, original: Path, boxes: list) -> list:
    """The injected boxes whose clump shows in the 8-bit image (faint halos can swallow one whole).

    A clump added to a galaxy's faint outskirts may change no pixel by more than
    the JPEG noise; such a box would teach the detector to fire on empty sky.
    """
    with Image.open(injected) as a, Image.open(original) as b:
        diff = np.abs(np.asarray(a.convert("RGB"), int) - np.asarray(b.convert("RGB"), int)).sum(axis=2)
    kept = []
    for box in boxes:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        if diff[max(y0, 0):y1, max(x0, 0):x1].max(initial=0) >= VISIBLE_GREY_LEVELS:
            kept.append(box)
    return kept


def s82_truth() -> tuple[list[Path], pd.DataFrame, dict]:
    """The raw S82 JPEGs, their clumps as 2 x FWHM squares in file pixels, and each image's PSF FWHM."""
    galaxies, clumps = pd.read_csv(GZH / "galaxies.csv"), pd.read_csv(GZH / "clumps.csv")
    files, rows, fwhm = [], [], {}
    for task, gal in enumerate(galaxies.itertuples()):
        files.append(GZH / gal.image)
        mine = clumps[clumps.objid == gal.objid]
        fwhm[task] = float(mine.psf_fwhm_px.median()) if len(mine) else SDSS_FWHM_PX
        for c in mine.itertuples():  # catalogue x_px, y_px are pixel centres; boxes use pixel edges
            x, y, half = c.x_px + 0.5, c.y_px + 0.5, c.psf_fwhm_px
            rows.append((task, x - half, y - half, x + half, y + half))
    return files, pd.DataFrame(rows, columns=["task", "x_min", "y_min", "x_max", "y_max"]), fwhm


def make_disc_data() -> Path:
    """Render run 3's training set: the GZ1 + demo hosts with clumps inside the disc too, and decoy stars."""
    from ml.inject import inject_survey

    hosts = sorted(p for folder in HOSTS for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    inject_survey(hosts, SOURCES["injected_disc"], **DISC_RECIPE)
    return SOURCES["injected_disc"]


def train(args) -> Path:
    images, boxes, _ = training_set(tuple(args.sources))
    sides = np.concatenate([box_sides(boxes), clump_scout_sides(DATA / "clump_scout_consensus_boxes" /
                                                                "boxes.csv.gz")])
    cfg = DetectorConfig(backbone="scratch", encoder=args.encoder, native=True, image_size=args.tile, scale_range=tuple(args.scale_range),
                         anchor_sizes=anchor_sizes_from(sides, scale_range=tuple(args.scale_range)),
                         steps=args.steps, batch_size=args.batch_size, lr=args.lr, val_fraction=args.val_fraction,
                         checkpoint_every=args.checkpoint_every, seed=args.seed, out_dir=str(args.out),
                         resume=args.resume)
    print(f"{len(images)} training images, {len(boxes)} clumps, anchors {cfg.anchor_sizes}")
    return train_detector(cfg, images=images, boxes=boxes)["checkpoint"]


def validation_scores(checkpoint: Path, cfg: dict, sources: tuple[str, ...]) -> dict:
    """Per source, the threshold curve on the held-out images the training run picked its threshold on."""
    images, boxes, source = training_set(sources)
    _, val = split_indices(len(images), cfg["val_fraction"], cfg["seed"])
    found = detect(checkpoint, images=[images[i] for i in val], score_threshold=0.05, progress=True)
    out = {}
    for name in sources:
        local = [k for k, i in enumerate(val) if source[i] == name]
        index = {int(val[k]): k for k in local}
        truth = boxes[boxes.task.isin(index)].assign(task=lambda t: t.task.map(index))
        # Boxes are 2 x FWHM squares: half a side is the FWHM in that image's pixels.
        out[name] = {"n_images": len(local), "n_clumps": len(truth),
                     "curve": threshold_curve(found[found.task.isin(local)], truth, 0.0).to_dict("records")}
    return out


def evaluate(checkpoint: Path, name: str, sources: tuple[str, ...] = DEFAULT_SOURCES) -> dict:
    saved = load_checkpoint(checkpoint, kind="detector")
    threshold = float(saved["extra"]["metrics"]["val_threshold"])  # picked on validation, before S82 is read
    val = validation_scores(checkpoint, saved["config"], sources)
    files, truth, fwhm = s82_truth()
    found = detect(checkpoint, images=files, score_threshold=0.05, progress=True)
    curve = threshold_curve(found, truth, fwhm)
    at = curve.iloc[(curve.threshold - threshold).abs().argmin()].to_dict()
    _write_detections(found[found.score >= threshold], files, RESULTS / f"{name}_s82_detections.csv")
    at["chance"] = chance(found[found.score >= threshold], truth, fwhm)
    return {"checkpoint": str(checkpoint), "threshold": threshold, "step": saved["step"],
            "config": saved["config"], "validation": val, "s82_at_threshold": at,
            "s82": {"n_images": len(files), "n_clumps": len(truth), "curve": curve.to_dict("records")}}


def chance(found: pd.DataFrame, truth: pd.DataFrame, fwhm: dict) -> dict:
    """The same number of detections per image placed uniformly at random on the 424-px frame."""
    return completeness_purity(random_baseline(found, 424, fwhm), truth, fwhm)


def _write_detections(found: pd.DataFrame, files: list[Path], path: Path) -> None:
    table = found.assign(image=[files[i].name for i in found.task]).drop(columns="task")
    table[["image", "x_min", "y_min", "x_max", "y_max", "score"]].to_csv(path, index=False)


def plot(result: dict, path: Path) -> None:
    """Completeness and purity against the score threshold: S82 and the validation sources."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5.2))
    styles = {"s82": ("S82 real clumps (evaluation)", "k"), "synthetic": ("synthetic validation", "tab:blue"),
              "injected": ("injected validation (completeness only)", "tab:orange"),
              "injected_disc": ("injected-in-disc validation (completeness only)", "tab:orange")}
    curves = {"s82": result["s82"]["curve"], **{k: v["curve"] for k, v in result["validation"].items()}}
    for key, rows in curves.items():
        c = pd.DataFrame(rows)
        label, colour = styles[key]
        ax.plot(c.threshold, c.completeness, "-", color=colour, label=f"{label}: completeness")
        if not key.startswith("injected"):  # the real host galaxies' own clumps are unlabelled: purity is not measurable
            ax.plot(c.threshold, c.purity, "--", color=colour, label=f"{label}: purity")
    ax.axvline(result["threshold"], color="grey", lw=0.8)
    ax.axhline(0.8, color="grey", lw=0.5, ls=":")
    ax.set(xlabel="score threshold", ylabel="completeness / purity", ylim=(0, 1.02),
           title=f"Clump detector at native resolution (threshold {result['threshold']:.2f} picked on validation)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--scale-range", type=float, nargs=2, default=(0.7, 1.4))
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "models" / "detector_native")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure from results/NAME.json")
    parser.add_argument("--name", default="detector_native")
    parser.add_argument("--sources", nargs="+", default=list(DEFAULT_SOURCES), choices=list(SOURCES))
    parser.add_argument("--encoder", default="small_cnn", help="a key of ml.registry.MODELS, e.g. efficientnet_lite0")
    parser.add_argument("--make-data", action="store_true", help="render run 3's injected_disc set, then stop")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "detector_native_s82.png")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.make_data:
        print(f"wrote {make_disc_data()}")
        return
    if args.plot_only:
        plot(json.loads((RESULTS / f"{args.name}.json").read_text()), args.figure)
        return
    checkpoint = args.out / "best.pt" if args.evaluate_only else train(args)
    result = evaluate(checkpoint, args.name, tuple(args.sources))
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    plot(result, args.figure)
    write_result(args.name, {"args": {k: str(v) for k, v in vars(args).items()}, **result})


if __name__ == "__main__":
    main()
