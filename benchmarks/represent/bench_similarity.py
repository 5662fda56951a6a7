"""Similarity: mean precision@10 of same-class neighbours from one held-out GZ1 query galaxy.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.represent.bench_similarity

Every held-out galaxy (see `common`: half of each non-merger class, all mergers) is a query; its
10 nearest other held-out galaxies are found with `ml.represent.EmbeddingIndex`, and precision@10
is the share of them in the query's class (the two spiral windings are one class). Representations
compared on the same galaxies: EfficientNet-Lite0 from ImageNet fine-tuned on GZ1's six classes
(``gz1_classes_effnet``) and frozen (``imagenet``), small_cnn trained on GZ1's classes
(``gz1_classes``) or on the Galaxy Zoo tree without mergers (``gz1``), synthetic-only, untrained,
and raw pixels.
"""
from __future__ import annotations

import numpy as np
import torch

from benchmarks.represent.common import embeddings, gz1_table, write_result
from ml.represent.index import EmbeddingIndex

CLASSES = ("elliptical", "spiral", "edge_on", "merger", "dont_know")
REPRESENTATIONS = ("gz1_classes_effnet", "imagenet", "gz1_classes", "gz1", "synthetic", "untrained", "pixels")


def precision_at_k(vectors: np.ndarray, classes: np.ndarray, k: int = 10) -> dict[str, float]:
    """Mean precision@k per class over every row as a query (the query itself excluded)."""
    ids = np.arange(len(vectors))
    index = EmbeddingIndex(vectors, ids)
    hits = np.array([np.mean(classes[index.search(vectors[i], k=k, exclude=np.array([i]))[0]] == classes[i])
                     for i in ids])
    return {c: round(float(hits[classes == c].mean()), 3) for c in CLASSES}


def main() -> None:
    torch.set_num_threads(1)
    table = gz1_table()
    held = table[table.split == "heldout"].reset_index(drop=True)
    classes = held["cls"].to_numpy()
    out = {"n_heldout": len(held), "class_counts": held["cls"].value_counts().to_dict()}
    for name in REPRESENTATIONS:
        out[name] = precision_at_k(embeddings(name, held["file"]), classes)
    write_result("similarity", out)


if __name__ == "__main__":
    main()
