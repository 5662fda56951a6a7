"""The condition: one answer-fraction vector over the workflow's task tree.

The vector concatenates, for every question of ``tree.questions()`` in
:func:`ml.classifier.question_slices` order, the fractions of its answers.  A
confident subject gives one-hot blocks on the questions its path reaches and
zeros on the others; a question the path reaches but whose answer is unknown
(e.g. the roundness of a GZ1 elliptical) gets uniform fractions.

Examples
--------
>>> from aggregation.schema import galaxy_zoo_tree
>>> tree = galaxy_zoo_tree()
>>> answer_condition("T2.yes", tree).tolist()  # featured, edge-on
[0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
>>> answer_condition("spiral", tree)[-4:].tolist()  # bar unknown -> uniform
[0.5, 0.5, 1.0, 0.0]
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from aggregation.schema import TaskTree

# GZ1 classes (Lintott et al. 2008) as answers of the Galaxy Zoo tree; mergers have no answer there.
GZ1_ANSWERS = {"elliptical": ["T0.smooth"], "spiral_clockwise": ["T0.featured", "T2.no", "T4.spiral"],
               "spiral_anticlockwise": ["T0.featured", "T2.no", "T4.spiral"],
               "edge_on": ["T0.featured", "T2.yes"], "dont_know": ["T0.artifact"]}


def _slices(tree: TaskTree) -> dict[str, slice]:
    slices, start = {}, 0
    for task in tree.questions():
        slices[task.key] = slice(start, start + len(task.labels))
        start += len(task.labels)
    return slices


def condition_size(tree: TaskTree) -> int:
    """Length ``A`` of the condition vector: the number of answers over all questions."""
    return sum(len(t.labels) for t in tree.questions())


def path_condition(answers: dict[str, str], tree: TaskTree) -> np.ndarray:
    """``(A,)`` vector for known answers ``{question: label}``, walking the tree from its first task.

    Questions on the path with a known answer are one-hot, those without are
    uniform, questions off the path are zero.
    """
    slices, vec = _slices(tree), np.zeros(condition_size(tree), dtype=np.float32)
    key = tree.first_task
    while key is not None:
        task = tree.tasks[key]
        if not task.is_question:
            key = task.next
            continue
        label = answers.get(key) or None
        if label is None:
            vec[slices[key]] = 1.0 / len(task.labels)
            key = task.next_after(task.labels[0]) if len({a.next for a in task.answers}) == 1 else None
            continue
        if label not in task.labels:
            raise ValueError(f"{label!r} is not an answer of {key} ({', '.join(task.labels)})")
        vec[slices[key].start + task.labels.index(label)] = 1.0
        key = task.next_after(label)
    return vec


def answer_condition(name: str, tree: TaskTree) -> np.ndarray:
    """The vector of one answer, named ``label`` (when unique in the tree) or ``TASK.label``.

    The answers leading to it along the tree are filled in; ValueError when the name is unknown or ambiguous.
    """
    owners = [t for t in tree.questions() if name.split(".", 1)[-1] in t.labels
              and ("." not in name or t.key == name.split(".", 1)[0])]
    if not owners:
        raise ValueError(f"no answer {name!r} in the tree; use a label or TASK.label, e.g. "
                         f"{tree.questions()[0].key}.{tree.questions()[0].labels[0]}")
    if len(owners) > 1:
        raise ValueError(f"answer {name!r} is ambiguous; write one of "
                         f"{', '.join(f'{t.key}.{name}' for t in owners)}")
    return path_condition(_path_to(owners[0].key, name.split(".", 1)[-1], tree), tree)


def _path_to(key: str, label: str, tree: TaskTree) -> dict[str, str]:
    """Answers ``{question: label}`` that lead from the first task to ``key``, then ``label`` there."""
    def walk(at: str | None, chosen: dict[str, str]) -> dict[str, str] | None:
        if at is None:
            return None
        if at == key:
            return {**chosen, key: label}
        task = tree.tasks[at]
        if not task.is_question:
            return walk(task.next, chosen)
        if len({a.next for a in task.answers}) == 1:  # every answer leads on alike: this one stays unknown
            return walk(task.answers[0].next, chosen)
        for answer in task.answers:
            found = walk(answer.next, {**chosen, at: answer.label})
            if found is not None:
                return found
        return None

    return walk(tree.first_task, {}) or {key: label}


def parse_condition(text: str, tree: TaskTree) -> np.ndarray:
    """A condition given on the command line: a JSON list of ``A`` fractions, or an answer name."""
    text = text.strip()
    if not text.startswith("["):
        return answer_condition(text, tree)
    try:
        vec = np.asarray(json.loads(text), dtype=np.float32)
    except (json.JSONDecodeError, ValueError, TypeError) as exc:
        raise ValueError(f"--condition is not a JSON list of numbers: {exc}") from None
    check_condition(vec[None], tree)
    return vec


def check_condition(conditions: np.ndarray, tree: TaskTree) -> None:
    """ValueError unless ``conditions`` is ``(N, A)`` with every question's block empty or summing to 1."""
    a = condition_size(tree)
    if conditions.ndim != 2 or conditions.shape[1] != a:
        raise ValueError(f"a condition has {a} fractions (the answers of {len(tree.questions())} questions "
                         f"in tree order), got shape {tuple(conditions.shape)}")
    if not np.all(np.isfinite(conditions)) or (conditions < 0).any() or (conditions > 1).any():
        raise ValueError("condition fractions must lie in [0, 1]")
    for key, s in _slices(tree).items():
        sums = conditions[:, s].sum(1)
        if not np.all((np.abs(sums) < 1e-4) | (np.abs(sums - 1) < 1e-3)):
            raise ValueError(f"the fractions of question {key} must sum to 1 (or 0 when it is not reached)")


def truth_conditions(manifest: pd.DataFrame, tree: TaskTree) -> np.ndarray:
    """``(N, A)`` conditions from a synthetic survey's ``truth_<task>`` columns (:func:`ml.synth.synth_survey`)."""
    columns = {t.key: manifest.get(f"truth_{t.key}", pd.Series([""] * len(manifest))).fillna("").astype(str)
               for t in tree.questions()}
    rows = [{k: col.iloc[i] for k, col in columns.items() if col.iloc[i]} for i in range(len(manifest))]
    return np.stack([path_condition(r, tree) for r in rows]) if rows else np.zeros((0, condition_size(tree)))


def gz1_conditions(labels: pd.DataFrame, tree: TaskTree) -> tuple[np.ndarray, np.ndarray]:
    """Conditions of GZ1 galaxies (``gz1_class_name`` column) and the mask of those the tree can express.

    Returns ``((M, A) conditions, (N,) bool mask)``; mergers have no answer in the Galaxy Zoo tree and are left out.
    """
    keep = labels["gz1_class_name"].isin(list(GZ1_ANSWERS)).to_numpy()
    rows = []
    for name in labels.loc[keep, "gz1_class_name"]:
        rows.append(path_condition(dict(a.split(".", 1) for a in GZ1_ANSWERS[name]), tree))
    return (np.stack(rows) if rows else np.zeros((0, condition_size(tree)), np.float32)), keep
