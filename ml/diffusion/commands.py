"""``python -m ml train-diffusion`` and ``python -m ml generate`` (registered by :mod:`ml.cli`).

Errors are ValueErrors, which :func:`ml.cli.main` prints as one ``error: ...`` line (exit status 2).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from aggregation.schema import TaskTree, galaxy_zoo_tree
from ml.diffusion.config import PRESETS

EVALUATION_ONLY = ("gzh_s82",)  # data sets that are for evaluation only: never trained on


def add_diffusion_commands(sub) -> None:
    """Add both subcommands to an ``argparse`` subparsers object."""
    p = sub.add_parser("train-diffusion", help="train the conditional diffusion model on confident subjects")
    p.add_argument("--images", type=Path, required=True,
                   help="a synthetic survey (manifest.csv with truth_* columns) or a GZ1 folder (labels.csv)")
    p.add_argument("--out", type=Path, required=True, help="model folder (checkpoint.pt)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="small", help="small: 64 px on a CPU; large: GPU")
    p.add_argument("--tree", type=Path, help="workflow JSON (default: the Galaxy Zoo tree)")
    p.add_argument("--steps", type=int, help="optimizer steps (default: the preset's)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--image-size", type=int, help="image side in pixels (default: the preset's)")
    p.add_argument("--limit", type=int, help="train on the first N confident subjects only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.set_defaults(run=run_train_diffusion)
    p = sub.add_parser("generate", help="generate galaxies for a condition (PNGs marked as generated)")
    p.add_argument("--checkpoint", type=Path, required=True, help="a train-diffusion checkpoint.pt")
    p.add_argument("--condition", required=True,
                   help="an answer name (e.g. featured, T2.yes) or a JSON list of fractions over the tree")
    p.add_argument("--n", type=int, required=True, help="number of images")
    p.add_argument("--out", type=Path, required=True, help="output folder (PNGs + manifest.csv)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the model's)")
    p.add_argument("--sample-steps", type=int, help="DDIM steps (default: the model's)")
    p.set_defaults(run=run_generate)


def confident_subjects(folder: Path, tree: TaskTree) -> tuple[list[Path], np.ndarray]:
    """Images and ``(N, A)`` conditions of a folder whose answers are known.

    A synthetic survey's ``manifest.csv`` gives its truth; a GZ1 folder's ``labels.csv``
    gives expert-checked classes (mergers, which the Galaxy Zoo tree cannot express,
    are left out).  Evaluation-only sets are refused.
    """
    from ml.diffusion.conditions import gz1_conditions, truth_conditions

    if any(name in str(folder.resolve()) for name in EVALUATION_ONLY):
        raise ValueError(f"{folder} is an evaluation-only set (S82); the diffusion model never trains on it")
    if (folder / "labels.csv").is_file():
        labels = pd.read_csv(folder / "labels.csv")
        if "gz1_class_name" not in labels or "image" not in labels:
            raise ValueError(f"{folder / 'labels.csv'} lacks the gz1_class_name and image columns")
        conditions, keep = gz1_conditions(labels, tree)
        return [folder / f for f in labels.loc[keep, "image"]], conditions
    if not (folder / "manifest.csv").is_file():
        raise ValueError(f"{folder} has neither a manifest.csv (synthetic survey) nor a labels.csv (GZ1)")
    manifest = pd.read_csv(folder / "manifest.csv", dtype=str, keep_default_na=False)
    if not any(c.startswith("truth_") for c in manifest):
        raise ValueError(f"{folder / 'manifest.csv'} has no truth_* columns: its answers are not known")
    return [folder / f for f in manifest["file"]], truth_conditions(manifest, tree)


def run_train_diffusion(args) -> None:
    from ml.diffusion.config import preset
    from ml.diffusion.train import train_diffusion

    tree = _tree(args.tree)
    if not args.images.is_dir():
        raise ValueError(f"{args.images} is not a folder")
    images, conditions = confident_subjects(args.images, tree)
    if args.limit is not None:
        if args.limit <= 0:
            raise ValueError("--limit must be > 0")
        images, conditions = images[:args.limit], conditions[:args.limit]
    cfg = preset(args.preset, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                 image_size=args.image_size, out_dir=str(args.out), resume=args.resume)
    cfg.check()
    if args.resume and not (args.out / "checkpoint.pt").is_file():
        raise ValueError(f"--resume: no checkpoint at {args.out / 'checkpoint.pt'}; drop --resume to start afresh")
    result = train_diffusion(cfg, images=images, conditions=conditions, tree=tree)
    print(json.dumps({**result, "checkpoint": str(result["checkpoint"])}, indent=2))


def run_generate(args) -> None:
    from ml.diffusion.conditions import parse_condition
    from ml.diffusion.sample import generate, load_diffusion, save_generated

    if args.n <= 0:
        raise ValueError("--n must be > 0")
    net, cfg, tree, step = load_diffusion(args.checkpoint)
    vec = parse_condition(args.condition, tree)
    name = args.condition if not args.condition.strip().startswith("[") else "custom"
    conditions = np.repeat(vec[None], args.n, axis=0)
    images = generate(net, cfg, conditions, seed=args.seed, guidance_scale=args.guidance, steps=args.sample_steps,
                      progress=True)
    meta = {"model": str(args.checkpoint), "step": step, "seed": args.seed,
            "guidance": cfg.guidance_scale if args.guidance is None else args.guidance}
    save_generated(images, conditions, args.out, names=[name] * args.n, meta=meta, tree=tree)
    print(f"wrote {args.n} generated galaxies ({name}) to {args.out}")


def _tree(path: Path | None) -> TaskTree:
    if path is None:
        return galaxy_zoo_tree()
    try:
        return TaskTree.from_dict(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read JSON {path}: {exc}") from exc
