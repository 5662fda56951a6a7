"""Data contracts and the shared base class of the vote aggregators.

Every estimator in ``aggregation`` takes long-format DataFrames with fixed
column names (house style G2) and checks them first with the validators
below, so that bad input fails with one clear ``ValueError`` before any state
is touched.

* votes: columns ``task, worker, label``
* gold: columns ``task, label``
* boxes: columns ``task, worker, x_min, y_min, x_max, y_max``
* seen: columns ``task, worker`` (every view of an image, drawing nothing included)
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

VOTE_COLUMNS = ("task", "worker", "label")
GOLD_COLUMNS = ("task", "label")
BOX_COLUMNS = ("task", "worker", "x_min", "y_min", "x_max", "y_max")
CORNERS = list(BOX_COLUMNS[2:])  # a box's corners in image pixels, origin top-left (a list: pandas indexes by it)
SEEN_COLUMNS = ("task", "worker")


def _show(value) -> str:
    """repr() of a cell as the user wrote it (a numpy scalar shows as its Python value)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def dataclass_from_json(cls, data: Any, *, what: str, key_word: str):
    """Build the dataclass ``cls`` from stored JSON, naming the first unknown key and the valid ones.

    One home for the check that `RetirementRules` and `EngineState` both need, so that a typo in a stored
    setting is a ``ValueError`` that says what to write instead, never a silent default.

    >>> from aggregation.retirement import RetirementRules
    >>> dataclass_from_json(RetirementRules, {"typo": 1}, what="retirement rules", key_word="retirement rule")
    Traceback (most recent call last):
    ...
    ValueError: unknown retirement rule 'typo'; valid keys: ...
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be a JSON object")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {key_word} {unknown[0]!r}; valid keys: {', '.join(sorted(known))}")
    return cls(**data)


def _require_frame(df, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {', '.join(missing)}; "
                         f"expected columns {', '.join(columns)}")
    out = df.loc[:, list(columns)]
    empty = out.isna().any().to_numpy()  # one pass over the table, not one per column
    if empty.any():
        raise ValueError(f"{what} has empty values in column {columns[int(np.argmax(empty))]!r}")
    return out


def validate_votes(df) -> pd.DataFrame:
    """Check a vote table and return its ``task, worker, label`` columns.

    Raises
    ------
    ValueError
        Naming the missing column, the empty cell or the empty table.
    """
    out = _require_frame(df, VOTE_COLUMNS, "votes")
    if out.empty:
        raise ValueError("votes is empty: there is nothing to aggregate")
    blank = out["label"].map(lambda v: isinstance(v, str) and not v.strip())
    if blank.any():
        raise ValueError(f"votes row {_show(out.index[blank.to_numpy()][0])} has a blank label")
    return out


def validate_gold(df, votes: pd.DataFrame) -> pd.DataFrame:
    """Check gold labels against validated votes; every gold task must have votes."""
    out = _require_frame(df, GOLD_COLUMNS, "gold")
    if out["task"].duplicated().any():
        dup = out.loc[out["task"].duplicated(), "task"].iloc[0]
        raise ValueError(f"gold gives task {_show(dup)} more than one label")
    unvoted = ~out["task"].isin(votes["task"])
    if unvoted.any():
        raise ValueError(f"gold task {_show(out.loc[unvoted, 'task'].iloc[0])} has no votes")
    return out


def validate_boxes(df) -> pd.DataFrame:
    """Check a box table: numeric, finite corners with ``x_min <= x_max`` and ``y_min <= y_max``."""
    out = _require_frame(df, BOX_COLUMNS, "boxes")
    coords = list(CORNERS)
    if out.empty:
        # An image nobody drew on is valid; an empty CSV column has no dtype worth checking.
        return out.astype({c: float for c in coords})
    numeric = [pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
               for dtype in out[coords].dtypes]
    # One float array for the checks below: per-column pandas access cost more than the checks themselves.
    values = out[[c for c, ok in zip(coords, numeric) if ok]].to_numpy(dtype=float)
    finite = iter(np.isfinite(values).all(axis=0))
    for column, ok in zip(coords, numeric):
        if not ok:
            raise ValueError(f"boxes column {column!r} must be numeric")
        if not next(finite):
            raise ValueError(f"boxes column {column!r} has a non-finite value")
    for lo, hi in ((0, 2), (1, 3)):
        bad = values[:, hi] < values[:, lo]
        if bad.any():
            raise ValueError(f"boxes row {_show(out.index[bad][0])} has {coords[hi]} < {coords[lo]}")
    return out.astype({c: float for c in coords})


def validate_seen(df, boxes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Check a seen table; every (task, worker) that drew a box must also appear in it."""
    out = _require_frame(df, SEEN_COLUMNS, "seen").drop_duplicates()
    if out.empty:
        raise ValueError("seen is empty: no image was viewed")
    if boxes is not None and len(boxes):
        # A set, not a merge: the check ran on every aggregation batch and cost more than the boxes' scoring.
        views = set(zip(out["task"].tolist(), out["worker"].tolist()))
        for task, worker in zip(boxes["task"].tolist(), boxes["worker"].tolist()):
            if (task, worker) not in views:
                raise ValueError(f"worker {_show(worker)} drew boxes on task {_show(task)} but is not in seen")
    return out


@dataclass(frozen=True)
class EncodedVotes:
    """Votes as integer codes, the form every model computes on.

    ``task``, ``worker``, ``label`` are int arrays of shape (n_votes,);
    ``tasks``, ``workers``, ``classes`` map codes back to the original values;
    ``gold`` is an int array of shape (n_tasks,) with -1 where there is no gold.
    """

    task: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    tasks: pd.Index
    workers: pd.Index
    classes: np.ndarray
    gold: np.ndarray

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def task_worker_label_matrix(self, dtype=np.float64) -> sparse.csr_matrix:
        """Sparse (n_tasks, n_workers * K) count matrix: one entry per vote at column worker * K + label."""
        k = self.n_classes
        data = np.ones(len(self.task), dtype=dtype)
        shape = (len(self.tasks), len(self.workers) * k)
        return sparse.csr_matrix((data, (self.task, self.worker * k + self.label)), shape=shape)


def class_order_key(value) -> tuple:
    """Sort key of a class: numbers (and numeric strings) by value first, then the rest as text.

    Sorting "10" before "2", as plain strings do, would make ties and column order depend on spelling.
    """
    try:
        return (0, float(value), str(value))
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def decide_labels(posterior: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """(n_tasks,) index of the most probable class; ties go to the larger prior, then the first class.

    Probabilities within 1e-9 of the row maximum count as tied: EM's rounding must not pick the winner.
    """
    top = posterior.max(axis=1, keepdims=True)
    tied = posterior >= top - 1e-9
    # Among tied classes the prior decides; argmax takes the first of equal priors (class order).
    return np.argmax(np.where(tied, np.asarray(prior, dtype=float)[None, :] + 1.0, 0.0), axis=1)


def encode_votes(votes: pd.DataFrame, gold: pd.DataFrame | None = None,
                 classes: Sequence | None = None) -> EncodedVotes:
    """Validate and integer-encode votes (and gold) in one step."""
    votes = validate_votes(votes)
    gold = None if gold is None else validate_gold(gold, votes)
    # Factorise once and map the few distinct labels: get_indexer on millions of rows is slow.
    label_codes, vote_labels = pd.factorize(votes["label"], sort=False)
    seen_labels = pd.unique(pd.concat([pd.Series(vote_labels), gold["label"]]) if gold is not None
                            else pd.Series(vote_labels))
    if classes is None:
        unused = sorted(set(gold["label"]) - set(vote_labels), key=class_order_key) if gold is not None else []
        if unused:
            raise ValueError(f"gold label {_show(unused[0])} is not the answer of any vote")
        classes_arr = np.array(sorted(seen_labels, key=class_order_key), dtype=object)
    else:
        classes_arr = np.array(list(classes), dtype=object)
        unknown = set(seen_labels) - set(classes_arr)
        if unknown:
            raise ValueError(f"label {sorted(map(str, unknown))[0]!r} is not one of the classes {list(classes_arr)}")
    if len(classes_arr) < 2:
        raise ValueError("votes need at least two classes to aggregate")
    class_index = pd.Index(classes_arr)
    task_codes, tasks = pd.factorize(votes["task"], sort=False)
    worker_codes, workers = pd.factorize(votes["worker"], sort=False)
    gold_codes = np.full(len(tasks), -1, dtype=np.int64)
    if gold is not None:
        gold_codes[tasks.get_indexer(gold["task"])] = class_index.get_indexer(gold["label"])
    return EncodedVotes(task=task_codes.astype(np.int64), worker=worker_codes.astype(np.int64),
                        label=class_index.get_indexer(vote_labels)[label_codes].astype(np.int64),
                        tasks=pd.Index(tasks, name="task"), workers=pd.Index(workers, name="worker"),
                        classes=classes_arr, gold=gold_codes)


class VoteAggregator:
    """Base class of the vote aggregators (scikit-learn conventions, house style G7).

    Subclasses implement ``_fit_encoded(enc) -> (n_tasks, K) posterior``; this
    class validates the input and fills the common learned attributes.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
        The answers, in the column order of ``probas_``.
    probas_ : DataFrame
        Index ``task``, one column per class; rows sum to one.
    labels_ : Series
        Index ``task``: the most probable class.
    """

    classes: Sequence | None = None

    def fit(self, votes: pd.DataFrame, gold: pd.DataFrame | None = None):
        """Fit on votes ``(task, worker, label)`` and optional gold ``(task, label)``; returns self."""
        enc = encode_votes(votes, gold, self.classes)
        posterior = self._fit_encoded(enc)
        self.classes_ = enc.classes
        self.probas_ = pd.DataFrame(posterior, index=enc.tasks, columns=pd.Index(enc.classes, name="label"))
        prior = getattr(self, "class_prior_", None)
        if prior is None:
            prior = np.bincount(enc.label, minlength=enc.n_classes)
        self.labels_ = pd.Series(enc.classes[decide_labels(posterior, prior)], index=enc.tasks, name="label")
        return self

    def fit_predict(self, votes: pd.DataFrame, gold: pd.DataFrame | None = None) -> pd.Series:
        return self.fit(votes, gold).labels_

    def fit_predict_proba(self, votes: pd.DataFrame, gold: pd.DataFrame | None = None) -> pd.DataFrame:
        return self.fit(votes, gold).probas_

    def _fit_encoded(self, enc: EncodedVotes) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


def log_normalize_rows(log_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (n, K) log weights normalised to log probabilities, and each row's log total (n, 1).

    Shifting by the row maximum before exp() keeps the sum in floating-point range; for the
    small K of a question this is much faster than scipy's general logsumexp.
    """
    top = log_values.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    log_total = top + np.log(np.exp(log_values - top).sum(axis=1, keepdims=True))
    return log_values - log_total, log_total


def clamp_gold(log_post: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Return a copy of (n_tasks, K) log posteriors with gold tasks set to their known class."""
    out = log_post.copy()
    has_gold = gold >= 0
    # -inf, not a large negative number: exp() gives exact zeros, so gold tasks are one-hot.
    out[has_gold] = -np.inf
    out[has_gold, gold[has_gold]] = 0.0
    return out
