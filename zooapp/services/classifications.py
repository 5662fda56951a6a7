"""Saving a volunteer's classification: validated, idempotent, acknowledged only once committed."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from aggregation.schema import AnnotationError, TaskTree
from zooapp.models import Classification, GoldAnswer, Subject, Volunteer, WorkflowVersion
from zooapp.services.aggregation import workflow_aggregation_request


class ClassificationRejected(ValueError):
    """Bad input: the message says what to fix; nothing was stored."""


class AlreadyClassified(ClassificationRejected):
    pass


@dataclass(frozen=True)
class SaveResult:
    classification: Classification
    created: bool

    @property
    def subject_retired(self) -> bool:
        return self.classification.subject.is_retired


def classification_create(*, volunteer: Volunteer, subject_id: int, workflow_version_id: int,
                          annotations: list[dict[str, Any]], idempotency_key: uuid.UUID,
                          started_at: dt.datetime | None = None, finished_at: dt.datetime | None = None,
                          user_agent: str = "") -> SaveResult:
    """Validate and store one classification, then queue its aggregation after the commit.

    A retry with the same idempotency key returns the stored row (``created=False``)
    instead of counting the classification twice.
    """
    previous = Classification.objects.select_related("subject").filter(idempotency_key=idempotency_key).first()
    if previous is not None:
        return _replay(previous, volunteer=volunteer, subject_id=subject_id)
    version = WorkflowVersion.objects.select_related("workflow").filter(pk=workflow_version_id).first()
    if version is None:
        raise ClassificationRejected(f"workflow version {workflow_version_id} does not exist")
    subject = Subject.objects.filter(pk=subject_id, workflow_id=version.workflow_id).first()
    if subject is None:
        raise ClassificationRejected(f"subject {subject_id} does not exist in workflow {version.workflow_id}")
    try:
        clean = TaskTree.from_dict(version.tree).validate(
            annotations, image_width=subject.width, image_height=subject.height)
    except AnnotationError as exc:
        raise ClassificationRejected(str(exc)) from None
    if started_at and finished_at and finished_at < started_at:
        raise ClassificationRejected("finished_at is before started_at")
    return _store(volunteer=volunteer, subject=subject, version=version, annotations=clean,
                  idempotency_key=idempotency_key, started_at=started_at, finished_at=finished_at,
                  user_agent=user_agent[:300])


def _replay(previous: Classification, *, volunteer: Volunteer, subject_id: int) -> SaveResult:
    if previous.volunteer_id != volunteer.pk or previous.subject_id != subject_id:
        raise ClassificationRejected("this idempotency key was already used for another classification")
    return SaveResult(classification=previous, created=False)


def _store(*, volunteer, subject, version, annotations, idempotency_key, started_at, finished_at,
           user_agent) -> SaveResult:
    try:
        with transaction.atomic():
            classification = Classification.objects.create(
                workflow_id=version.workflow_id, workflow_version=version, subject=subject, volunteer=volunteer,
                annotations=annotations, idempotency_key=idempotency_key, started_at=started_at,
                finished_at=finished_at, user_agent=user_agent)
            # robust: the row is committed, so a broker outage must not turn the answer into an error;
            # the periodic aggregate_sweep queues whatever this message would have.
            transaction.on_commit(lambda: workflow_aggregation_request(workflow_id=version.workflow_id), robust=True)
    except IntegrityError:
        # Two racing retries of one key, or a second classification of the same subject.
        previous = Classification.objects.select_related("subject").filter(idempotency_key=idempotency_key).first()
        if previous is not None:
            return _replay(previous, volunteer=volunteer, subject_id=subject.pk)
        raise AlreadyClassified(f"you have already classified subject {subject.pk}") from None
    return SaveResult(classification=classification, created=True)


def classification_feedback(*, classification: Classification) -> dict[str, Any]:
    """Gold feedback, available only once the classification is stored."""
    gold = {g.task: g.value for g in GoldAnswer.objects.filter(subject_id=classification.subject_id)}
    if not classification.subject.is_gold or not gold:
        return {"gold": False}
    given = {a["task"]: a["value"] for a in classification.annotations if a["task"] in gold}
    return {"gold": True, "expected": gold, "given": given,
            "correct": all(given.get(task) == value for task, value in gold.items())}
