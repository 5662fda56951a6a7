"""Box consensus on the Lean Crowdsourcing pedestrian data, scored against the expert.

Usage: nice -n 10 .venv/bin/python -m benchmarks.aggregation.boxes [--data DIR] [--risk 0.3 0.5 ...]
Prints precision / recall / F1 at IoU >= 0.5 on the images the expert boxed, and
the average number of workers per image used by the online stopping rule.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from aggregation.boxes import LeanBoxAggregator, MajorityBoxAggregator, iou_matrix

DEFAULT_DATA = Path("/work/shared/data/lean-crowdsourcing-pedestrian-boxes")
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


def online(model: LeanBoxAggregator, boxes, seen, images, threshold: float, min_workers: int):
    """Add workers one at a time in the order they came; stop when the image risk drops below threshold."""
    by_task = dict(tuple(boxes.groupby("task")))
    rows, used = [], []
    for task in images:
        viewers = seen.loc[seen["task"] == task, "worker"].tolist()
        image_boxes = by_task.get(task, boxes.iloc[:0])
        for n in range(1, len(viewers) + 1):
            part = image_boxes[image_boxes["worker"].isin(viewers[:n])]
            consensus, risk = model.consensus_for_image(part, viewers[:n])
            if n >= min_workers and risk < threshold:
                break
        used.append(n)
        rows.append(consensus.assign(task=task))
    return pd.concat(rows, ignore_index=True), float(np.mean(used))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--risk", type=float, nargs="+", default=[0.2, 0.3, 0.5])
    parser.add_argument("--min-workers", type=int, default=1)
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
    for k in (3, 5, 7):
        b, s = first_k(boxes, seen, k)
        start = time.perf_counter()
        report(f"lean EM, first {k}", LeanBoxAggregator().fit(b, s).consensus_, k, time.perf_counter() - start)
    model = LeanBoxAggregator().fit(boxes, seen)
    for threshold in args.risk:
        start = time.perf_counter()
        consensus, workers = online(model, boxes, seen, images, threshold, args.min_workers)
        report(f"lean online, risk < {threshold}", consensus, workers, time.perf_counter() - start)


if __name__ == "__main__":
    main()
