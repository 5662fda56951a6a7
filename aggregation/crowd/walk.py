"""A simulated volunteer's annotations: answers walked down the decision tree, and clump boxes drawn.

Answers come from :func:`aggregation.crowd.model.answer_draw`. Boxes follow the
drawing model of the lean box aggregator's workers (Branson et al. 2017, CVPR):
each true clump is missed with the volunteer's ``box_miss`` rate or drawn with
corner noise proportional to its side, plus Poisson(``box_false``) false marks.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from aggregation.crowd.model import Member, answer_draw
from aggregation.crowd.spec import CrowdSpec
from aggregation.schema import TaskTree


def boxes_draw(*, clumps: list[list[float]], member: Member, size: tuple[int, int], tool: str, max_marks: int,
               rng: np.random.Generator) -> list[dict[str, Any]]:
    """Marks for one drawing, in image pixels: each clump missed or drawn with noise, plus false marks."""
    width, height = size
    marks = []
    for x0, y0, x1, y1 in clumps:
        if rng.random() < member.box_miss:
            continue
        side = max(x1 - x0, y1 - y0)
        marks.append(tuple(np.array([x0, y0, x1, y1]) + rng.normal(0.0, member.box_noise * side, 4)))
    for _ in range(int(rng.poisson(member.box_false))):
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


def annotations_walk(*, spec: CrowdSpec, tree: TaskTree, truth: dict[str, Any], member: Member, n_done: int,
                     galaxy: int, difficulty: float, size: tuple[int, int]) -> list[dict[str, Any]]:
    """The annotations ``member`` gives galaxy ``galaxy``, walking ``tree`` from its first task.

    Seeded by (seed, volunteer, galaxy): the same person gives the same galaxy the same
    answers under every policy (skill still depends on ``n_done``).
    """
    rng = np.random.default_rng([member.seed, member.index, galaxy, 1])
    annotations: list[dict[str, Any]] = []
    key = tree.first_task
    while key is not None:
        task = tree.tasks[key]
        if task.type == "drawing":
            tool = task.tools[0]
            value: Any = boxes_draw(clumps=truth.get("clumps", []), member=member, size=size, tool=tool.label,
                                    max_marks=tool.max, rng=rng)
        elif task.type == "single":
            value = answer_draw(spec=spec, member=member, question=key, labels=task.labels, truth=truth.get(key),
                                difficulty=difficulty, n_done=n_done, galaxy=galaxy, rng=rng)
        else:  # multiple answers: the simulated crowd ticks one at random
            value = [task.labels[int(rng.integers(len(task.labels)))]]
        annotations.append({"task": key, "value": value})
        key = task.next_after(value)
    return annotations
