"""Stage 2 of #18: generate, then measure KID / Fréchet distance, conditional accuracy, and draw the grid.

``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.diffusion.evaluate [--per-class 40] [--kid-set 160]``
needs ``var/diffusion/model/checkpoint.pt`` (train_model) and ``var/diffusion/judge/best.pt`` (classifiers judge).
Writes ``var/diffusion/gen/<class>/`` (PNGs marked generated), ``var/diffusion/results/quality.json`` and
``docs/figures/diffusion_grid.png``; with ``--model var/diffusion/model_full`` the same names end in ``_model_full``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from aggregation.schema import galaxy_zoo_tree
from benchmarks.diffusion.classifiers import JUDGE, RESULTS
from benchmarks.diffusion.data import ROOT, conditions, files, split
from benchmarks.diffusion.train_model import MODEL
from ml.classifier import predict
from ml.data import load_images
from ml.diffusion.conditions import answer_condition
from ml.diffusion.quality import (conditional_accuracy, copy_and_noise, encoder_features, frechet_distance,
                                  kernel_inception_distance)
from ml.diffusion.sample import generate, load_diffusion, save_generated

# A class: (folder name, condition name written in the manifest, truth test on the manifest)
CLASSES = {"smooth": ("T0.smooth", lambda m: m["truth_T0"] == "smooth"),
           "face-on disc": ("T2.no", lambda m: m["truth_T2"] == "no"),
           "edge-on disc": ("T2.yes", lambda m: m["truth_T2"] == "yes"),
           "artifact": ("T0.artifact", lambda m: m["truth_T0"] == "artifact")}


def _sample(net, cfg, conds: np.ndarray, seed: int) -> tuple[torch.Tensor, float]:
    start = time.process_time()
    images = generate(net, cfg, conds, seed=seed, progress=True)
    return images, time.process_time() - start


def class_sets(net, cfg, step: int, per_class: int, rare_extra: int, *, model: Path, gen: Path) -> dict:
    """Generate each class, with conditions drawn from the labelled pool's galaxies of that class."""
    data, tree, out = split(), galaxy_zoo_tree(), {}
    pool, heldout = data["pool"], data["heldout"]
    rng = np.random.default_rng(0)
    for k, (label, (name, test)) in enumerate(CLASSES.items()):
        members = pool[test(pool).to_numpy()]
        n = per_class + (rare_extra if name == "T2.yes" else 0)
        conds = conditions(members)[rng.choice(len(members), n, replace=True)]
        images, cpu = _sample(net, cfg, conds, seed=100 + k)
        folder = gen / label.replace(" ", "_")
        shutil.rmtree(folder, ignore_errors=True)  # no stale images from an earlier run
        save_generated(images, conds, folder, names=[name] * n, tree=tree,
                       meta={"model": str(model / "checkpoint.pt"), "step": step, "seed": 100 + k,
                             "guidance": cfg.guidance_scale})
        probs = {q: v["probs"] for q, v in predict(JUDGE / "best.pt", images=sorted(folder.glob("gen-*.png"))).items()}
        hits = conditional_accuracy(probs, conds, tree)
        # The class alone: only the answers on the path to the class's own answer (smooth: T0; edge-on: T0
        # and T2), not the finer answers (bulge, arms) that the drawn condition also fixes.
        in_class = conditional_accuracy(probs, np.tile(answer_condition(name, tree), (n, 1)), tree)
        out[label] = {"n": n, "conditional_accuracy": float(hits.mean()), "class_accuracy": float(in_class.mean()),
                      "real_heldout": _judged_real(heldout[test(heldout).to_numpy()].head(n), name, tree),
                      "cpu_seconds": cpu,
                      "images": images, "real": load_images(files(members.head(6)), cfg.image_size)[0]}
    return out


def _judged_real(members, name: str, tree) -> dict:
    """The judge on real held-out galaxies of the class with their own conditions: the ceiling of both scores."""
    probs = {q: v["probs"] for q, v in predict(JUDGE / "best.pt", images=files(members)).items()}
    conds = conditions(members)
    return {"n": len(members), "conditional_accuracy": float(conditional_accuracy(probs, conds, tree).mean()),
            "class_accuracy": float(conditional_accuracy(
                probs, np.tile(answer_condition(name, tree), (len(members), 1)), tree).mean())}


def distances(net, cfg, n: int) -> dict:
    """KID and Fréchet distance to the held-out set: generated, copy-and-noise, and real (the floor)."""
    data = split()
    heldout = data["heldout"]
    rng = np.random.default_rng(1)
    conds = conditions(heldout)[rng.choice(len(heldout), n, replace=False)]
    generated, cpu = _sample(net, cfg, conds, seed=7)
    pool_x, _ = load_images(files(data["pool"]), cfg.image_size)
    held_x, _ = load_images(files(heldout), cfg.image_size)
    real = pool_x[torch.from_numpy(rng.choice(len(pool_x), n, replace=False))]
    sets = {"generated": generated, "copy_and_noise_0.05": copy_and_noise(pool_x, n, sigma=0.05),
            "copy_and_noise_0.10": copy_and_noise(pool_x, n, sigma=0.10, seed=1), "real_pool": real}
    ref = encoder_features(JUDGE / "best.pt", held_x)
    out = {"n": n, "n_heldout": len(held_x), "sampling_cpu_seconds": cpu, "sampling_images_per_cpu_s": n / cpu}
    for name, x in sets.items():
        feats = encoder_features(JUDGE / "best.pt", x)
        kid, sd = kernel_inception_distance(feats, ref)
        out[name] = {"kid": kid, "kid_sd": sd, "fd": frechet_distance(feats, ref)}
    return out


def grid(sets: dict, step: int, figure: Path, trained_on: str) -> None:
    """Six real next to six generated galaxies per class."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(sets), 13, figsize=(13, 1.15 * len(sets) + 0.6),
                             gridspec_kw={"width_ratios": [1] * 6 + [0.25] + [1] * 6})
    for row, (label, s) in enumerate(sets.items()):
        for j in range(13):
            ax = axes[row, j]
            ax.axis("off")
            if j == 6:
                continue
            source, k = (s["real"], j) if j < 6 else (s["images"], j - 7)
            if k < len(source):
                ax.imshow(source[k].permute(1, 2, 0).numpy())
        axes[row, 0].set_title(f"{label}: real", fontsize=8, loc="left")
        axes[row, 7].set_title(f"generated (cond. acc. {s['conditional_accuracy']:.0%})", fontsize=8, loc="left")
    fig.suptitle(f"Synthetic survey at 32 px: real (left) and generated (right; small preset, step {step:,}, "
                 f"trained on {trained_on}) galaxies",
                 fontsize=9)
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--rare-extra", type=int, default=32, help="more edge-ons, for the augmentation pool")
    parser.add_argument("--kid-set", type=int, default=160)
    parser.add_argument("--model", type=Path, default=MODEL,
                        help="model folder (var/diffusion/model_full: trained with every edge-on)")
    parser.add_argument("--guidance", type=float, help="classifier-free guidance weight (default: the model's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    net, cfg, _, step = load_diffusion(args.model / "checkpoint.pt")
    # The pool model's outputs keep their names (the augmentation experiment reads var/diffusion/gen/).
    suffix = "" if args.model == MODEL else f"_{args.model.name}"
    if args.guidance is not None:
        cfg.guidance_scale = args.guidance
    if not net.data_mean.any():  # a checkpoint from before the trainer stored it: the same mean, computed here
        pool_x, _ = load_images(files(split()["pool"]), cfg.image_size)
        net.data_mean.copy_(pool_x.float().div(255).mean(0) * 2 - 1)
    report_start = {"sample_start": cfg.sample_start}
    sets = class_sets(net, cfg, step, args.per_class, args.rare_extra, model=args.model, gen=ROOT / f"gen{suffix}")
    grid(sets, step, Path(f"docs/figures/diffusion_grid{suffix}.png"),
         "the pool, 24 edge-ons" if not suffix else "every labelled galaxy")
    report = {**report_start, "step": step, "guidance": cfg.guidance_scale, "sample_steps": cfg.sample_steps,
              "classes": {k: {kk: v for kk, v in s.items() if kk not in ("images", "real")} for k, s in sets.items()},
              "distances": distances(net, cfg, args.kid_set)}
    n_all = sum(s["n"] for s in sets.values())
    for key in ("conditional_accuracy", "class_accuracy"):
        report[f"{key}_all"] = sum(s[key] * s["n"] for s in sets.values()) / n_all
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"quality{suffix}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
