"""The platform side of the Bayesian engine: it feeds stored classifications to `aggregation`.

Every classification is consumed exactly once, in the order given by
``Classification.aggregation_seq``, under a lock on its workflow row. Because the
online SWAP update is order-dependent, that sequence is what makes the persisted
state reproducible: `workflow_recompute` replays the same order from scratch and
must land on the same numbers.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F

from aggregation.boxes import consensus_for_image
from aggregation.online import agent_skill, initial_agent_alpha, initial_log_posterior, vote_update
from aggregation.schema import TaskTree
from zooapp.models import (Classification, ConsensusBox, GoldAnswer, Prediction, Reliability, Subject,
                           SubjectPosterior, Volunteer, Workflow)
from zooapp.services.retirement import subjects_retire_if_due

BATCH = 500
QUEUED_KEY = "aggregation-queued:{}"
QUEUED_TTL = 10


@dataclass
class _EngineState:
    """Rows touched by one batch, held in memory and written back once."""

    workflow: Workflow
    reliabilities: dict[tuple[int, str], Reliability] = field(default_factory=dict)
    posteriors: dict[tuple[int, str], SubjectPosterior] = field(default_factory=dict)
    gold: dict[tuple[int, str], Any] = field(default_factory=dict)
    trees: dict[int, TaskTree] = field(default_factory=dict)
    human_counts: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    boxed_subjects: set[int] = field(default_factory=set)

    @property
    def unsupervised_weight(self) -> float:
        return float(self.workflow.engine_state.get("unsupervised_weight", 0.5))

    def tree(self, classification: Classification) -> TaskTree:
        vid = classification.workflow_version_id
        if vid not in self.trees:
            self.trees[vid] = TaskTree.from_dict(classification.workflow_version.tree)
        return self.trees[vid]

    def reliability(self, volunteer_id: int, task: str, n_classes: int) -> Reliability:
        key = (volunteer_id, task)
        if key not in self.reliabilities:
            prior = self.workflow.engine_state.get("agent_prior", {}).get(task)
            alpha = initial_agent_alpha(n_classes, prior=np.asarray(prior) if prior else None)
            self.reliabilities[key] = Reliability(volunteer_id=volunteer_id, workflow=self.workflow, task=task,
                                                  alpha=alpha.tolist(), skill=agent_skill(alpha))
        return self.reliabilities[key]

    def posterior(self, subject_id: int, task: str, labels: list[str]) -> SubjectPosterior:
        key = (subject_id, task)
        if key not in self.posteriors:
            prior = self.workflow.engine_state.get("class_prior", {}).get(task)
            logp = initial_log_posterior(len(labels), prior=np.asarray(prior) if prior else None)
            zeros = [0.0] * len(labels)
            self.posteriors[key] = SubjectPosterior(subject_id=subject_id, task=task, labels=labels,
                                                    log_posterior=logp.tolist(), vote_counts=list(zeros),
                                                    weighted_counts=list(zeros))
        return self.posteriors[key]


def _load_state(workflow: Workflow, batch: list[Classification]) -> _EngineState:
    state = _EngineState(workflow=workflow)
    volunteers = {c.volunteer_id for c in batch}
    subjects = {c.subject_id for c in batch}
    for rel in Reliability.objects.filter(workflow=workflow, volunteer_id__in=volunteers):
        state.reliabilities[(rel.volunteer_id, rel.task)] = rel
    for post in SubjectPosterior.objects.filter(subject_id__in=subjects):
        state.posteriors[(post.subject_id, post.task)] = post
    for gold in GoldAnswer.objects.filter(subject_id__in=subjects, subject__is_gold=True):
        state.gold[(gold.subject_id, gold.task)] = gold.value
    return state


def _consume(state: _EngineState, classification: Classification) -> None:
    tree = state.tree(classification)
    human = classification.volunteer.kind == Volunteer.Kind.HUMAN
    if human:
        state.human_counts[classification.subject_id] += 1
    for ann in classification.annotations:
        task = tree.tasks.get(ann["task"])
        if task is None:
            continue
        if task.type == "drawing":
            if human:  # boxes come from people; a machine's empty drawing task is not a view
                state.boxed_subjects.add(classification.subject_id)
        elif task.type == "single":
            _consume_vote(state, classification, task.key, task.labels, task.labels.index(ann["value"]), human)
        else:
            post = state.posterior(classification.subject_id, task.key, task.labels)
            for value in ann["value"]:
                post.vote_counts[task.labels.index(value)] += 1


def _consume_vote(state: _EngineState, classification: Classification, task: str, labels: list[str],
                  label: int, human: bool) -> None:
    rel = state.reliability(classification.volunteer_id, task, len(labels))
    measured = (classification.machine_confusion or {}).get(task)
    if measured is not None:
        rel.alpha = measured  # a machine votes with the confusion measured on gold and retired subjects
    post = state.posterior(classification.subject_id, task, labels)
    gold_value = state.gold.get((classification.subject_id, task))
    gold = labels.index(gold_value) if gold_value in labels else None
    alpha, logp = vote_update(agent_alpha=np.asarray(rel.alpha), subject_log_posterior=np.asarray(post.log_posterior),
                              label=label, gold=gold, unsupervised_weight=state.unsupervised_weight)
    rel.alpha, rel.skill = alpha.tolist(), agent_skill(alpha)
    rel.n_votes += 1
    rel.n_gold += int(gold is not None)
    post.log_posterior = logp.tolist()
    if human:
        post.vote_counts[label] += 1
        post.weighted_counts[label] += rel.skill


def _save_state(state: _EngineState) -> None:
    new_rel = [r for r in state.reliabilities.values() if r.pk is None]
    old_rel = [r for r in state.reliabilities.values() if r.pk is not None]
    Reliability.objects.bulk_create(new_rel)
    Reliability.objects.bulk_update(old_rel, ["alpha", "skill", "n_votes", "n_gold"])
    new_post = [p for p in state.posteriors.values() if p.pk is None]
    old_post = [p for p in state.posteriors.values() if p.pk is not None]
    SubjectPosterior.objects.bulk_create(new_post)
    SubjectPosterior.objects.bulk_update(old_post, ["log_posterior", "vote_counts", "weighted_counts"])
    for subject_id, n in state.human_counts.items():
        Subject.objects.filter(pk=subject_id).update(n_classifications=F("n_classifications") + n)
    for subject_id in state.boxed_subjects:
        subject_boxes_aggregate(subject_id=subject_id)


def workflow_aggregate_pending(*, workflow_id: int, limit: int = BATCH) -> int:
    """Consume up to ``limit`` classifications not yet aggregated; returns how many.

    One transaction: a worker killed half-way leaves nothing half-written, and the
    classifications stay pending for the next run.
    """
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update(no_key=True).filter(pk=workflow_id).first()
        if workflow is None:
            return 0  # deleted since the message was queued: nothing left to aggregate
        batch = list(Classification.objects.filter(workflow=workflow, aggregation_seq__isnull=True)
                     .select_related("volunteer", "workflow_version").order_by("id")[:limit])
        if not batch:
            return 0
        state = _load_state(workflow, batch)
        seq = workflow.aggregation_seq
        for classification in batch:
            _consume(state, classification)
            seq += 1
            classification.aggregation_seq = seq
        _save_state(state)
        Classification.objects.bulk_update(batch, ["aggregation_seq"])
        workflow.aggregation_seq = seq
        workflow.save(update_fields=["aggregation_seq"])
        subjects_retire_if_due(workflow=workflow, subject_ids={c.subject_id for c in batch})
    return len(batch)


def workflow_aggregation_request(*, workflow_id: int) -> bool:
    """Queue an aggregation of the workflow unless one is already queued and not yet started.

    Called after every committed classification. Without this each classification queued
    its own task, and under load the workers spent their time on tasks that found nothing
    left to do. The marker is cleared when a run starts (`workflow_aggregate_all`), so work
    committed after that queues a new run; it expires after QUEUED_TTL seconds in case its
    message is lost, and `aggregate_sweep` catches anything else. A per-process cache
    (no CACHE_URL) cannot be seen by the workers, so then every classification queues a run.
    """
    from zooapp import tasks  # tasks import this module

    key = QUEUED_KEY.format(workflow_id)
    shared = not settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")  # web and workers see one marker
    if shared and not cache.add(key, 1, timeout=QUEUED_TTL):
        return False
    try:
        tasks.aggregate_workflow.delay(workflow_id)
    except Exception:
        cache.delete(key)
        raise
    return True


def workflow_aggregate_all(*, workflow_id: int) -> int:
    cache.delete(QUEUED_KEY.format(workflow_id))  # before reading the pending rows: see workflow_aggregation_request
    total = 0
    while n := workflow_aggregate_pending(workflow_id=workflow_id):
        total += n
    return total


def subject_boxes_aggregate(*, subject_id: int) -> None:
    """Rebuild a subject's consensus boxes from every human view that reached a drawing task."""
    subject = Subject.objects.select_related("workflow").get(pk=subject_id)
    rows, seen, trees = [], set(), {}
    for c in (Classification.objects.filter(subject=subject, volunteer__kind=Volunteer.Kind.HUMAN)
              .select_related("workflow_version")):
        if c.workflow_version_id not in trees:
            trees[c.workflow_version_id] = TaskTree.from_dict(c.workflow_version.tree)
        tasks = trees[c.workflow_version_id].tasks
        for ann in c.annotations:
            if ann["task"] in tasks and tasks[ann["task"]].type == "drawing":
                seen.add(c.volunteer_id)
                rows += [{"task": subject_id, "worker": c.volunteer_id, "x_min": m["x_min"], "y_min": m["y_min"],
                          "x_max": m["x_max"], "y_max": m["y_max"]} for m in ann["value"]]
    if subject.workflow.machine_agent:
        rows, seen = _with_detector(subject, rows, seen)
    if not seen:
        return
    boxes = pd.DataFrame(rows, columns=["task", "worker", "x_min", "y_min", "x_max", "y_max"])
    params = subject.workflow.engine_state.get("box_worker_params")
    consensus, risk = consensus_for_image(boxes, sorted(seen),
                                          worker_params=pd.DataFrame(params).set_index("worker") if params else None)
    ConsensusBox.objects.filter(subject=subject).delete()
    ConsensusBox.objects.bulk_create([ConsensusBox(subject=subject, **_box_fields(row))
                                      for row in consensus.to_dict("records")])
    Subject.objects.filter(pk=subject_id).update(box_risk=float(risk))


DETECTOR_AGENT = -1  # the serving detector's worker id in the box model (volunteer ids are positive)


def _with_detector(subject: Subject, rows: list[dict], seen: set) -> tuple[list[dict], set]:
    """Add the serving detector as one more box-drawing agent; drawing nothing is its answer too."""
    prediction = (Prediction.objects.filter(subject=subject, task="boxes", model_version__serving=True,
                                            model_version__kind="detector").first())
    if prediction is None or prediction.boxes is None:
        return rows, seen
    drawn = [{"task": subject.pk, "worker": DETECTOR_AGENT, "x_min": b[0], "y_min": b[1], "x_max": b[2],
              "y_max": b[3]} for b in prediction.boxes]
    return rows + drawn, seen | {DETECTOR_AGENT}


def _box_fields(row: dict) -> dict:
    return {"x_min": float(row["x_min"]), "y_min": float(row["y_min"]), "x_max": float(row["x_max"]),
            "y_max": float(row["y_max"]), "p_real": float(row["p_real"]), "n_workers": int(row["n_workers"]),
            "n_seen": int(row["n_seen"])}


def workflow_state_snapshot(*, workflow_id: int) -> dict[str, Any]:
    """The engine state as plain numbers, for comparing the online state with a recompute."""
    rel = {f"{r.volunteer_id}:{r.task}": np.round(r.alpha, 9).tolist()
           for r in Reliability.objects.filter(workflow_id=workflow_id)}
    post = {f"{p.subject_id}:{p.task}": np.round(p.probabilities, 9).tolist()
            for p in SubjectPosterior.objects.filter(subject__workflow_id=workflow_id)}
    counts = dict(Subject.objects.filter(workflow_id=workflow_id).values_list("id", "n_classifications"))
    return {"reliabilities": rel, "posteriors": post, "counts": counts}


def workflow_recompute(*, workflow_id: int) -> dict[str, Any]:
    """Throw the engine state away and replay every aggregated classification in its original order.

    Returns the differences between the state before and after (empty when the online
    state was exact). Retirement status is left alone; `workflow_rules_reapply` re-decides it.
    """
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update(no_key=True).get(pk=workflow_id)
        before = workflow_state_snapshot(workflow_id=workflow_id)
        Reliability.objects.filter(workflow=workflow).delete()
        SubjectPosterior.objects.filter(subject__workflow=workflow).delete()
        Subject.objects.filter(workflow=workflow).update(n_classifications=0)
        done = Classification.objects.filter(workflow=workflow, aggregation_seq__isnull=False)
        for start in range(0, done.count(), BATCH):
            batch = list(done.select_related("volunteer", "workflow_version")
                         .order_by("aggregation_seq")[start:start + BATCH])
            state = _load_state(workflow, batch)
            for classification in batch:
                _consume(state, classification)
            _save_state(state)
        after = workflow_state_snapshot(workflow_id=workflow_id)
    return {part: sorted(k for k in set(before[part]) | set(after[part])
                         if not np.allclose(before[part].get(k, np.nan), after[part].get(k, np.nan), atol=1e-7))
            for part in before}


def workflows_with_pending() -> list[int]:
    return list(Classification.objects.filter(aggregation_seq__isnull=True)
                .values_list("workflow_id", flat=True).distinct())
