"""Speed of the Dawid-Skene re-fit against crowd-kit's DawidSkene on synthetic crowds.

Usage: nice -n 10 .venv/bin/python -m benchmarks.aggregation.speed [--sizes 1e5 1e6 1e7] [--peer-max 1e6]
Each size keeps 20 votes per task and 200 votes per worker (10M votes: 500,000 tasks, 50,000 workers).
Both fits start from the same DataFrame and run to their own default convergence (max 100 iterations).
Times are CPU seconds of this process (time.process_time), since the benchmark machine is shared;
both implementations are single-threaded here.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from aggregation.votes.dawid_skene import DawidSkene


def synthetic(n_votes: int, n_classes: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Votes of workers with accuracies in [0.55, 0.95]; errors spread evenly over the other classes."""
    rng = np.random.default_rng(seed)
    n_tasks, n_workers = n_votes // 20, max(n_votes // 200, 1)
    truth = rng.integers(n_classes, size=n_tasks)
    accuracy = rng.uniform(0.55, 0.95, size=n_workers)
    task = np.repeat(np.arange(n_tasks), 20)
    worker = rng.integers(n_workers, size=len(task))
    correct = rng.random(len(task)) < accuracy[worker]
    wrong = (truth[task] + rng.integers(1, n_classes, size=len(task))) % n_classes
    label = np.where(correct, truth[task], wrong)
    return pd.DataFrame({"task": task, "worker": worker, "label": label}), truth


def time_ours(votes: pd.DataFrame) -> tuple[float, float, pd.Series, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    model = DawidSkene(max_iter=100).fit(votes)
    return time.process_time() - cpu, time.perf_counter() - wall, model.labels_, model.n_iter_


def time_crowdkit(votes: pd.DataFrame) -> tuple[float, float, pd.Series]:
    from crowdkit.aggregation import DawidSkene as CKDawidSkene

    cpu, wall = time.process_time(), time.perf_counter()
    labels = CKDawidSkene(n_iter=100, tol=1e-5).fit_predict(votes)
    return time.process_time() - cpu, time.perf_counter() - wall, labels


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6, 1e7])
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--peer-max", type=float, default=1e7, help="largest size crowd-kit is run on")
    args = parser.parse_args(argv)
    print("| votes | tasks | workers | K | ours: CPU s (wall s) | iterations | crowd-kit DS: CPU s (wall s) "
          "| CPU speed-up | accuracy ours / crowd-kit | same labels |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        votes, truth = synthetic(int(size), args.classes)
        ours, ours_wall, labels, n_iter = time_ours(votes)
        acc = (labels.sort_index().to_numpy() == truth).mean()
        peer, speedup, peer_acc, same = "not run", "-", "-", "-"
        if size <= args.peer_max:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seconds, wall, ck_labels = time_crowdkit(votes)
            peer, speedup = f"{seconds:.2f} ({wall:.1f})", f"{seconds / ours:.1f}x"
            peer_acc = f"{(ck_labels.sort_index().to_numpy() == truth).mean():.4f}"
            same = f"{(ck_labels.sort_index().to_numpy() == labels.sort_index().to_numpy()).mean():.4%}"
        print(f"| {len(votes):,} | {votes['task'].nunique():,} | {votes['worker'].nunique():,} | {args.classes} "
              f"| {ours:.2f} ({ours_wall:.1f}) | {n_iter} | {peer} | {speedup} | {acc:.4f} / {peer_acc} | {same} |",
              flush=True)


if __name__ == "__main__":
    main()
