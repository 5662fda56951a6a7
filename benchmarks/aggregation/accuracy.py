"""Accuracy on the truth-inference benchmarks: our aggregators beside crowd-kit's.

Usage: nice -n 10 .venv/bin/python -m benchmarks.aggregation.accuracy [--data DIR] [--methods ...]
Prints a markdown table (accuracy on gold items, labels de-duplicated keeping the first).
"""
from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import pandas as pd

from aggregation.registry import get_aggregator

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "truth-inference-benchmarks"
OURS = ("majority", "online", "ds", "hierarchical")
# The PyMC model runs with a reduced ADVI budget, and only where it finishes in minutes; without gold
# the online engine learns only from its own posteriors (SWAP's unsupervised mode).
PARAMS = {"hierarchical": {"n_iter": 5000, "draws": 200}, "online": {"unsupervised_weight": 1.0}}
PEERS = ("ck_mv", "ck_ds", "ck_glad")


def load(folder: Path) -> tuple[pd.DataFrame, pd.Series]:
    votes = pd.read_csv(folder / "label.csv").rename(columns={"item": "task"})
    votes = votes.drop_duplicates(["task", "worker"], keep="first")
    truth = pd.read_csv(folder / "truth.csv").set_index("item")["truth"]
    return votes, truth


def peer(name: str):
    from crowdkit.aggregation import GLAD, DawidSkene, MajorityVote
    return {"ck_mv": lambda: MajorityVote(), "ck_ds": lambda: DawidSkene(n_iter=100),
            "ck_glad": lambda: GLAD(n_iter=100)}[name]()


def score(method: str, votes: pd.DataFrame, truth: pd.Series, max_votes: int) -> tuple[float, float]:
    if method == "hierarchical" and len(votes) > max_votes:
        return float("nan"), 0.0
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method in PEERS:
            labels = peer(method).fit_predict(votes)
        else:
            labels = get_aggregator(method, **PARAMS.get(method, {})).fit(votes).labels_
    elapsed = time.perf_counter() - start
    common = truth.index.intersection(labels.index)
    return float((labels.loc[common].to_numpy() == truth.loc[common].to_numpy()).mean()), elapsed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--methods", nargs="+", default=[*OURS, *PEERS])
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--hierarchical-max-votes", type=int, default=30000)
    args = parser.parse_args(argv)
    names = args.datasets or sorted(p.name for p in args.data.iterdir() if p.is_dir())
    print("| dataset | " + " | ".join(args.methods) + " |")
    print("|---" * (len(args.methods) + 1) + "|")
    for name in names:
        votes, truth = load(args.data / name)
        cells = [score(m, votes, truth, args.hierarchical_max_votes) for m in args.methods]
        best = max(acc for acc, _ in cells if not math.isnan(acc))
        row = ["-" if math.isnan(acc) else f"**{acc:.3f}**" if acc == best else f"{acc:.3f}" for acc, _ in cells]
        print(f"| {name} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
