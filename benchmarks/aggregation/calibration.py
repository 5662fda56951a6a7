"""Calibration on simulated crowds: expected calibration error and credible-interval coverage.

Usage: nice -n 10 .venv/bin/python -m benchmarks.aggregation.calibration [--tasks 2000] [--workers 100]
       [--hierarchical] [--nuts]

Workers get confusion rows drawn from Dirichlet(concentration * (skill on the diagonal)),
so they differ in skill and bias.  ECE: 10 equal-width bins of the top class probability.
Coverage: the share of workers whose true skill (information gain, bits) lies inside the
model's 95% credible interval (the EM models sample it from their Dirichlet posteriors).
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from aggregation.metrics import expected_calibration_error
from aggregation.online import information_gain
from aggregation.registry import get_aggregator


def simulate(n_tasks: int, n_workers: int, votes_per_task: int, n_classes: int, seed: int):
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_classes, size=n_tasks)
    base = np.full((n_classes, n_classes), 1.0)
    np.fill_diagonal(base, 4.0)
    confusion = np.stack([[rng.dirichlet(3.0 * row) for row in base] for _ in range(n_workers)])
    task = np.repeat(np.arange(n_tasks), votes_per_task)
    worker = np.concatenate([rng.choice(n_workers, votes_per_task, replace=False) for _ in range(n_tasks)])
    cum = confusion[worker, truth[task]].cumsum(axis=1)
    label = (rng.random(len(task))[:, None] > cum).sum(axis=1)
    votes = pd.DataFrame({"task": task, "worker": worker, "label": label})
    return votes, pd.Series(truth), confusion


def ece(probas: pd.DataFrame, truth: pd.Series) -> float:
    """The shared ECE on an aggregator's ``probas_`` (columns are the classes) against true labels."""
    codes = probas.columns.get_indexer(truth.loc[probas.index])
    return expected_calibration_error(probas.to_numpy(), codes)


def coverage(model, confusion: np.ndarray) -> float:
    true_skill = pd.Series(information_gain(confusion), index=np.arange(len(confusion)))
    interval = model.worker_skill_interval_
    truth = true_skill.loc[interval.index]
    inside = (interval["lower"] <= truth) & (truth <= interval["upper"])
    return float(inside.mean())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--votes-per-task", type=int, default=5)
    parser.add_argument("--classes", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--hierarchical", action="store_true", help="also run the PyMC model with ADVI")
    parser.add_argument("--nuts", action="store_true", help="also run the hierarchical model with NUTS")
    args = parser.parse_args(argv)
    methods = {"majority": {}, "ds": {"n_draws": 200}, "ebcc": {"n_draws": 200}, "auto": {"n_draws": 200}}
    if args.hierarchical:
        methods["hierarchical"] = {"method": "advi"}
    if args.nuts:
        methods["hierarchical (NUTS)"] = {"method": "nuts", "draws": 500, "tune": 500}
    print("| K | method | accuracy | ECE | 95% skill-interval coverage | seconds |\n|---|---|---|---|---|---|")
    for k in args.classes:
        votes, truth, confusion = simulate(args.tasks, args.workers, args.votes_per_task, k, seed=k)
        for name, params in methods.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = get_aggregator(name.split(" ")[0], **params).fit(votes)
            seconds = time.perf_counter() - start
            acc = float((model.labels_.to_numpy() == truth.loc[model.labels_.index].to_numpy()).mean())
            cover = f"{coverage(model, confusion):.3f}" if hasattr(model, "worker_skill_interval_") else "-"
            print(f"| {k} | {name} | {acc:.4f} | {ece(model.probas_, truth):.4f} "
                  f"| {cover} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
