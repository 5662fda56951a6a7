"""Where stored classifications become the engine's tables, and the engine state a workflow keeps.

The platform stores a classification as the volunteer gave it: annotations
``[{"task": key, "value": v}, ...]`` that walk the workflow's task tree
(:mod:`aggregation.schema`).  The engine reads long tables in crowd-kit's words
instead (Ustalov et al. 2021, *A General-Purpose Crowdsourcing Computational
Quality Control Toolkit for Python*): a **task** is the item being labelled (one
subject, i.e. one image) and a **worker** is the agent who labelled it.  The task
tree's own nodes are called **questions** here, so the two meanings of "task"
never meet in one expression.

* votes: ``task, worker, label``, one table per single-answer question;
* boxes: ``task, worker, x_min, y_min, x_max, y_max`` in image pixels;
* seen: ``task, worker``: every view of a drawing question, so that drawing nothing is an answer.

Examples
--------
>>> from aggregation.schema import TaskTree
>>> tree = TaskTree.from_dict({"first_task": "T0", "tasks": {
...     "T0": {"type": "single", "answers": [{"label": "smooth"}, {"label": "featured", "next": "T1"}]},
...     "T1": {"type": "drawing", "tools": [{"label": "clump"}]}}})
>>> frames = annotations_to_frames(tree, [
...     (7, 1, [{"task": "T0", "value": "smooth"}]),
...     (7, 2, [{"task": "T0", "value": "featured"},
...             {"task": "T1", "value": [{"x_min": 1, "y_min": 2, "x_max": 3, "y_max": 4}]}])])
>>> frames.votes["T0"].to_dict("list")
{'task': [7, 7], 'worker': [1, 2], 'label': ['smooth', 'featured']}
>>> frames.boxes.to_dict("records")
[{'task': 7, 'worker': 2, 'x_min': 1.0, 'y_min': 2.0, 'x_max': 3.0, 'y_max': 4.0}]
>>> frames.seen.to_dict("records")
[{'task': 7, 'worker': 2}]
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Hashable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from .base import BOX_COLUMNS, CORNERS, SEEN_COLUMNS, VOTE_COLUMNS, dataclass_from_json
from .schema import TaskTree

__all__ = ["BOX_COLUMNS", "SEEN_COLUMNS", "VOTE_COLUMNS", "AnnotatedView", "EngineState", "Frames", "Records",
           "annotations_to_frames", "annotations_to_records"]



class AnnotatedView(NamedTuple):
    """One agent's annotations of one subject: a row of :func:`annotations_to_frames`."""

    task: Hashable
    worker: Hashable
    annotations: Sequence[Mapping[str, Any]]


@dataclass
class Records:
    """Annotations flattened to tuples: the cheap form, one step before DataFrames.

    ``votes`` and ``choices`` map a question key to ``(task, worker, label)`` rows
    (a multiple-answer question gives one row per ticked answer); ``boxes`` holds
    ``(task, worker, x_min, y_min, x_max, y_max)`` and ``seen`` ``(task, worker)``.
    """

    votes: dict[str, list[tuple]] = field(default_factory=dict)
    choices: dict[str, list[tuple]] = field(default_factory=dict)
    boxes: list[tuple] = field(default_factory=list)
    seen: list[tuple] = field(default_factory=list)

    def frames(self) -> "Frames":
        """The records as the engine's long tables (corners as floats, seen without repeats)."""
        votes = {key: pd.DataFrame(rows, columns=list(VOTE_COLUMNS)) for key, rows in self.votes.items()}
        return Frames(votes=votes, **self.box_frames())

    def box_frames(self) -> dict[str, pd.DataFrame]:
        """Only the ``boxes`` and ``seen`` tables of `frames`: a box consensus needs no vote tables."""
        boxes = pd.DataFrame(self.boxes, columns=list(BOX_COLUMNS)).astype({c: float for c in CORNERS})
        seen = pd.DataFrame(self.seen, columns=list(SEEN_COLUMNS)).drop_duplicates(ignore_index=True)
        return {"boxes": boxes, "seen": seen}


@dataclass(frozen=True)
class Frames:
    """The engine's tables: ``votes`` per single-answer question key, ``boxes`` and ``seen``."""

    votes: dict[str, pd.DataFrame]
    boxes: pd.DataFrame
    seen: pd.DataFrame


def annotations_to_records(tree: TaskTree, rows: Iterable, *, into: Records | None = None) -> Records:
    """Flatten ``(task, worker, annotations)`` rows made with ``tree`` into :class:`Records`.

    Annotations of a question the tree does not have are skipped (a stored row
    outlives edits of other versions).  ``into`` appends to existing records, so
    rows made with several tree versions end in one set of tables.

    Raises
    ------
    ValueError
        When a row is not a (task, worker, annotations) triple or a mark lacks a corner.
    """
    out = Records() if into is None else into
    for row in rows:
        if not isinstance(row, Sequence) or len(row) != 3:
            raise ValueError(f"each row must be (task, worker, annotations), got {row!r}")
        task, worker, annotations = row
        for ann in annotations:
            question = tree.tasks.get(ann["task"])
            if question is None:
                continue
            if question.type == "single":
                out.votes.setdefault(question.key, []).append((task, worker, ann["value"]))
            elif question.type == "multiple":
                out.choices.setdefault(question.key, []).extend((task, worker, v) for v in ann["value"])
            else:
                out.seen.append((task, worker))
                out.boxes.extend((task, worker, *_corners(mark)) for mark in ann["value"])
    return out


def annotations_to_frames(tree: TaskTree, rows: Iterable) -> Frames:
    """The votes, boxes and seen tables of ``(task, worker, annotations)`` rows; see the module example."""
    return annotations_to_records(tree, rows).frames()


def _corners(mark: Mapping[str, Any]) -> tuple[float, ...]:
    missing = [c for c in CORNERS if c not in mark]
    if missing:
        raise ValueError(f"a box mark lacks {', '.join(missing)}: {dict(mark)!r}")
    return tuple(float(mark[c]) for c in CORNERS)


# The platform's live engine lets every non-gold vote also teach its agent, at half a vote's weight
# (SWAP's unsupervised update, Marshall et al. 2016 §2.3): after their first classifications volunteers
# see gold only 10% of the time, and gold alone would leave their skill where the first few gold subjects
# put it. The pure `online.vote_update` and the batch `OnlineSWAP` keep 0.0, the published gold-only rule,
# so that benchmarks compare against the paper; the platform has always run at 0.5, and this is the one
# place that says so (a workflow overrides it in its stored engine state).
PLATFORM_UNSUPERVISED_WEIGHT = 0.5


@dataclass(frozen=True)
class EngineState:
    """The engine settings and refitted priors a workflow stores (``Workflow.engine_state``).

    Parameters
    ----------
    unsupervised_weight : float
        Weight of a non-gold vote in its agent's update, >= 0 (see ``PLATFORM_UNSUPERVISED_WEIGHT``).
    agent_prior : dict of str to (K, K) nested lists
        Per question key, the population prior of a new agent's Dirichlet pseudo-counts
        (``HierarchicalDS.population_alpha_``); positive.
    class_prior : dict of str to (K,) lists
        Per question key, the prior over answers of a new subject; positive.
    box_worker_params : dict of str to list, optional
        ``LeanBoxAggregator.worker_params_`` as columns, with a ``worker`` column.
    refitted_at : str, optional
        ISO time of the last refit.
    """

    unsupervised_weight: float = PLATFORM_UNSUPERVISED_WEIGHT
    agent_prior: dict[str, list] = field(default_factory=dict)
    class_prior: dict[str, list] = field(default_factory=dict)
    box_worker_params: dict[str, list] | None = None
    refitted_at: str | None = None

    def __post_init__(self) -> None:
        weight = self.unsupervised_weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"unsupervised_weight must be a finite number >= 0, got {weight!r}")
        object.__setattr__(self, "unsupervised_weight", float(weight))
        object.__setattr__(self, "agent_prior", _priors("agent_prior", self.agent_prior, ndim=2))
        object.__setattr__(self, "class_prior", _priors("class_prior", self.class_prior, ndim=1))
        object.__setattr__(self, "box_worker_params", _columns(self.box_worker_params))
        if self.refitted_at is not None and not isinstance(self.refitted_at, str):
            raise ValueError(f"refitted_at must be an ISO time string or null, got {self.refitted_at!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "EngineState":
        """Build the state from stored JSON (``{}`` or ``None``: the defaults); ``ValueError`` names a bad key."""
        return dataclass_from_json(cls, {} if data is None else data, what="the engine state",
                                   key_word="engine state key")

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready data (the inverse of :meth:`from_dict`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def agent_prior_for(self, question: str) -> np.ndarray | None:
        """The (K, K) prior of a new agent on ``question``, or None for the engine's default."""
        prior = self.agent_prior.get(question)
        return None if prior is None else np.asarray(prior, dtype=float)

    def class_prior_for(self, question: str) -> np.ndarray | None:
        """The (K,) prior of a new subject on ``question``, or None for uniform."""
        prior = self.class_prior.get(question)
        return None if prior is None else np.asarray(prior, dtype=float)

    def box_params_frame(self) -> pd.DataFrame | None:
        """``box_worker_params`` indexed by worker, as ``consensus_for_image`` takes it."""
        return None if self.box_worker_params is None else pd.DataFrame(self.box_worker_params).set_index("worker")


def _priors(name: str, priors: Any, *, ndim: int) -> dict[str, list]:
    if not isinstance(priors, Mapping):
        raise ValueError(f"{name} must map question keys to priors")
    out = {}
    for key, prior in priors.items():
        try:
            array = np.asarray(prior, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{key!r}] must be numbers") from None
        square = ndim == 1 or (array.ndim == 2 and array.shape[0] == array.shape[1])
        if array.ndim != ndim or array.shape[0] < 2 or not square or not (np.isfinite(array) & (array > 0)).all():
            shape = "a (K, K) matrix" if ndim == 2 else "a (K,) vector"
            raise ValueError(f"{name}[{key!r}] must be {shape} of positive numbers, K >= 2")
        out[str(key)] = array.tolist()
    return out


def _columns(params: Any) -> dict[str, list] | None:
    if params is None:
        return None
    if not isinstance(params, Mapping) or "worker" not in params:
        raise ValueError("box_worker_params must be columns with a 'worker' column")
    lengths = {len(column) if isinstance(column, Sequence) else -1 for column in params.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise ValueError("box_worker_params columns must be lists of one length")
    return {str(k): list(v) for k, v in params.items()}
