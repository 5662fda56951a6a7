"""Replay recorded real votes: the queue asks, and only votes that were really given are revealed.

A recording is a votes file ``(task, worker, label)`` plus a truth file ``(task, truth)``,
as in the truth-inference benchmarks (Zheng et al. 2017, PVLDB 10, 541; columns
``item`` are read as ``task``). When the queue offers a worker a task they never
labelled, nothing is invented: the worker is offered the next task the queue ranks,
and leaves when none of those was recorded for them.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from aggregation.crowd.spec import CrowdFileError

_TASK_COLUMNS = ("task", "item")


@dataclass
class Recording:
    """Recorded votes (first vote per (worker, task) kept) and the truth, all as strings."""

    votes: dict[tuple[str, str], str]
    truth: dict[str, str]
    workers: list[str]  # in order of first appearance: the order they arrive in
    tasks: list[str]  # tasks with a truth, in order of first appearance in the votes
    revealed: set[tuple[str, str]] = field(default_factory=set)

    @property
    def labels(self) -> list[str]:
        values = set(self.votes.values()) | set(self.truth.values())
        return sorted(values, key=lambda v: (len(v), v))  # "2" before "10"

    def n_recorded(self, worker: str) -> int:
        return sum(1 for (w, _t) in self.votes if w == worker)

    def reveal(self, *, worker: str, offered: list[str]) -> tuple[str, str] | None:
        """The first task of ``offered`` (queue order) that ``worker`` has an unrevealed recorded vote on.

        Returns ``(task, label)``, or None: the worker leaves, since no recorded vote fits.
        """
        for task in offered:
            key = (worker, task)
            if key in self.votes and key not in self.revealed:
                self.revealed.add(key)
                return task, self.votes[key]
        return None


def recording_load(*, votes: str | Path, truth: str | Path) -> Recording:
    """Read ``votes`` (task/item, worker, label) and ``truth`` (task/item, truth); clear errors on bad files."""
    vote_rows = _rows(Path(votes), ("worker", "label"))
    truth_rows = _rows(Path(truth), ("truth",))
    truth_map = {r["task"]: r["truth"] for r in truth_rows}
    recorded: dict[tuple[str, str], str] = {}
    workers: dict[str, None] = {}
    tasks: dict[str, None] = {}
    for r in vote_rows:
        recorded.setdefault((r["worker"], r["task"]), r["label"])  # duplicates: keep the first
        workers.setdefault(r["worker"])
        if r["task"] in truth_map:
            tasks.setdefault(r["task"])
    if not tasks:
        raise CrowdFileError(f"{votes}: no task of the votes file has a truth in {truth}")
    return Recording(votes=recorded, truth=truth_map, workers=list(workers), tasks=list(tasks))


def _rows(path: Path, needed: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise CrowdFileError(f"replay file {path} does not exist")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        task_col = next((c for c in _TASK_COLUMNS if c in columns), None)
        missing = [c for c in needed if c not in columns]
        if task_col is None or missing:
            raise CrowdFileError(f"{path}: needs columns task (or item), {', '.join(needed)}; has {columns}")
        rows = [{"task": r[task_col].strip(), **{c: (r[c] or "").strip() for c in needed}} for r in reader]
    if not rows or any(not all(r.values()) for r in rows):
        raise CrowdFileError(f"{path}: needs at least one row and no empty cells")
    return rows
