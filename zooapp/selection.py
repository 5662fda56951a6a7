"""The volunteer's queue: which subjects to show next.

Subjects are served by descending priority (set by the engine's uncertainty and the
models' mutual information), mixed with gold subjects at a rate that decays as the
volunteer classifies more. A served subject is recorded in `SubjectView`; the unique
constraint there is what guarantees that concurrent requests never hand one
volunteer the same subject twice.

Gold must not stand out: its candidates are drawn at random like the rest, and a gold
subject leaves the queue (retires, from the volunteers' view) once it has as many
classifications as the workflow ever asks of a subject (``gold_retired``). A visitor who
has never written anything gets subjects without a `SubjectView`, so reads create no rows;
a signed cookie remembers the subject on their screen instead (``zooapp.visitor``).

Concurrent volunteers are spread over the top of the queue: a subject is *in flight* for each
volunteer served it in the last ``IN_FLIGHT_SECONDS`` whose classification of it has not yet been
aggregated (still on screen, or waiting for the aggregation batch). A subject is handed on only while
fewer volunteers have it in flight than it surely still needs (``min_classifications`` less those
aggregated, at least one); otherwise the next subject down the queue goes first. Without that, every
volunteer of one aggregation batch got the same top galaxy, and the extra votes were wasted effort.
When every candidate is full the least-loaded is served, so nobody is told "finished" early.
"""
from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import prefetch_related_objects
from django.utils import timezone

from zooapp.models import Classification, Subject, SubjectView, Volunteer, Workflow

FINISHED = "You have classified every galaxy that needs you in this workflow. Thank you! Check back soon."
CANDIDATES = 20
IN_FLIGHT_SECONDS = 300  # how long a served, unclassified view holds its place (a classification takes ~1 min)


@dataclass(frozen=True)
class QueueResult:
    subjects: list[Subject]
    finished: bool
    message: str = ""


def gold_rate(*, workflow: Workflow, n_done: int) -> float:
    """Share of gold subjects for a volunteer who has made ``n_done`` classifications."""
    decay = 0.5 ** (n_done / max(workflow.gold_rate_halflife, 1))
    return workflow.gold_rate_end + (workflow.gold_rate_start - workflow.gold_rate_end) * decay


def gold_retired(subject: Subject) -> bool:
    """Whether a gold subject has had its share: the most classifications a regular subject could get."""
    return subject.is_gold and subject.n_classifications >= subject.workflow.rules.max_classifications


def queue_next(*, workflow: Workflow, volunteer: Volunteer | None, n: int = 1,
               rng: random.Random | None = None, exclude_ids: Collection[int] = ()) -> QueueResult:
    """Up to ``n`` subjects for the volunteer (None: a visitor who has not classified yet, nothing recorded).

    ``exclude_ids``: subjects not to serve, e.g. those a visitor skipped (their cookie's list, `zooapp.visitor`).
    """
    rng = rng or random.Random()
    n_done = _n_classified(workflow, volunteer) if volunteer else 0
    want_gold = sum(rng.random() < gold_rate(workflow=workflow, n_done=n_done + i) for i in range(n))
    limit = n + CANDIDATES  # spare candidates for those a concurrent request claims first
    served = []
    if want_gold:  # most requests want none: skip the gold query entirely
        served = _claim(volunteer, _candidates(workflow, volunteer, gold=True, rng=rng, limit=limit,
                                               exclude_ids=exclude_ids), want_gold)
    if len(served) < n:
        served += _claim(volunteer, _candidates(workflow, volunteer, gold=False, rng=rng, limit=limit,
                                                exclude_ids=exclude_ids), n - len(served))
    if len(served) < n:  # no regular subjects left: fill from the gold pool
        served += _claim(volunteer, _candidates(workflow, volunteer, gold=True, rng=rng, limit=limit,
                                                exclude_ids=exclude_ids), n - len(served), served)
    if not served:
        return QueueResult(subjects=[], finished=True, message=FINISHED)
    if len(served) > 1:  # one query for all their frames; for one subject, reading its frames is one query anyway
        prefetch_related_objects(served, "frames")
    return QueueResult(subjects=served, finished=False)


def queue_record_view(*, volunteer: Volunteer, subject: Subject) -> None:
    """Record a subject the volunteer acted on as served: a visitor's first write (a favourite)
    comes for the subject on screen, which no `SubjectView` recorded while they were still anonymous."""
    SubjectView.objects.get_or_create(volunteer=volunteer, subject=subject)


def queue_resume(*, workflow: Workflow, volunteer: Volunteer | None, on_screen: int | None = None,
                 exclude_ids: Collection[int] = ()) -> QueueResult:
    """The subject on the volunteer's screen if they reload: the last one served and not yet classified.

    A visitor who has not written anything has no `SubjectView`; ``on_screen`` is the subject
    their cookie remembers (``zooapp.visitor``), shown again while it is still active here.
    """
    if volunteer is None:
        shown = (Subject.objects.filter(pk=on_screen, workflow=workflow, status=Subject.Status.ACTIVE)
                 .prefetch_related("frames").first() if on_screen and on_screen not in exclude_ids else None)
        if shown is not None:
            return QueueResult(subjects=[shown], finished=False)
        return queue_next(workflow=workflow, volunteer=None, n=1, exclude_ids=exclude_ids)
    pending = (SubjectView.objects.filter(volunteer=volunteer, subject__workflow=workflow,
                                          subject__status=Subject.Status.ACTIVE)
               .exclude(subject__classifications__volunteer=volunteer)
               .select_related("subject").order_by("-created_at", "-id").first())
    if pending is not None:
        return QueueResult(subjects=[pending.subject], finished=False)
    return queue_next(workflow=workflow, volunteer=volunteer, n=1)


def _candidates(workflow: Workflow, volunteer: Volunteer | None, *, gold: bool, rng: random.Random,
                limit: int, exclude_ids: Collection[int] = ()) -> list[Subject]:
    """Up to ``limit`` subjects this volunteer has not had, best first: regular ones by priority and spread over
    concurrent volunteers, or gold ones at random.

    Written in SQL because this is the platform's hottest query, asked once per served subject: Django took 3 ms
    of CPU to compile its ORM form, 30 times the 0.1 ms SQLite took to run it (docs/BENCHMARKS.md, "The hot
    path"). ``is_gold = %s`` is an equality, so SQLite reads the ``subject_queue`` index in priority order and
    stops at the LIMIT; the in-flight count (see the module docstring) is computed only for those rows.
    """
    unseen, unseen_params = _unseen(volunteer, exclude_ids)
    if not gold:
        sql = (f"SELECT s.*, {_IN_FLIGHT_SQL} AS in_flight FROM {_SUBJECTS} s WHERE s.workflow_id = %s "
               f"AND s.status = %s AND s.is_gold = %s {unseen} ORDER BY s.priority DESC, s.id LIMIT %s")
        params = [_in_flight_since(), workflow.pk, Subject.Status.ACTIVE.value, False, *unseen_params, limit]
        return _spread(workflow, list(Subject.objects.raw(sql, params)))
    # Gold leaves the queue after its share of classifications, as a regular subject retires;
    # a random one among the rest spreads the load.
    sql = (f"SELECT s.* FROM {_SUBJECTS} s WHERE s.workflow_id = %s AND s.status = %s AND s.is_gold = %s "
           f"AND s.n_classifications < %s {unseen} ORDER BY s.priority DESC, s.id LIMIT %s")
    pool = list(Subject.objects.raw(sql, [workflow.pk, Subject.Status.ACTIVE.value, True,
                                          workflow.rules.max_classifications, *unseen_params, 10 * limit]))
    return rng.sample(pool, min(len(pool), limit))


def _n_classified(workflow: Workflow, volunteer: Volunteer) -> int:
    """How many classifications the volunteer has made in the workflow (in SQL, as `_candidates`: the ORM's
    COUNT took 0.7 ms of CPU to build, the database 0.1 ms to answer)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {_CLASSIFICATIONS} WHERE workflow_id = %s AND volunteer_id = %s",
                       [workflow.pk, volunteer.pk])
        return cursor.fetchone()[0]


def _unseen(volunteer: Volunteer | None, exclude_ids: Collection[int]) -> tuple[str, list[int]]:
    """SQL conditions (and their parameters) leaving out what the volunteer was served or classified before
    (a visitor's first write made them a volunteer after they classified), and ``exclude_ids``."""
    sql, params = [], []
    if volunteer is not None:
        sql.append(f"AND s.id NOT IN (SELECT subject_id FROM {_VIEWS} WHERE volunteer_id = %s) "
                   f"AND s.id NOT IN (SELECT subject_id FROM {_CLASSIFICATIONS} WHERE volunteer_id = %s)")
        params += [volunteer.pk, volunteer.pk]
    if exclude_ids:
        sql.append(f"AND s.id NOT IN ({', '.join(['%s'] * len(exclude_ids))})")
        params += list(exclude_ids)
    return " ".join(sql), params


# Standard SQL quoting, as Django writes them on SQLite and PostgreSQL alike.
_SUBJECTS, _VIEWS, _CLASSIFICATIONS = (f'"{model._meta.db_table}"' for model in (Subject, SubjectView, Classification))
# Views of subject ``s`` served since %s whose classification is not aggregated yet (one home for "in flight").
_IN_FLIGHT_SQL = (
    f"(SELECT COUNT(*) FROM {_VIEWS} v WHERE v.subject_id = s.id AND v.created_at >= %s "
    f"AND NOT EXISTS (SELECT 1 FROM {_CLASSIFICATIONS} c WHERE c.subject_id = v.subject_id "
    f"AND c.volunteer_id = v.volunteer_id AND c.aggregation_seq IS NOT NULL))")


def _spread(workflow: Workflow, ranked: list[Subject]) -> list[Subject]:
    """``ranked`` (by priority, each with its ``in_flight``) with the subjects that still need another
    volunteer first, in priority order; then the full ones, least over their need first."""
    floor = workflow.rules.min_classifications

    def overload(subject: Subject) -> int:  # 0 while it needs more volunteers than it has in flight
        return max(0, subject.in_flight - max(1, floor - subject.n_classifications) + 1)

    return sorted(ranked, key=overload)  # a stable sort: priority order within each level


def subjects_in_flight(*, subject_ids: list[int]) -> dict[int, int]:
    """Volunteers who have each subject in flight (see the module docstring); subjects with none are left out."""
    if not subject_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT s.id, {_IN_FLIGHT_SQL} FROM {_SUBJECTS} s "
                       f"WHERE s.id IN ({', '.join(['%s'] * len(subject_ids))})", [_in_flight_since(), *subject_ids])
        return {pk: n for pk, n in cursor.fetchall() if n}


def _in_flight_since():
    """The oldest view still in flight, as the database stores a datetime (the parameter of ``_IN_FLIGHT_SQL``)."""
    return connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(seconds=IN_FLIGHT_SECONDS))


def _claim(volunteer: Volunteer | None, candidates: list[Subject], n: int,
           served: list[Subject] = ()) -> list[Subject]:
    taken = {s.pk for s in served}
    claimed: list[Subject] = []
    for subject in candidates:
        if len(claimed) >= n:
            break
        if volunteer is None:  # nothing to record for a visitor who has not written anything
            if subject.pk not in taken:
                claimed.append(subject)
            continue
        if _view_record(volunteer, subject):
            claimed.append(subject)
    return claimed


def _view_record(volunteer: Volunteer, subject: Subject) -> bool:
    """Record ``subject`` as served to ``volunteer``; False if it was already (a concurrent request served it first).

    The unique constraint decides, as it did through ``SubjectView.objects.create`` in a savepoint. In SQL, with
    ``ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL alike): no savepoint, and no ORM insert to build per claim.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {_VIEWS} (volunteer_id, subject_id, created_at) VALUES (%s, %s, %s) "
                       f"ON CONFLICT DO NOTHING",
                       [volunteer.pk, subject.pk, connection.ops.adapt_datetimefield_value(timezone.now())])
        return cursor.rowcount == 1
