"""Similarity search speed and memory: 1,000 to 1,000,000 embeddings.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.represent.bench_speed

Random unit vectors of the platform's embedding width (128 for one small_cnn member, 256 for the
default two-member ensemble). For each size: CPU time (``time.process_time``, so the other
processes on a shared machine count less) of one k=20 query, median of 50, for the NumPy
brute-force path and the faiss ``IndexFlatIP`` path, both exact, and (from 100,000) the
approximate ``IndexIVFFlat`` path with its recall@20 against the exact answer (random vectors
have no clusters, the inverted file's worst case); the memory; and the time to build the index. One thread (``OMP_NUM_THREADS=1``), as a web worker would have.
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.represent.common import write_result
from ml.represent.index import EmbeddingIndex

SIZES = (1_000, 10_000, 20_000, 100_000, 1_000_000)


def cpu_ms(fn, repeats: int = 50) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return round(1000 * float(np.median(times)), 3)


def one_size(n: int, d: int, rng: np.random.Generator) -> dict:
    vectors = rng.standard_normal((n, d), dtype=np.float32)
    ids = np.arange(n, dtype=np.int64)
    queries = rng.standard_normal((50, d), dtype=np.float32)
    out = {"n": n, "d": d, "vectors_mb": round(n * d * 4 / 2**20, 1)}
    exact = None
    kinds = [("numpy", n + 1, n + 1), ("faiss", 0, n + 1)] + ([("ivf", 0, 0)] if n >= 100_000 else [])
    for name, brute_below, approx_from in kinds:
        start = time.process_time()
        index = EmbeddingIndex(vectors, ids, brute_force_below=brute_below, approximate_from=approx_from)
        out[f"{name}_build_s"] = round(time.process_time() - start, 3)
        it = iter(queries)
        out[f"{name}_query_ms"] = cpu_ms(lambda: index.search(next(it), k=20))
        out[f"{name}_index_mb"] = round(index.nbytes / 2**20, 1)
        found = [set(index.search(q, k=20)[0].tolist()) for q in queries[:20]]
        if exact is None:
            exact = found
        out[f"{name}_recall_at_20"] = round(float(np.mean([len(a & b) / 20 for a, b in zip(found, exact)])), 3)
        del index
    return out


def main() -> None:
    rng = np.random.default_rng(0)
    rows = [one_size(n, d, rng) for d in (128, 256) for n in SIZES]
    write_result("speed", {"rows": rows})


if __name__ == "__main__":
    main()
