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

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Subquery, prefetch_related_objects
from django.db.models.functions import Coalesce
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
    n_done = Classification.objects.filter(workflow=workflow, volunteer=volunteer).count() if volunteer else 0
    want_gold = sum(rng.random() < gold_rate(workflow=workflow, n_done=n_done + i) for i in range(n))
    limit = n + CANDIDATES  # spare candidates for those a concurrent request claims first
    served = []
    if want_gold:  # most requests want none: skip the gold query entirely
        served = _claim(volunteer, _candidates(workflow, volunteer, gold=True, rng=rng, limit=limit,
                                               exclude_ids=exclude_ids), want_gold)
    served += _claim(volunteer, _candidates(workflow, volunteer, gold=False, rng=rng, limit=limit,
                                            exclude_ids=exclude_ids), n - len(served))
    if len(served) < n:  # no regular subjects left: fill from the gold pool
        served += _claim(volunteer, _candidates(workflow, volunteer, gold=True, rng=rng, limit=limit,
                                                exclude_ids=exclude_ids), n - len(served), served)
    if not served:
        return QueueResult(subjects=[], finished=True, message=FINISHED)
    prefetch_related_objects(served, "frames")  # only for what is served: the spare candidates need no frames
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
    # ``is_gold__in``, not ``is_gold=``: Django writes the latter as ``NOT is_gold``, which SQLite cannot match to
    # the ``subject_queue`` index, so it read and sorted every active subject (and ran the in-flight subquery for
    # each) per request. An IN on one value is an equality to its planner: the index gives the order and the LIMIT.
    qs = Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE, is_gold__in=[gold])
    if exclude_ids:
        qs = qs.exclude(pk__in=list(exclude_ids))
    if volunteer is not None:  # served before, or classified before a first write made the volunteer
        qs = qs.exclude(pk__in=SubjectView.objects.filter(volunteer=volunteer).values("subject_id")).exclude(
            pk__in=Classification.objects.filter(volunteer=volunteer).values("subject_id"))
    if gold:
        # Gold leaves the queue after its share of classifications, as a regular subject retires;
        # a random one among the rest spreads the load.
        qs = qs.filter(n_classifications__lt=workflow.rules.max_classifications)
        ids = list(qs.values_list("pk", flat=True)[:10 * limit])
        picked = rng.sample(ids, min(len(ids), limit))
        by_id = {s.pk: s for s in qs.filter(pk__in=picked)}
        return [by_id[pk] for pk in picked if pk in by_id]
    # The in-flight count rides along as a subquery: PostgreSQL evaluates it only for the rows under the LIMIT.
    ranked = list(qs.annotate(in_flight=Coalesce(Subquery(
        _views_in_flight().filter(subject_id=OuterRef("pk")).values("subject_id").annotate(n=Count("id")).values("n")),
        0)).order_by("-priority", "id")[:limit])
    return _spread(workflow, ranked)


def _spread(workflow: Workflow, ranked: list[Subject]) -> list[Subject]:
    """``ranked`` (by priority, each with its ``in_flight``) with the subjects that still need another
    volunteer first, in priority order; then the full ones, least over their need first."""
    floor = workflow.rules.min_classifications

    def overload(subject: Subject) -> int:  # 0 while it needs more volunteers than it has in flight
        return max(0, subject.in_flight - max(1, floor - subject.n_classifications) + 1)

    return sorted(ranked, key=overload)  # a stable sort: priority order within each level


def _views_in_flight():
    """Views served in the last ``IN_FLIGHT_SECONDS`` whose classification is not aggregated yet."""
    since = timezone.now() - timedelta(seconds=IN_FLIGHT_SECONDS)
    aggregated = Classification.objects.filter(subject_id=OuterRef("subject_id"), volunteer_id=OuterRef("volunteer_id"),
                                               aggregation_seq__isnull=False)
    return SubjectView.objects.filter(created_at__gte=since).exclude(Exists(aggregated))


def subjects_in_flight(*, subject_ids: list[int]) -> dict[int, int]:
    """Volunteers who have each subject in flight (see the module docstring); subjects with none are left out."""
    rows = _views_in_flight().filter(subject_id__in=subject_ids).values("subject_id").annotate(n=Count("id"))
    return {row["subject_id"]: row["n"] for row in rows}


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
        try:
            with transaction.atomic():
                SubjectView.objects.create(volunteer=volunteer, subject=subject)
        except IntegrityError:
            continue  # a concurrent request served it to this volunteer first
        claimed.append(subject)
    return claimed
