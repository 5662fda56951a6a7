"""Box consensus on the Lean Crowdsourcing pedestrian data, scored against the expert.

Usage: nice -n 10 .venv/bin/python -m benchmarks.aggregation.boxes [--data DIR] [--risk 0.3 0.5 ...]
Prints precision / recall / F1 at IoU >= 0.5 on the images the expert boxed, and
the average number of workers per image used by the online stopping rule.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from aggregation.boxes import LeanBoxAggregator, MajorityBoxAggregator, iou_matrix
from aggregation.boxes.candidates import build_candidates
from aggregation.boxes.model import score_candidates

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "lean-crowdsourcing-pedestrian-boxes"
CORNERS = ["x_min", "y_min", "x_max", "y_max"]


def load(folder: Path):
    rename = {"image_id": "task", "worker_id": "worker", "x1": "x_min", "y1": "y_min", "x2": "x_max", "y2": "y_max"}
    boxes = pd.read_csv(folder / "worker_boxes.csv").rename(columns=rename)
    seen = pd.read_csv(folder / "worker_annotations.csv").rename(columns=rename)
    expert = pd.read_csv(folder / "expert_boxes.csv").rename(columns=rename)
    expert_images = pd.read_csv(folder / "expert_annotations.csv")["image_id"].unique()
    return boxes[["task", "worker", *CORNERS]], seen[["task", "worker"]], expert, expert_images


def match_counts(pred: np.ndarray, truth: np.ndarray, min_iou: float = 0.5) -> int:
    """True positives of a one-to-one greedy matching by descending IoU."""
    if len(pred) == 0 or len(truth) == 0:
        return 0
    iou = iou_matrix(pred, truth)
    tp = 0
    while iou.size and iou.max() >= min_iou:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        tp += 1
        iou[i, :] = -1
        iou[:, j] = -1
    return tp


def prf(consensus: pd.DataFrame, expert: pd.DataFrame, images) -> dict:
    pred = {t: g[CORNERS].to_numpy() for t, g in consensus.groupby("task")}
    true = {t: g[CORNERS].to_numpy() for t, g in expert.groupby("task")}
    tp = sum(match_counts(pred.get(t, np.zeros((0, 4))), true.get(t, np.zeros((0, 4)))) for t in images)
    n_pred = sum(len(pred.get(t, ())) for t in images)
    n_true = sum(len(true.get(t, ())) for t in images)
    p, r = tp / max(n_pred, 1), tp / max(n_true, 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12)}


def first_k(boxes: pd.DataFrame, seen: pd.DataFrame, k: int):
    order = seen.groupby("task").cumcount()
    kept = seen[order < k]
    return boxes.merge(kept, on=["task", "worker"]), kept


def online(model: LeanBoxAggregator, boxes, seen, images, thresholds, min_workers: int):
    """Add workers one at a time in the order they came; stop when the image risk drops below threshold.

    Scoring every prefix of viewers for all images at once gives the same answers as calling
    ``model.consensus_for_image`` after each new worker, much faster.
    """
    prefixes = []
    for n in range(1, 8):
        b, s = first_k(boxes, seen, n)
        cands = build_candidates(b, s, min_iou=model.min_iou)
        scored, risk = score_candidates(cands, model.worker_params_, mu=model.objects_per_image_,
                                        p_threshold=model.p_threshold, match_iou=model.match_iou)
        prefixes.append((scored[scored["accepted"]], risk.reindex(images)))
    results = {}
    for threshold in thresholds:
        risks = np.column_stack([r.to_numpy() for _, r in prefixes])
        done = (risks < threshold) & (np.arange(1, 8) >= min_workers)
        # Stop at the first prefix under the threshold, or at 7 workers if none is.
        stop = np.where(done.any(axis=1), done.argmax(axis=1), 6)
        picked = [prefixes[k][0][prefixes[k][0]["task"] == task] for task, k in zip(images, stop)]
        results[threshold] = (pd.concat(picked, ignore_index=True), float(np.mean(stop + 1)))
    return results


def panoptes(python: str, boxes, seen, k: int, eps: float, min_samples: int,
             metric: str) -> tuple[pd.DataFrame, float]:
    """Run panoptes_rectangles.py in its own environment on the first k workers of every image."""
    b, s = first_k(boxes, seen, k)
    with tempfile.TemporaryDirectory() as tmp:
        b.to_csv(f"{tmp}/boxes.csv", index=False)
        s.to_csv(f"{tmp}/seen.csv", index=False)
        start = time.perf_counter()
        subprocess.run([python, str(Path(__file__).with_name("panoptes_rectangles.py")), f"{tmp}/boxes.csv",
                        f"{tmp}/seen.csv", f"{tmp}/out.csv", str(eps), str(min_samples), metric], check=True)
        return pd.read_csv(f"{tmp}/out.csv"), time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--risk", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3])
    parser.add_argument("--min-workers", type=int, default=1)
    parser.add_argument("--panoptes-python", help="python of a venv with panoptes-aggregation installed")
    args = parser.parse_args(argv)
    boxes, seen, expert, images = load(args.data)
    print("| method | workers/image | precision | recall | F1 | seconds |\n|---|---|---|---|---|---|")

    def report(name, consensus, workers, seconds):
        s = prf(consensus, expert, images)
        print(f"| {name} | {workers:.2f} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {seconds:.1f} |",
              flush=True)

    for k in (1, 3, 5, 7):
        b, s = first_k(boxes, seen, k)
        start = time.perf_counter()
        report(f"majority clustering, first {k}", MajorityBoxAggregator().fit(b, s).consensus_, k,
               time.perf_counter() - start)
    if args.panoptes_python:
        for k, eps, min_samples, metric in ((7, 5.0, 3, "euclidean"), (7, 10.0, 4, "euclidean"),
                                            (7, 0.5, 4, "iou"), (3, 0.5, 2, "iou")):
            consensus, seconds = panoptes(args.panoptes_python, boxes, seen, k, eps, min_samples, metric)
            report(f"panoptes {metric} DBSCAN (eps {eps:g}, min_samples {min_samples}), first {k}", consensus, k,
                   seconds)
    for k in (3, 5, 7):
        b, s = first_k(boxes, seen, k)
        start = time.perf_counter()
        report(f"lean EM, first {k}", LeanBoxAggregator().fit(b, s).consensus_, k, time.perf_counter() - start)
    model = LeanBoxAggregator().fit(boxes, seen)
    for threshold, (consensus, workers) in online(model, boxes, seen, images, args.risk, args.min_workers).items():
        report(f"lean online, risk < {threshold}", consensus, workers, float("nan"))


if __name__ == "__main__":
    main()
