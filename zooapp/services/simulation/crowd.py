"""Simulated volunteers: who they are, how long they stay, and how they answer and draw.

A crowd is an endless, seeded stream of volunteers: volunteer ``i`` of seed ``s``
is drawn from ``numpy.random.default_rng([s, i])``, so every policy of one run
meets exactly the same people in the same order. The population is GZ2-like:

* most volunteers are *decent*: right on the first question 80-95 % of the time (``skill_range``),
  less on the harder ones (bars, spiral arms);
* *learners* start at 50-65 % and improve to a decent volunteer's skill (half-way after
  ``learn_halflife`` classifications);
* *careless* volunteers click at random;
* *adversarial* ones swap smooth and featured (and yes and no) most of the time.

How long a volunteer stays is log-normal (median ``session_median``, heavy tail):
most make a handful of classifications and a few make hundreds. Clump boxes are
drawn from the truth with a per-volunteer miss rate, a rate of false marks and a
positional noise proportional to the clump's size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aggregation.schema import Task, TaskTree

KINDS = ("decent", "learner", "careless", "adversarial")
# Harder questions take this much off a volunteer's accuracy (GZ2: bars and arms are the hard ones).
DIFFICULTY = {"T0": 0.0, "T1": 0.08, "T2": 0.03, "T3": 0.15, "T4": 0.12}
DEFAULT_DIFFICULTY = 0.08


@dataclass(frozen=True)
class CrowdConfig:
    """The population the volunteers are drawn from."""

    shares: tuple[float, float, float, float] = (0.72, 0.13, 0.10, 0.05)  # in the order of KINDS
    skill_range: tuple[float, float] = (0.80, 0.95)  # accuracy of a decent volunteer on the first question
    session_median: float = 8.0
    session_sigma: float = 1.4
    session_max: int = 2000
    learn_halflife: float = 15.0

    def __post_init__(self) -> None:
        if len(self.shares) != len(KINDS) or min(self.shares) < 0 or not math.isclose(sum(self.shares), 1.0):
            raise ValueError(f"shares must be {len(KINDS)} non-negative numbers summing to 1 ({', '.join(KINDS)})")
        if not 0.34 <= self.skill_range[0] <= self.skill_range[1] <= 0.99:
            raise ValueError("skill_range must be (low, high) with 0.34 <= low <= high <= 0.99")
        if self.session_median < 1 or self.session_sigma < 0 or self.session_max < 1:
            raise ValueError("session_median >= 1, session_sigma >= 0 and session_max >= 1 are required")


@dataclass(frozen=True)
class SimVolunteer:
    """One simulated person: kind, accuracy, box habits and how many classifications they will make."""

    index: int
    kind: str
    skill: float  # accuracy on an easy question (for a learner: after much practice)
    start_skill: float  # a learner's accuracy on their first classification
    lifetime: int
    box_miss: float
    box_false: float  # expected false marks per drawing
    box_noise: float  # corner noise as a share of the clump's side
    seed: int = field(repr=False, default=0)

    def accuracy(self, *, task: str, n_done: int, halflife: float) -> float:
        skill = self.skill
        if self.kind == "learner":
            skill = self.skill - (self.skill - self.start_skill) * 0.5 ** (n_done / halflife)
        return float(np.clip(skill - DIFFICULTY.get(task, DEFAULT_DIFFICULTY), 0.34, 0.99))


def crowd_member(*, seed: int, index: int, config: CrowdConfig) -> SimVolunteer:
    rng = np.random.default_rng([seed, index])
    kind = KINDS[int(rng.choice(len(KINDS), p=config.shares))]
    skill = float(rng.uniform(*config.skill_range))
    lifetime = math.exp(math.log(config.session_median) + config.session_sigma * rng.standard_normal())
    careful = kind in ("decent", "learner")
    return SimVolunteer(
        index=index, kind=kind, skill=skill, start_skill=float(rng.uniform(0.5, 0.65)),
        lifetime=int(np.clip(round(lifetime), 1, config.session_max)),
        box_miss=float(rng.uniform(0.1, 0.4) if careful else rng.uniform(0.5, 0.9)),
        box_false=float(rng.uniform(0.0, 0.3) if careful else rng.uniform(0.3, 1.5)),
        box_noise=float(rng.uniform(0.05, 0.2) if careful else rng.uniform(0.2, 0.5)), seed=seed)


def _answer(task: Task, truth: str | None, volunteer: SimVolunteer, accuracy: float,
            rng: np.random.Generator) -> str:
    labels = task.labels
    if truth not in labels or volunteer.kind == "careless":
        return labels[int(rng.integers(len(labels)))]
    true_index = labels.index(truth)
    if volunteer.kind == "adversarial":
        # The flip: smooth <-> featured, yes <-> no; an artifact stays what it is.
        flipped = {0: 1, 1: 0}.get(true_index, true_index)
        return labels[flipped] if rng.random() < 0.8 else truth
    if rng.random() < accuracy:
        return truth
    others = [label for label in labels if label != truth]
    return others[int(rng.integers(len(others)))]


def draw_boxes(*, clumps: list[list[float]], volunteer: SimVolunteer, size: tuple[int, int], tool: str,
               max_marks: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Marks for one drawing: each true clump missed or drawn with noise, plus some false marks."""
    width, height = size
    marks = []
    for x0, y0, x1, y1 in clumps:
        if rng.random() < volunteer.box_miss:
            continue
        side = max(x1 - x0, y1 - y0)
        x0, y0, x1, y1 = np.array([x0, y0, x1, y1]) + rng.normal(0.0, volunteer.box_noise * side, 4)
        marks.append((x0, y0, x1, y1))
    for _ in range(int(rng.poisson(volunteer.box_false))):
        side = float(rng.uniform(3.0, 8.0))
        x0, y0 = float(rng.uniform(0, width - side)), float(rng.uniform(0, height - side))
        marks.append((x0, y0, x0 + side, y0 + side))
    out = []
    for x0, y0, x1, y1 in marks[:max_marks]:
        x0, x1 = sorted((float(np.clip(x0, 0, width)), float(np.clip(x1, 0, width))))
        y0, y1 = sorted((float(np.clip(y0, 0, height)), float(np.clip(y1, 0, height))))
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            out.append({"tool": tool, "x_min": round(x0, 2), "y_min": round(y0, 2),
                        "x_max": round(x1, 2), "y_max": round(y1, 2)})
    return out


def classify_walk(*, tree: TaskTree, truth: dict[str, Any], volunteer: SimVolunteer, n_done: int,
                  subject_index: int, size: tuple[int, int], halflife: float) -> list[dict[str, Any]]:
    """The annotations one volunteer gives one subject, walking the tree from its first task.

    Seeded by (seed, volunteer, subject): the same person gives the same galaxy the same
    answers under every policy (a learner's accuracy still depends on ``n_done``).
    """
    rng = np.random.default_rng([volunteer.seed, volunteer.index, subject_index, 1])
    annotations: list[dict[str, Any]] = []
    key = tree.first_task
    while key is not None:
        task = tree.tasks[key]
        if task.type == "drawing":
            tool = task.tools[0]
            value: Any = draw_boxes(clumps=truth.get("clumps", []), volunteer=volunteer, size=size,
                                    tool=tool.label, max_marks=tool.max, rng=rng)
        elif task.type == "single":
            accuracy = volunteer.accuracy(task=key, n_done=n_done, halflife=halflife)
            value = _answer(task, truth.get(key), volunteer, accuracy, rng)
        else:  # multiple answers: the simulated crowd ticks one at random
            value = [task.labels[int(rng.integers(len(task.labels)))]]
        annotations.append({"task": key, "value": value})
        key = task.next_after(value)
    return annotations
