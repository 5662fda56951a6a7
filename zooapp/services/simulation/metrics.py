"""Scoring a simulated policy against the survey's truth, read back from the platform's own tables.

* Labels: the engine's posterior (``estimator="posterior"``) or the raw majority of
  human votes (``"majority"``); a galaxy the machine retired takes the serving
  classifier's prediction made when it retired.
* Questions are scored on the retired survey galaxies whose truth reaches them:
  accuracy, and completeness (recall) and purity (precision) per answer.
* Boxes: consensus boxes matched one-to-one to the true clumps, greedily by IoU,
  a match needing IoU >= ``BOX_MATCH_IOU``; F1 = 2 TP / (2 TP + FP + FN) over the retired
  galaxies that reach the drawing task (a galaxy nobody drew on counts its clumps as missed).
* Against the majority: each question's accuracy beside that of the raw majority of the same human
  votes, on the retired galaxies that have human votes on it (``majority_scores``).
* Calibration of the first question: reliability bins of the top probability and the
  expected calibration error ECE = sum_b (n_b / n) |accuracy_b - confidence_b|.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
from django.db.models import Count

from aggregation.boxes.geometry import iou_matrix
from aggregation.schema import TaskTree
from zooapp.models import (Classification, ConsensusBox, Prediction, Retirement, Subject, SubjectPosterior,
                           SubjectTruth, Volunteer, Workflow)

BOX_MATCH_IOU = 0.3
N_BINS = 10


def _labels_of(workflow: Workflow, subjects: list[Subject], tree: TaskTree, estimator: str) -> dict:
    """(subject id, task) -> probabilities over the task's answers, by the policy's estimator."""
    out = {}
    for post in SubjectPosterior.objects.filter(subject__in=subjects):
        if estimator == "majority":
            votes = np.asarray(post.vote_counts, dtype=float)
            probs = votes / votes.sum() if votes.sum() > 0 else None
        else:
            probs = post.probabilities
        if probs is not None and post.task in tree.tasks and tree.tasks[post.task].type == "single":
            out[(post.subject_id, post.task)] = probs
    machine = Retirement.objects.filter(subject__in=subjects, reason="machine_threshold").values_list("subject_id")
    for pred in (Prediction.objects.filter(subject_id__in=machine).select_related("model_version")
                 .order_by("model_version__number")):
        out[(pred.subject_id, pred.task)] = np.asarray(pred.probs, dtype=float)  # the latest version wins
    return out


def question_scores(*, tree: TaskTree, truths: dict[int, dict], probs: dict) -> dict[str, Any]:
    scores = {}
    for task in tree.questions():
        pairs = [(task.labels.index(truth[task.key]), int(np.argmax(probs[(sid, task.key)])))
                 for sid, truth in truths.items()
                 if truth.get(task.key) in task.labels and (sid, task.key) in probs]
        if not pairs:
            continue
        true, pred = np.array(pairs).T
        classes = {}
        for k, label in enumerate(task.labels):
            hits = int(((true == k) & (pred == k)).sum())
            classes[label] = {"n_true": int((true == k).sum()), "n_predicted": int((pred == k).sum()),
                              "completeness": _ratio(hits, (true == k).sum()),
                              "purity": _ratio(hits, (pred == k).sum())}
        scores[task.key] = {"n": len(pairs), "accuracy": _ratio((true == pred).sum(), len(pairs)),
                            "classes": classes}
    return scores


def majority_scores(*, tree: TaskTree, truths: dict[int, dict], probs: dict, counts: dict) -> dict[str, Any]:
    """Per question, the policy's accuracy beside the majority of the same human votes, on the same galaxies.

    ``counts``: (subject id, task) -> the human vote counts over the task's answers. Scored on the galaxies
    whose truth reaches the question and that have at least one human vote on it; a tied majority takes the
    answer listed first in the tree, so the baseline is deterministic.
    """
    scores = {}
    for task in tree.questions():
        rows = [(task.labels.index(truth[task.key]), int(np.argmax(probs[(sid, task.key)])),
                 int(np.argmax(counts[(sid, task.key)])))
                for sid, truth in truths.items()
                if truth.get(task.key) in task.labels and (sid, task.key) in probs
                and sum(counts.get((sid, task.key), ())) > 0]
        if rows:
            true, pred, majority = np.array(rows).T
            scores[task.key] = {"n": len(rows), "accuracy": _ratio((pred == true).sum(), len(rows)),
                                "majority_accuracy": _ratio((majority == true).sum(), len(rows))}
    return scores


def _human_counts(subjects: list[Subject]) -> dict:
    """(subject id, task) -> human vote counts (the engine keeps machine votes out of ``vote_counts``)."""
    return {(sid, task): counts for sid, task, counts in
            SubjectPosterior.objects.filter(subject__in=subjects).values_list("subject_id", "task", "vote_counts")}


def calibration(*, task_key: str, labels: list[str], truths: dict[int, dict], probs: dict) -> dict[str, Any]:
    rows = [(float(np.max(probs[(sid, task_key)])), int(np.argmax(probs[(sid, task_key)]))
             == labels.index(truth[task_key]))
            for sid, truth in truths.items() if truth.get(task_key) in labels and (sid, task_key) in probs]
    if not rows:
        return {"ece": None, "bins": []}
    confidence, correct = np.array(rows, dtype=float).T
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, N_BINS - 1)
    bins, ece = [], 0.0
    for b in range(N_BINS):
        inside = which == b
        if not inside.any():
            continue
        conf, acc = float(confidence[inside].mean()), float(correct[inside].mean())
        ece += inside.sum() / len(rows) * abs(acc - conf)
        bins.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": int(inside.sum()),
                     "confidence": conf, "accuracy": acc})
    return {"ece": float(ece), "bins": bins}


def box_scores(*, subjects: list[Subject], truths: dict[int, dict], drawn: set[int]) -> dict[str, Any]:
    boxes: dict[int, list] = {}
    for box in ConsensusBox.objects.filter(subject__in=subjects):
        boxes.setdefault(box.subject_id, []).append([box.x_min, box.y_min, box.x_max, box.y_max])
    tp = fp = fn = 0
    for sid in drawn:
        true = np.asarray(truths[sid].get("clumps") or [], dtype=float).reshape(-1, 4)
        found = np.asarray(boxes.get(sid, []), dtype=float).reshape(-1, 4)
        matched = _greedy_matches(iou_matrix(found, true)) if len(true) and len(found) else 0
        tp, fp, fn = tp + matched, fp + len(found) - matched, fn + len(true) - matched
    return {"match": f"IoU >= {BOX_MATCH_IOU}", "n_galaxies": len(drawn), "tp": tp, "fp": fp, "fn": fn,
            "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "f1": _ratio(2 * tp, 2 * tp + fp + fn)}


def _greedy_matches(iou: np.ndarray) -> int:
    iou = iou.copy()
    matched = 0
    while iou.size and iou.max() >= BOX_MATCH_IOU:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        iou[i, :], iou[:, j] = -1.0, -1.0
        matched += 1
    return matched


def _ratio(a, b) -> float | None:
    return float(a) / float(b) if b else None


def steps_to_retire(timeline: dict, *, share: float, n_targets: int) -> int | None:
    """Simulated human classifications until ``share`` of the survey galaxies had retired (None: never)."""
    for steps, retired in zip(timeline["steps"], timeline["retired"]):
        if n_targets and retired >= share * n_targets:
            return int(steps)
    return None


def _counts(workflow: Workflow, retired: list[Subject]) -> dict[str, Any]:
    human = Classification.objects.filter(workflow=workflow, volunteer__kind=Volunteer.Kind.HUMAN)
    on_gold = human.filter(subject__is_gold=True).count()
    total = human.count()
    per_galaxy = np.array([s.n_classifications for s in retired], dtype=float)
    reasons = dict(Retirement.objects.filter(subject__in=retired, action=Retirement.Action.RETIRE)
                   .values_list("reason").annotate(n=Count("id")))
    return {"classifications": {"human": total, "human_on_gold": on_gold, "human_on_survey": total - on_gold,
                                "machine": Classification.objects.filter(workflow=workflow).count() - total},
            "retired_by": reasons,
            "human_per_retired": float(per_galaxy.mean()) if len(per_galaxy) else None,
            "human_per_retired_median": float(np.median(per_galaxy)) if len(per_galaxy) else None,
            "effort_per_retired": _ratio(total, len(retired))}


def policy_score(*, workflow: Workflow, estimator: str, timeline: dict) -> dict[str, Any]:
    """The report of one simulated policy (see the module docstring for the definitions)."""
    tree = TaskTree.from_dict(workflow.current_version.tree)
    survey = Subject.objects.filter(workflow=workflow, is_gold=False)
    retired = list(survey.filter(status=Subject.Status.RETIRED))
    truths = {t.subject_id: t.values for t in SubjectTruth.objects.filter(subject__in=retired)}
    truths = {sid: {**v, "clumps": _clumps(v.get("clumps"))} for sid, v in truths.items()}
    probs = _labels_of(workflow, retired, tree, estimator)
    first = tree.tasks[tree.first_task]
    drawing = bool(tree.drawing_tasks())
    drawn = {sid for sid, truth in truths.items() if _reaches_drawing(tree, truth)}
    n_targets = survey.count()
    return {"n_survey": n_targets, "n_retired": len(retired), "retired_share": _ratio(len(retired), n_targets),
            **_counts(workflow, retired),
            "steps_to_retire_90": steps_to_retire(timeline, share=0.9, n_targets=n_targets),
            "questions": question_scores(tree=tree, truths=truths, probs=probs),
            "against_majority": majority_scores(tree=tree, truths=truths, probs=probs,
                                                counts=_human_counts(retired)),
            "calibration": calibration(task_key=first.key, labels=first.labels, truths=truths, probs=probs),
            "boxes": box_scores(subjects=retired, truths=truths, drawn=drawn) if drawing else None,
            "timeline": timeline}


def _clumps(raw) -> list:
    return json.loads(raw) if isinstance(raw, str) else list(raw or [])


def _reaches_drawing(tree: TaskTree, truth: dict) -> bool:
    """Whether a volunteer answering every question truly would reach a drawing task."""
    key = tree.first_task
    while key is not None:
        task = tree.tasks[key]
        if task.type == "drawing":
            return True
        if task.type != "single" or truth.get(key) not in task.labels:
            return False
        key = task.next_after(truth[key])
    return False
