"""Command line: ``python -m ml {synth,train-classifier,train-detector,predict,detect,train-diffusion,generate}``.

Every command shows tqdm progress bars; bad arguments or unreadable inputs print
one ``error: ...`` line and exit with status 2 (no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from aggregation.schema import SchemaError, TaskTree, galaxy_zoo_tree
from ml.classifier.model import ClassifierConfig
from ml.detector.model import DetectorConfig
from ml.diffusion.commands import add_diffusion_commands

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class UsageError(ValueError):
    """A user-facing error: printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        args.run(args)
    except (ValueError, OSError, SchemaError) as exc:  # ImageLoadError, UsageError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    p = sub.add_parser("synth", help="render a synthetic survey with known truth")
    p.add_argument("--n", type=int, required=True, help="number of galaxies")
    p.add_argument("--out", type=Path, required=True, help="output folder (PNGs + manifest.csv)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=256, help="image side in pixels (0.396 arcsec each)")
    p.set_defaults(run=_run_synth)
    p = sub.add_parser("inject", help="inject clumps with known positions into real galaxy images")
    p.add_argument("--images", type=Path, required=True, help="folder of real .png/.jpg cutouts")
    p.add_argument("--out", type=Path, required=True, help="output folder (PNGs + manifest.csv)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_run_inject)
    _add_train_classifier(sub)
    _add_train_detector(sub)
    p = sub.add_parser("predict", help="classifier predictions (fractions, BALD, entropy) to CSV")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--images", type=Path, required=True, help="folder of images (manifest.csv order if present)")
    p.add_argument("--out", type=Path, required=True, help="output CSV")
    p.set_defaults(run=_run_predict)
    p = sub.add_parser("detect", help="clump detections to CSV (image, x_min, y_min, x_max, y_max, score)")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="output CSV")
    p.add_argument("--threshold", type=float, help="minimum score (default: the one picked on the training "
                                                   "run's validation images)")
    p.set_defaults(run=_run_detect)
    add_diffusion_commands(sub)
    return parser


def _add_train_classifier(sub) -> None:
    p = sub.add_parser("train-classifier", help="train the decision-tree classifier on vote counts")
    p.add_argument("--images", type=Path, required=True, help="folder with images and manifest.csv")
    p.add_argument("--out", type=Path, required=True, help="model folder (checkpoint.pt, best.pt)")
    p.add_argument("--tree", type=Path, help="workflow JSON (default: the Galaxy Zoo tree)")
    votes = p.add_mutually_exclusive_group(required=True)
    votes.add_argument("--votes", type=Path, help="CSV with columns task (manifest id), question, label[, count]")
    votes.add_argument("--simulate-votes", type=int, metavar="N", help="N simulated volunteers from truth_* columns")
    p.add_argument("--accuracy", type=float, default=0.8, help="simulated volunteers' accuracy")
    _add_common_training(p, steps=ClassifierConfig.steps, batch_size=64, lr=1e-3)
    p.add_argument("--min-steps", type=int, default=ClassifierConfig.min_steps, help="floor on a fresh run's steps")
    p.add_argument("--finetune-steps", type=int, default=ClassifierConfig.finetune_steps,
                   help="steps when warm-starting from --init-checkpoint")
    p.add_argument("--init-checkpoint", type=Path, help="warm start: fine-tune an earlier classifier")
    p.add_argument("--encoder", default="small_cnn")
    p.add_argument("--n-ensemble", type=int, default=2)
    p.set_defaults(run=_run_train_classifier)


def _add_train_detector(sub) -> None:
    p = sub.add_parser("train-detector", help="train the Faster R-CNN clump detector")
    p.add_argument("--images", type=Path, required=True, help="folder of images (manifest.csv order if present)")
    p.add_argument("--boxes", type=Path, help="CSV: task (manifest id or image index), x_min, y_min, x_max, "
                                               "y_max[, p_real]; default: the manifest's true clumps")
    p.add_argument("--out", type=Path, required=True, help="model folder")
    p.add_argument("--classifier", type=Path, help="classifier checkpoint for a galaxy-trained backbone")
    p.add_argument("--resize", type=int, metavar="PX", help="old fixed-size mode: shrink every image to PX "
                                                             "(default: native resolution, tiles of --tile px)")
    p.add_argument("--tile", type=int, default=192, help="side of the native-resolution training tiles")
    p.add_argument("--scale-range", type=float, nargs=2, default=(0.7, 1.4), metavar=("LOW", "HIGH"),
                   help="random rescaling of native tiles (tile px per file px)")
    p.add_argument("--anchors-from", type=Path, metavar="BOXES_CSV",
                   help="also set anchors from Clump Scout consensus boxes (columns x1, y1, x2, y2; 400-px frame)")
    p.add_argument("--val-fraction", type=float, default=DetectorConfig.val_fraction,
                   help="held-out images that pick the score threshold")
    _add_common_training(p, steps=DetectorConfig.steps, batch_size=8, lr=1e-3)
    p.set_defaults(run=_run_train_detector)


def _add_common_training(p, *, steps: int, batch_size: int, lr: float) -> None:
    p.add_argument("--steps", type=int, default=steps, help="optimizer steps (a fresh classifier takes at least "
                                                            "its min_steps)")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")


def list_images(folder: Path) -> tuple[list[Path], pd.DataFrame | None]:
    """Images of ``folder`` in manifest order (when ``manifest.csv`` exists) or sorted by name."""
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    manifest_path = folder / "manifest.csv"
    if manifest_path.is_file():
        manifest = pd.read_csv(manifest_path, dtype={"id": str}, keep_default_na=False)
        if "file" not in manifest:
            raise UsageError(f"{manifest_path} has no 'file' column")
        return [folder / f for f in manifest["file"]], manifest
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UsageError(f"no .png/.jpg images in {folder}")
    return files, None


def _run_synth(args) -> None:
    from ml.synth import synth_survey

    manifest = synth_survey(args.n, args.out, seed=args.seed, size=args.size)
    print(f"wrote {len(manifest)} galaxies to {args.out}")


def _run_inject(args) -> None:
    from ml.inject import inject_survey

    images, _ = list_images(args.images)
    manifest = inject_survey(images, args.out, seed=args.seed)
    print(f"wrote {len(manifest)} galaxies with injected clumps to {args.out}")


def _run_train_classifier(args) -> None:
    from ml.classifier import train_classifier

    images, manifest = list_images(args.images)
    if manifest is None:
        raise UsageError(f"{args.images} needs a manifest.csv naming its galaxies")
    tree = TaskTree.from_dict(_read_json(args.tree)) if args.tree else galaxy_zoo_tree()
    counts = _vote_counts(args, manifest, tree)
    cfg = ClassifierConfig(steps=args.steps, min_steps=args.min_steps, finetune_steps=args.finetune_steps,
                           batch_size=args.batch_size,
                           lr=args.lr, seed=args.seed, encoder=args.encoder, n_ensemble=args.n_ensemble,
                           out_dir=str(args.out), resume=args.resume,
                           init_checkpoint=str(args.init_checkpoint) if args.init_checkpoint else None)
    result = train_classifier(cfg, images=images, vote_counts=counts, tree=tree)
    print(json.dumps({**result, "checkpoint": str(result["checkpoint"])}, indent=2))


def _vote_counts(args, manifest: pd.DataFrame, tree: TaskTree) -> dict[str, np.ndarray]:
    if args.simulate_votes is not None:
        from ml.synth import simulate_votes

        if args.simulate_votes <= 0 or not 0 <= args.accuracy <= 1:
            raise UsageError("--simulate-votes must be > 0 and --accuracy in [0, 1]")
        return simulate_votes(manifest, tree, n_volunteers=args.simulate_votes, accuracy=args.accuracy,
                              seed=args.seed)
    votes = _read_csv(args.votes, ["task", "question", "label"])
    index = {str(v): i for i, v in enumerate(manifest["id"])}
    counts = {t.key: np.zeros((len(manifest), len(t.labels))) for t in tree.questions()}
    for row in votes.itertuples(index=False):
        if row.question not in counts or str(row.task) not in index:
            raise UsageError(f"vote for unknown question {row.question!r} or galaxy {row.task!r}")
        labels = tree.tasks[row.question].labels
        if row.label not in labels:
            raise UsageError(f"{row.label!r} is not an answer of {row.question} ({labels})")
        counts[row.question][index[str(row.task)], labels.index(row.label)] += float(getattr(row, "count", 1.0))
    return counts


def _run_train_detector(args) -> None:
    from ml.detector import train_detector

    images, manifest = list_images(args.images)
    boxes = _detector_boxes(args.boxes, manifest, len(images))
    cfg = DetectorConfig(backbone="classifier" if args.classifier else "scratch", steps=args.steps,
                         batch_size=args.batch_size, lr=args.lr, seed=args.seed, out_dir=str(args.out),
                         resume=args.resume, val_fraction=args.val_fraction, **_resolution(args, boxes))
    result = train_detector(cfg, images=images, boxes=boxes, classifier_checkpoint=args.classifier)
    print(json.dumps({**result, "checkpoint": str(result["checkpoint"])}, indent=2))


def _resolution(args, boxes: pd.DataFrame) -> dict:
    """Native tiles (or the old resize) and anchors from the training boxes' sizes (plus Clump Scout's)."""
    from ml.detector.anchors import anchor_sizes_from, box_sides, clump_scout_sides

    if args.resize is not None:
        if args.resize < 16:
            raise UsageError(f"--resize must be at least 16 px, got {args.resize}")
        return {"image_size": args.resize}
    low, high = args.scale_range
    if args.tile < 32 or not 0 < low <= high:
        raise UsageError("--tile must be at least 32 px and --scale-range needs 0 < LOW <= HIGH")
    sides = box_sides(boxes) if len(boxes) else np.zeros(0)
    if args.anchors_from is not None:
        sides = np.concatenate([sides, clump_scout_sides(args.anchors_from)])
    anchors = anchor_sizes_from(sides, scale_range=(low, high)) if len(sides) else DetectorConfig.anchor_sizes
    return {"native": True, "image_size": args.tile, "scale_range": (low, high), "anchor_sizes": anchors}


def _detector_boxes(path: Path | None, manifest: pd.DataFrame | None, n_images: int) -> pd.DataFrame:
    if path is None:
        if manifest is None or "clumps" not in manifest:
            raise UsageError("give --boxes, or a folder whose manifest.csv has a 'clumps' column")
        rows = [(i, *box) for i, c in enumerate(manifest["clumps"]) for box in json.loads(c or "[]")]
        return pd.DataFrame(rows, columns=["task", "x_min", "y_min", "x_max", "y_max"])
    boxes = _read_csv(path, ["task", "x_min", "y_min", "x_max", "y_max"])
    if manifest is not None and not pd.api.types.is_integer_dtype(boxes["task"]):
        index = {str(v): i for i, v in enumerate(manifest["id"])}
        unknown = set(boxes["task"].astype(str)) - set(index)
        if unknown:
            raise UsageError(f"boxes name galaxies not in the manifest, e.g. {min(unknown)!r}")
        boxes["task"] = boxes["task"].astype(str).map(index)
    if not pd.api.types.is_integer_dtype(boxes["task"]):
        raise UsageError("boxes.task must be image indices (or manifest ids when the folder has a manifest)")
    return boxes


def _run_predict(args) -> None:
    from ml.classifier import predict

    images, _ = list_images(args.images)
    preds = predict(args.checkpoint, images=images, progress=True)
    table = pd.DataFrame({"file": [p.name for p in images]})
    tree = _tree_of(args.checkpoint)
    for key, out in preds.items():
        for j, label in enumerate(tree.tasks[key].labels):
            table[f"{key}_{label}"] = out["probs"][:, j]
        table[f"{key}_bald"], table[f"{key}_entropy"] = out["bald"], out["entropy"]
    _write_csv(table, args.out)


def _tree_of(checkpoint: Path) -> TaskTree:
    from ml.checkpoint import load_checkpoint

    return TaskTree.from_dict(load_checkpoint(checkpoint, kind="classifier")["tree"])


def _run_detect(args) -> None:
    from ml.detector import detect

    images, _ = list_images(args.images)
    found = detect(args.checkpoint, images=images, score_threshold=args.threshold, progress=True)
    # Issue #4's detections contract: one row per clump, named by the image file.
    found.insert(0, "image", [images[i].name for i in found["task"]])
    _write_csv(found.drop(columns="task"), args.out)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read JSON {path}: {exc}") from exc


def _read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UsageError(f"cannot read CSV {path}: {exc}") from exc
    missing = [c for c in required if c not in table]
    if missing:
        raise UsageError(f"{path} lacks column(s) {missing}")
    return table


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    print(f"wrote {len(table)} rows to {path}")
