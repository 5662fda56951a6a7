"""Anomalies: GZ1 mergers and "don't know" are the interesting ones; at most 200 labels.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.represent.bench_anomaly

On the held-out pool (see `common`), a simulated researcher judges 10 galaxies per round, those
the ranker asks for (`GPRanker.acquire`, as the anomaly page shows them), answering from the GZ1
class, for 20 rounds (200 labels). After each round the researcher's list is what the platform
exports: judged-interesting first, then the unjudged by expected interest, judged-boring last.
Reported: the share of interesting galaxies in that list's top 100 and, stricter, among the top
25 and 50 unjudged ones. Peers on the same embeddings and budget: a random order, the isolation
forest alone, and the isolation forest with the same 200 judgements spent on its own top 200.
"""
from __future__ import annotations

import numpy as np
import torch

from benchmarks.represent.common import embeddings, gz1_table, write_result
from ml.represent.anomaly import GPRanker, IsolationForestRanker

ROUNDS, PER_ROUND = 20, 10


def export_order(scores: np.ndarray, labelled: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Row order of the exported list: judged interesting, unjudged by score, judged boring."""
    key = scores.astype(float).copy()
    key[labelled[labels == 1]] = 2.0
    key[labelled[labels == 0]] = -1.0
    return np.argsort(-key, kind="stable")


def share(rows: np.ndarray, interesting: np.ndarray) -> float:
    return round(float(interesting[rows].mean()), 3)


def active_loop(x: np.ndarray, interesting: np.ndarray) -> dict:
    """The GP loop: curve of top-100 share and found-so-far per round, and the final stricter shares."""
    labelled, curve = np.empty(0, np.int64), []
    ranker = GPRanker().fit(x)
    for _ in range(ROUNDS):
        labelled = np.concatenate([labelled, ranker.acquire(PER_ROUND, exclude=labelled)])
        ranker = GPRanker().fit(x, labelled, interesting[labelled].astype(float))
        order = export_order(ranker.mean_, labelled, interesting[labelled])
        curve.append({"labels": len(labelled), "top100": share(order[:100], interesting),
                      "found": int(interesting[labelled].sum())})
    unjudged = np.argsort(-ranker.mean_, kind="stable")
    unjudged = unjudged[~np.isin(unjudged, labelled)]
    return {"curve": curve, "top100": curve[-1]["top100"], "unjudged_top25": share(unjudged[:25], interesting),
            "unjudged_top50": share(unjudged[:50], interesting), "n_unjudged_interesting":
            int(interesting.sum() - curve[-1]["found"])}


def peers(x: np.ndarray, interesting: np.ndarray) -> dict:
    forest = IsolationForestRanker().fit(x).mean_
    order = np.argsort(-forest, kind="stable")
    budget = order[:ROUNDS * PER_ROUND]
    with_labels = export_order(forest, budget, interesting[budget])
    rng = np.random.default_rng(0)
    random_top = [share(rng.permutation(len(x))[:100], interesting) for _ in range(200)]
    return {"random_top100_mean": round(float(np.mean(random_top)), 3), "isolation_forest_top100":
            share(order[:100], interesting), "isolation_forest_200_labels_top100": share(with_labels[:100], interesting)}


def main() -> None:
    torch.set_num_threads(1)
    table = gz1_table()
    held = table[table.split != "encoder_train"].reset_index(drop=True)  # nothing the gz1 encoder trained on
    interesting = held["cls"].isin(["merger", "dont_know"]).to_numpy()
    out = {"n_pool": len(held), "n_interesting": int(interesting.sum())}
    for name in ("gz1", "synthetic", "pixels"):
        x = embeddings(name, held["file"])
        out[name] = {"active_gp": active_loop(x, interesting), **peers(x, interesting)}
    write_result("anomaly", out)


if __name__ == "__main__":
    main()
