"""Cosine nearest neighbours over unit embedding vectors.

faiss (Johnson, Douze & Jegou 2021, IEEE Trans. Big Data 7, 535) does the search: with
``IndexFlatIP`` (exact inner products, which are cosine similarities on unit rows), or, if asked
with ``approximate_from``, with ``IndexIVFFlat``, an inverted file of ``4 sqrt(N)`` k-means cells of
which ``IVF_PROBE`` are searched (Jegou, Douze & Schmid 2011, IEEE TPAMI 33, 117): a million rows
answer in about a millisecond instead of ~50 ms, but only as well as the embeddings cluster. Below ``brute_force_below`` rows one NumPy matrix product is as fast as faiss, so
small catalogues do not load it; NumPy and ``IndexFlatIP`` give the same neighbours.
"""
from __future__ import annotations

import numpy as np

BRUTE_FORCE_BELOW = 20_000  # rows; measured in benchmarks/represent/bench_speed.py (see docs/BENCHMARKS.md #13)
# Off by default: on random 128-d vectors the inverted file finds only 12% of the exact top 20 at a
# million rows (bench_speed); turn it on (a row count) only for embeddings measured to cluster well.
APPROXIMATE_FROM: int | None = None
IVF_PROBE = 32  # clusters searched per query: recall@20 measured in bench_speed


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """``(N, D)`` -> ``(N, D)`` float32 rows of unit length (zero rows stay zero).

    >>> normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


class EmbeddingIndex:
    """Cosine similarity search over ``N`` embeddings with integer ids.

    Parameters
    ----------
    vectors : numpy.ndarray
        ``(N, D)`` embeddings (normalised here).
    ids : numpy.ndarray
        ``(N,)`` distinct integer ids, one per row.
    brute_force_below : int
        Use NumPy instead of faiss when ``N`` is smaller.
    approximate_from : int, optional
        Use the approximate inverted-file index when ``N`` is at least this (default: never).

    Examples
    --------
    >>> index = EmbeddingIndex(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([10, 20, 30]))
    >>> ids, scores = index.search(np.array([1.0, 0.1]), k=2)
    >>> ids.tolist(), [round(float(s), 3) for s in scores]
    ([10, 30], [0.995, 0.774])
    """

    def __init__(self, vectors: np.ndarray, ids: np.ndarray, *, brute_force_below: int = BRUTE_FORCE_BELOW,
                 approximate_from: int | None = APPROXIMATE_FROM):
        vectors = np.asarray(vectors)
        ids = np.asarray(ids, dtype=np.int64)
        if vectors.ndim != 2 or len(vectors) != len(ids):
            raise ValueError(f"need (N, D) vectors and N ids, got {vectors.shape} and {ids.shape}")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids must be distinct")
        self.vectors = normalise_rows(vectors)
        self.ids = ids
        self._faiss = None
        if len(ids) >= brute_force_below:
            approximate = approximate_from is not None and len(ids) >= approximate_from
            self._faiss = _faiss_index(self.vectors, approximate=approximate)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors (faiss keeps its own copy of the same size)."""
        return self.vectors.nbytes * (2 if self._faiss is not None else 1) + self.ids.nbytes

    def search(self, query: np.ndarray, *, k: int, exclude: np.ndarray | None = None,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` ids most similar to ``query``, best first.

        Parameters
        ----------
        query : numpy.ndarray
            ``(D,)`` query vector (normalised here).
        k : int
            Neighbours wanted; fewer come back when fewer rows remain.
        exclude : numpy.ndarray, optional
            Ids never returned (e.g. the query galaxies themselves).
        allowed : numpy.ndarray, optional
            If given, only these ids may be returned (e.g. one workflow's retired galaxies).

        Returns
        -------
        ids, scores : numpy.ndarray
            ``(k',)`` int64 ids and ``(k',)`` cosine similarities in [-1, 1], ``k' <= k``.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        q = normalise_rows(np.asarray(query, dtype=np.float32).reshape(1, -1))
        if q.shape[1] != self.vectors.shape[1]:
            raise ValueError(f"query has {q.shape[1]} dimensions, the index {self.vectors.shape[1]}")
        rows = None if allowed is None else np.flatnonzero(np.isin(self.ids, allowed))
        n_excl = 0 if exclude is None else len(exclude)
        n_rows = len(self.ids) if rows is None else len(rows)
        want = min(n_rows, k + n_excl)  # excluded ids can take at most n_excl of the top places
        if want == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        rows, scores = self._top(q, want, rows)
        keep = ~np.isin(self.ids[rows], exclude) if n_excl else np.ones(len(rows), bool)
        return self.ids[rows][keep][:k], scores[keep][:k]

    def _top(self, q: np.ndarray, want: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Row positions and scores of the ``want`` best rows (of ``rows``, if given) for one ``(1, D)`` query."""
        if self._faiss is not None:
            import faiss

            selector = None if rows is None else faiss.IDSelectorBatch(rows)
            if isinstance(self._faiss, faiss.IndexIVF):
                params = faiss.SearchParametersIVF(sel=selector, nprobe=IVF_PROBE)
            else:
                params = None if selector is None else faiss.SearchParameters(sel=selector)
            scores, found = self._faiss.search(q, want, params=params)
            keep = found[0] >= 0  # an approximate search may find fewer than asked
            return found[0][keep], scores[0][keep]
        sims = self.vectors @ q[0]
        if rows is not None:
            sims = np.where(np.isin(np.arange(len(sims)), rows), sims, -np.inf)
        rows = np.argpartition(-sims, want - 1)[:want] if want < len(sims) else np.arange(len(sims))
        # Ties broken by row so that both paths give the same order.
        rows = rows[np.lexsort((rows, -sims[rows]))]
        return rows, sims[rows]


def _faiss_index(vectors: np.ndarray, *, approximate: bool):
    """A faiss inner-product index holding ``vectors`` ``(N, D)``: exact, or an inverted file."""
    import faiss  # a compiled library: loaded only where an index is large enough to need it

    d = vectors.shape[1]
    if not approximate:
        index = faiss.IndexFlatIP(d)
    else:
        n_cells = int(4 * np.sqrt(len(vectors)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, n_cells, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(len(vectors), size=min(len(vectors), 64 * n_cells), replace=False)
        index.train(vectors[np.sort(sample)])
    index.add(vectors)
    return index
