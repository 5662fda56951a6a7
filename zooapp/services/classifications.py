"""Saving a volunteer's classification: validated, idempotent, acknowledged only once committed."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.query import RawQuerySet

from aggregation.schema import AnnotationError
from zooapp.access import volunteer_workflows
from zooapp.errors import ApplicationError, ValidationFailed
from zooapp.models import Classification, GoldAnswer, Subject, Volunteer, WorkflowVersion
from zooapp.selection import gold_retired
from zooapp.services.aggregation import version_tree, workflow_aggregation_request


class ClassificationRejected(ValidationFailed):
    """Bad input: the message says what to fix; nothing was stored."""


class AlreadyClassified(ClassificationRejected):
    pass


class IdempotencyKeyReused(ApplicationError):
    """The key was used before with a different body (422, as the IETF Idempotency-Key draft answers)."""

    status_code = 422


@dataclass(frozen=True)
class SaveResult:
    classification: Classification
    created: bool

    @property
    def subject_retired(self) -> bool:
        """Retired, as the volunteer sees it: gold retires from the queue after its share, like any subject."""
        subject = self.classification.subject
        return subject.is_retired or gold_retired(subject)


def classification_create(*, volunteer: Volunteer, subject_id: int, workflow_version_id: int,
                          annotations: list[dict[str, Any]], idempotency_key: uuid.UUID,
                          started_at: dt.datetime | None = None, finished_at: dt.datetime | None = None,
                          user_agent: str = "") -> SaveResult:
    """Validate and store one classification, then queue its aggregation after the commit.

    A retry with the same idempotency key returns the stored row (``created=False``)
    instead of counting the classification twice; the same key with a different body is refused
    (``IdempotencyKeyReused``), so a client never takes an old answer for its new one.
    """
    request = {"subject_id": subject_id, "workflow_version_id": workflow_version_id, "annotations": annotations,
               "started_at": started_at, "finished_at": finished_at}
    try:
        version, subject, clean = _validated(request)
    except ClassificationRejected:
        # A retry of a stored classification gets its row back even if the workflow has closed since. The key
        # is looked up only here and after a failed insert: most requests are new, and the lookup cost a query.
        previous = _by_key(idempotency_key)
        if previous is not None:
            return _replay(previous, volunteer=volunteer, request=request)
        raise
    return _store(volunteer=volunteer, subject=subject, version=version, annotations=clean,
                  idempotency_key=idempotency_key, started_at=started_at, finished_at=finished_at,
                  user_agent=user_agent[:300], request=request)


def _validated(request: dict[str, Any]) -> tuple[WorkflowVersion, Subject, list[dict[str, Any]]]:
    """The version, the subject and the cleaned annotations of a request, or `ClassificationRejected` saying why."""
    version = _first(WorkflowVersion.objects.raw(_VERSION_SQL, [request["workflow_version_id"]]))
    if version is None:
        raise ClassificationRejected(f"workflow version {request['workflow_version_id']} does not exist")
    if not volunteer_workflows().filter(pk=version.workflow_id).exists():
        workflow = version.workflow
        why = (f"is {workflow.get_status_display().lower()}" if workflow.status != workflow.Status.ACTIVE
               else "belongs to a project that is not open to volunteers")
        raise ClassificationRejected(f"workflow {workflow.pk} {why}, so it takes no classifications")
    subject_id, workflow_id = request["subject_id"], version.workflow_id
    subject = _first(Subject.objects.raw(_SUBJECT_SQL, [subject_id, workflow_id]))
    if subject is None:
        raise ClassificationRejected(f"subject {subject_id} does not exist in workflow {workflow_id}")
    try:
        clean = version_tree(version).validate(
            request["annotations"], image_width=subject.width, image_height=subject.height)
    except AnnotationError as exc:
        raise ClassificationRejected(str(exc)) from None
    if request["started_at"] and request["finished_at"] and request["finished_at"] < request["started_at"]:
        raise ClassificationRejected("finished_at is before started_at")
    return version, subject, clean


# The two primary-key lookups of every classification, in SQL (quoted as in `zooapp.selection`): the ORM took about
# 0.5 ms of CPU to build each, several times what the database took to answer (docs/BENCHMARKS.md, "The loop's CPU
# per classification, cut again"). The version's tree stays deferred: `version_tree` finds it in the per-process
# cache, and only a process that has not parsed this version yet loads it (one more query).
_VERSION_SQL = f'SELECT id, workflow_id, number, created_at FROM "{WorkflowVersion._meta.db_table}" WHERE id = %s'
_SUBJECT_SQL = f'SELECT * FROM "{Subject._meta.db_table}" WHERE id = %s AND workflow_id = %s'


def _first(rows: RawQuerySet) -> Any:
    """The first row of a raw lookup, or None."""
    return next(iter(rows), None)


def _by_key(idempotency_key: uuid.UUID) -> Classification | None:
    return (Classification.objects.select_related("subject__workflow", "workflow_version")
            .filter(idempotency_key=idempotency_key).first())


def _replay(previous: Classification, *, volunteer: Volunteer, request: dict[str, Any]) -> SaveResult:
    if previous.volunteer_id != volunteer.pk or not _same_request(previous, request):
        raise IdempotencyKeyReused("this idempotency key was already used with a different request; "
                                   "send a new key for a new classification")
    return SaveResult(classification=previous, created=False)


def _same_request(previous: Classification, request: dict[str, Any]) -> bool:
    """Whether a retry carries the body the stored row came from (annotations compared after validation)."""
    if (previous.subject_id, previous.workflow_version_id) != (request["subject_id"], request["workflow_version_id"]):
        return False
    if (previous.started_at, previous.finished_at) != (request["started_at"], request["finished_at"]):
        return False
    subject = previous.subject
    try:
        clean = version_tree(previous.workflow_version).validate(
            request["annotations"], image_width=subject.width, image_height=subject.height)
    except AnnotationError:
        return False
    return clean == previous.annotations


def _store(*, volunteer, subject, version, annotations, idempotency_key, started_at, finished_at,
           user_agent, request) -> SaveResult:
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
        previous = _by_key(idempotency_key)
        if previous is not None:
            return _replay(previous, volunteer=volunteer, request=request)
        raise AlreadyClassified(f"you have already classified subject {subject.pk}") from None
    return SaveResult(classification=classification, created=True)


def classification_feedback(*, classification: Classification) -> dict[str, Any]:
    """Gold feedback on the volunteer's own stored classification (the caller fetched it as theirs).

    It can only come after the answer is committed, for a subject this volunteer can never be served
    again (``SubjectView``, and one classification per subject); the API also rate-limits it per address.
    """
    gold = {g.task: g.value for g in GoldAnswer.objects.filter(subject_id=classification.subject_id)}
    if not classification.subject.is_gold or not gold:
        return {"gold": False}
    given = {a["task"]: a["value"] for a in classification.annotations if a["task"] in gold}
    return {"gold": True, "expected": gold, "given": given,
            "correct": all(given.get(task) == value for task, value in gold.items())}
