"""The platform side of the Bayesian engine: it feeds stored classifications to `aggregation`.

Every classification is consumed exactly once, in the order given by
``Classification.aggregation_seq``, under a lock on its workflow row. Because the
online SWAP update is order-dependent, that sequence is what makes the persisted
state reproducible: `workflow_recompute` replays the same order from scratch and
must land on the same numbers.

A batch costs a fixed number of queries whatever its size or the survey's (no
per-vote COUNT(*), no per-subject UPDATE), and rebuilds the box consensus only
of the subjects that got a new drawing view in it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction

from aggregation.boxes import consensus_for_images
from aggregation.contracts import EngineState, Records, annotations_to_records
from aggregation.online import (agent_skill, gold_evidence_weight, initial_agent_alpha, initial_log_posterior,
                                vote_update)
from aggregation.schema import TaskTree
from zooapp.models import (Classification, ConsensusBox, GoldAnswer, ModelVersion, Prediction, Reliability, Subject,
                           SubjectPosterior, Volunteer, Workflow, WorkflowVersion)
from zooapp.services.priorities import workflow_priorities_refresh
from zooapp.services.retirement import subjects_retire_if_due

BATCH = 500
QUEUED_KEY = "aggregation-queued:{}"
QUEUED_TTL = 10
TREE_CACHE_SIZE = 64
# What the engine reads of a pending classification; the rest of the row (user agent, times) stays in the database.
BATCH_FIELDS = ("id", "subject", "volunteer", "workflow_version", "annotations", "machine_confusion",
                "aggregation_seq", "volunteer__kind")

_TREES: OrderedDict[tuple, TaskTree] = OrderedDict()
_TREES_LOCK = threading.Lock()


def trees_for_versions(version_ids: Iterable[int]) -> dict[int, TaskTree]:
    """The parsed task trees of workflow versions, each parsed once per process.

    A version's tree is never edited (a change makes a new version), so the parse is
    cached; the key carries the version's creation time as well as its id, because a
    rolled-back transaction can hand the same id to another version.
    """
    ids = set(version_ids)
    stamps = dict(WorkflowVersion.objects.filter(pk__in=ids).values_list("pk", "created_at")) if ids else {}
    with _TREES_LOCK:
        found = {pk: _TREES.get((pk, at)) for pk, at in stamps.items()}
    missing = [pk for pk, tree in found.items() if tree is None]
    for version in WorkflowVersion.objects.filter(pk__in=missing).only("pk", "created_at", "tree"):
        found[version.pk] = _remember((version.pk, version.created_at), TaskTree.from_dict(version.tree))
    return found


def version_tree(version: WorkflowVersion) -> TaskTree:
    """The parsed tree of a version already loaded with its ``tree`` and ``created_at`` (cached, no query)."""
    key = (version.pk, version.created_at)
    with _TREES_LOCK:
        tree = _TREES.get(key)
    return tree if tree is not None else _remember(key, TaskTree.from_dict(version.tree))


def tree_for_version(version_id: int) -> TaskTree:
    """The parsed task tree of one workflow version (cached; see `trees_for_versions`)."""
    tree = trees_for_versions([version_id]).get(version_id)
    if tree is None:
        raise WorkflowVersion.DoesNotExist(f"no workflow version {version_id}")
    return tree


def _remember(key: tuple, tree: TaskTree) -> TaskTree:
    with _TREES_LOCK:
        _TREES[key] = tree
        while len(_TREES) > TREE_CACHE_SIZE:
            _TREES.popitem(last=False)
    return tree


@dataclass
class _Batch:
    """Rows touched by one batch, held in memory and written back once."""

    workflow: Workflow
    engine: EngineState
    trees: dict[int, TaskTree]
    reliabilities: dict[tuple[int, str], Reliability] = field(default_factory=dict)
    posteriors: dict[tuple[int, str], SubjectPosterior] = field(default_factory=dict)
    gold: dict[tuple[int, str], Any] = field(default_factory=dict)
    human_counts: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    boxed_subjects: set[int] = field(default_factory=set)

    def reliability(self, volunteer_id: int, question: str, n_classes: int) -> Reliability:
        key = (volunteer_id, question)
        if key not in self.reliabilities:
            alpha = initial_agent_alpha(n_classes, prior=self.engine.agent_prior_for(question))
            self.reliabilities[key] = Reliability(volunteer_id=volunteer_id, workflow=self.workflow, task=question,
                                                  alpha=alpha.tolist(), skill=agent_skill(alpha))
        return self.reliabilities[key]

    def posterior(self, subject_id: int, question: str, labels: list[str]) -> SubjectPosterior:
        key = (subject_id, question)
        if key not in self.posteriors:
            logp = initial_log_posterior(len(labels), prior=self.engine.class_prior_for(question))
            zeros = [0.0] * len(labels)
            self.posteriors[key] = SubjectPosterior(subject_id=subject_id, task=question, labels=labels,
                                                    log_posterior=logp.tolist(), vote_counts=list(zeros),
                                                    weighted_counts=list(zeros))
        return self.posteriors[key]


def _load_state(workflow: Workflow, batch: list[Classification]) -> _Batch:
    state = _Batch(workflow=workflow, engine=workflow.engine,
                   trees=trees_for_versions({c.workflow_version_id for c in batch}))
    volunteers = {c.volunteer_id for c in batch}
    subjects = {c.subject_id for c in batch}
    for rel in Reliability.objects.filter(workflow=workflow, volunteer_id__in=volunteers):
        state.reliabilities[(rel.volunteer_id, rel.task)] = rel
    for post in SubjectPosterior.objects.filter(subject_id__in=subjects):
        state.posteriors[(post.subject_id, post.task)] = post
    for gold in GoldAnswer.objects.filter(subject_id__in=subjects, subject__is_gold=True):
        state.gold[(gold.subject_id, gold.task)] = gold.value
    return state


def _consume(state: _Batch, classification: Classification) -> None:
    tree = state.trees[classification.workflow_version_id]
    human = classification.volunteer.kind == Volunteer.Kind.HUMAN
    if human:
        state.human_counts[classification.subject_id] += 1
    records = annotations_to_records(
        tree, [(classification.subject_id, classification.volunteer_id, classification.annotations)])
    if human and records.seen:  # boxes come from people; a machine's empty drawing task is not a view
        state.boxed_subjects.add(classification.subject_id)
    for question, votes in records.votes.items():
        labels = tree.tasks[question].labels
        for _, _, value in votes:
            _consume_vote(state, classification, question, labels, labels.index(value), human)
    for question, choices in records.choices.items():
        labels = tree.tasks[question].labels
        post = state.posterior(classification.subject_id, question, labels)
        for _, _, value in choices:
            post.vote_counts[labels.index(value)] += 1


def _consume_vote(state: _Batch, classification: Classification, question: str, labels: list[str],
                  label: int, human: bool) -> None:
    rel = state.reliability(classification.volunteer_id, question, len(labels))
    measured = (classification.machine_confusion or {}).get(question)
    if measured is not None:
        rel.alpha = measured  # a machine votes with the confusion measured on gold and retired subjects
    post = state.posterior(classification.subject_id, question, labels)
    gold_value = state.gold.get((classification.subject_id, question))
    gold = labels.index(gold_value) if gold_value in labels else None
    alpha, logp = vote_update(agent_alpha=np.asarray(rel.alpha), subject_log_posterior=np.asarray(post.log_posterior),
                              label=label, gold=gold, unsupervised_weight=state.engine.unsupervised_weight,
                              gold_weight=gold_evidence_weight(rel.n_gold))
    rel.alpha, rel.skill = alpha.tolist(), agent_skill(alpha)
    rel.n_votes += 1
    rel.n_gold += int(gold is not None)
    post.log_posterior = logp.tolist()
    if human:
        post.vote_counts[label] += 1
        post.weighted_counts[label] += rel.skill


def _save_state(state: _Batch) -> None:
    new_rel = [r for r in state.reliabilities.values() if r.pk is None]
    old_rel = [r for r in state.reliabilities.values() if r.pk is not None]
    Reliability.objects.bulk_create(new_rel)
    _update_rows(old_rel, ["alpha", "skill", "n_votes", "n_gold"])
    new_post = [p for p in state.posteriors.values() if p.pk is None]
    old_post = [p for p in state.posteriors.values() if p.pk is not None]
    SubjectPosterior.objects.bulk_create(new_post)
    _update_rows(old_post, ["log_posterior", "vote_counts", "weighted_counts"])
    _add_counts(state.workflow, state.human_counts)
    subjects_boxes_aggregate(workflow=state.workflow, subject_ids=state.boxed_subjects)


def _update_rows(rows: list[models.Model], field_names: list[str]) -> None:
    """Write ``field_names`` of saved rows of one model back by primary key, in one executemany.

    Django's ``bulk_update`` builds a CASE expression per row and field; on the small batches
    a live queue makes, that cost more than the engine's own update (profiled: 45% of a batch).
    Values go through each field's own database preparation, so JSON is adapted per backend.
    """
    if not rows:
        return
    meta = type(rows[0])._meta
    fields = [meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    sql = (f"UPDATE {quote(meta.db_table)} SET {', '.join(f'{quote(f.column)} = %s' for f in fields)} "
           f"WHERE {quote(meta.pk.column)} = %s")
    params = [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _add_counts(workflow: Workflow, counts: dict[int, int]) -> None:
    """Add the batch's human classifications to its subjects' counts (one UPDATE) and to the workflow's.

    The workflow's running count changes in memory only: the caller holds its row's lock and saves it.
    """
    if counts:  # an executemany, as in `_update_rows`: a CASE over the batch's subjects cost more to build
        column, table = (connection.ops.quote_name(name) for name in ("n_classifications", Subject._meta.db_table))
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {column} = {column} + %s WHERE id = %s",
                               [(n, pk) for pk, n in counts.items()])
    workflow.n_human_classifications += sum(counts.values())


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
                     .select_related("volunteer").only(*BATCH_FIELDS).order_by("id")[:limit])
        if not batch:
            return 0
        state = _load_state(workflow, batch)
        seq = workflow.aggregation_seq
        for classification in batch:
            _consume(state, classification)
            seq += 1
            classification.aggregation_seq = seq
        _save_state(state)
        _update_rows(batch, ["aggregation_seq"])
        workflow.aggregation_seq = seq
        workflow.save(update_fields=["aggregation_seq", "n_human_classifications"])
        changed = {c.subject_id for c in batch}
        subjects_retire_if_due(workflow=workflow, subject_ids=changed)
        workflow_priorities_refresh(workflow=workflow, subject_ids=changed)  # the queue follows the new posteriors
    return len(batch)


def workflow_aggregation_request(*, workflow_id: int) -> bool:
    """Queue an aggregation of the workflow unless one is already queued and not yet started.

    Called after every committed classification. Without this each classification queued
    its own task, and under load the workers spent their time on tasks that found nothing
    left to do. The marker is cleared when a run starts (`workflow_aggregate_all`), so work
    committed after that queues a new run; it expires after QUEUED_TTL seconds in case its
    message is lost, and `aggregate_sweep` catches anything else. A per-process cache
    (no CACHE_URL) cannot be seen by the workers, so then every classification queues a run,
    unless tasks run eagerly in this process (the simulator), whose in-process marker its one
    "worker" does see.
    """
    from zooapp import tasks  # tasks import this module

    key = QUEUED_KEY.format(workflow_id)
    shared = (not settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")  # web and workers see one marker
              or tasks.aggregate_workflow.app.conf.task_always_eager)
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


DETECTOR_AGENT = -1  # the serving detector's worker id in the box model (volunteer ids are positive)


def subjects_boxes_aggregate(*, workflow: Workflow, subject_ids: Iterable[int]) -> list[int]:
    """Rebuild the consensus boxes of ``subject_ids`` from every human view that reached a drawing question.

    A fixed number of queries and one pass of the box model for any number of subjects:
    the views' annotations are read as values (not model instances) in one query, the
    trees come from the per-version cache, the serving detector's boxes from one more
    query, and `consensus_for_images` scores all the images at once. A subject nobody has
    viewed on a drawing question keeps what it had. Returns the ids whose consensus was rebuilt.
    """
    ids = sorted(set(subject_ids))
    if not ids:
        return []
    records = _box_records(ids, _detector_boxes(ids) if workflow.machine_agent else {})
    if not records.seen:
        return []
    frames = records.box_frames()
    # Sorted views: each image's workers in the order the per-image consensus always used.
    consensus, risk = consensus_for_images(frames["boxes"], frames["seen"].sort_values(["task", "worker"]),
                                           worker_params=workflow.engine.box_params_frame())
    built = [int(pk) for pk in risk.index]
    ConsensusBox.objects.filter(subject_id__in=built).delete()
    ConsensusBox.objects.bulk_create([ConsensusBox(subject_id=int(row["task"]), **_box_fields(row))
                                      for row in consensus.to_dict("records")])
    _update_rows([Subject(pk=pk, box_risk=float(value)) for pk, value in zip(built, risk.to_numpy())], ["box_risk"])
    return built


def _box_records(subject_ids: list[int], detected: dict[int, list]) -> Records:
    """The subjects' human drawing views in one query, then the serving detector as one more viewer of each."""
    views = (Classification.objects.filter(subject_id__in=subject_ids, volunteer__kind=Volunteer.Kind.HUMAN)
             .order_by("id").values_list("workflow_version_id", "subject_id", "volunteer_id", "annotations"))
    views = list(views)
    trees = trees_for_versions({view[0] for view in views})
    records = Records()
    for version_id, subject_id, worker, annotations in views:
        annotations_to_records(trees[version_id], [(subject_id, worker, annotations)], into=records)
    for subject_id, boxes in detected.items():  # drawing nothing is the detector's answer too
        records.seen.append((subject_id, DETECTOR_AGENT))
        records.boxes.extend((subject_id, DETECTOR_AGENT, *map(float, b[:4])) for b in boxes)
    return records


def subject_boxes_aggregate(*, subject_id: int) -> None:
    """Rebuild one subject's consensus boxes (see `subjects_boxes_aggregate`)."""
    subject = Subject.objects.select_related("workflow").only("pk", "workflow").get(pk=subject_id)
    subjects_boxes_aggregate(workflow=subject.workflow, subject_ids=[subject_id])


def _detector_boxes(subject_ids: list[int]) -> dict[int, list]:
    """The serving detector's boxes per subject, ``[[x_min, y_min, x_max, y_max, score], ...]``."""
    rows = Prediction.objects.filter(subject_id__in=subject_ids, task="boxes", model_version__serving=True,
                                     model_version__kind=ModelVersion.Kind.DETECTOR, boxes__isnull=False)
    return dict(rows.values_list("subject_id", "boxes"))


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
    state was exact). The running counts are rebuilt too. Retirement status is left
    alone; `workflow_rules_reapply` re-decides it.
    """
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update(no_key=True).get(pk=workflow_id)
        before = workflow_state_snapshot(workflow_id=workflow_id)
        Reliability.objects.filter(workflow=workflow).delete()
        SubjectPosterior.objects.filter(subject__workflow=workflow).delete()
        Subject.objects.filter(workflow=workflow).update(n_classifications=0)
        workflow.n_human_classifications = 0
        done = (Classification.objects.filter(workflow=workflow, aggregation_seq__isnull=False)
                .select_related("volunteer").only(*BATCH_FIELDS).order_by("aggregation_seq"))
        last = None
        # Pages by the last sequence number seen (not by OFFSET), so each page costs the same.
        while batch := list((done if last is None else done.filter(aggregation_seq__gt=last))[:BATCH]):
            state = _load_state(workflow, batch)
            for classification in batch:
                _consume(state, classification)
            _save_state(state)
            last = batch[-1].aggregation_seq
        workflow.save(update_fields=["n_human_classifications"])
        workflow_priorities_refresh(workflow=workflow)  # the whole queue, from the recomputed posteriors
        after = workflow_state_snapshot(workflow_id=workflow_id)
    return {part: sorted(k for k in set(before[part]) | set(after[part])
                         if not np.allclose(before[part].get(k, np.nan), after[part].get(k, np.nan), atol=1e-7))
            for part in before}


def workflows_with_pending() -> list[int]:
    return list(Classification.objects.filter(aggregation_seq__isnull=True)
                .values_list("workflow_id", flat=True).distinct())
