"""The volunteer's queue: which subjects to show next.

Subjects are served by descending priority (set by the engine's uncertainty and the
models' mutual information), mixed with gold subjects at a rate that decays as the
volunteer classifies more. A served subject is recorded in `SubjectView`; the unique
constraint there is what guarantees that concurrent requests never hand one
volunteer the same subject twice.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from zooapp.models import Classification, Subject, SubjectView, Volunteer, Workflow

FINISHED = "You have classified every galaxy that needs you in this workflow. Thank you! Check back soon."
CANDIDATES = 20


@dataclass(frozen=True)
class QueueResult:
    subjects: list[Subject]
    finished: bool
    message: str = ""


def gold_rate(*, workflow: Workflow, n_done: int) -> float:
    """Share of gold subjects for a volunteer who has made ``n_done`` classifications."""
    decay = 0.5 ** (n_done / max(workflow.gold_rate_halflife, 1))
    return workflow.gold_rate_end + (workflow.gold_rate_start - workflow.gold_rate_end) * decay


def queue_next(*, workflow: Workflow, volunteer: Volunteer, n: int = 1, rng: random.Random | None = None) -> QueueResult:
    rng = rng or random.Random()
    n_done = Classification.objects.filter(workflow=workflow, volunteer=volunteer).count()
    want_gold = sum(rng.random() < gold_rate(workflow=workflow, n_done=n_done + i) for i in range(n))
    limit = n + CANDIDATES  # spare candidates for those a concurrent request claims first
    served = []
    if want_gold:  # most requests want none: skip the gold query entirely
        served = _claim(volunteer, _candidates(workflow, volunteer, gold=True, rng=rng, limit=limit), want_gold)
    served += _claim(volunteer, _candidates(workflow, volunteer, gold=False, rng=rng, limit=limit),
                     n - len(served))
    if len(served) < n:  # no regular subjects left: fill from the gold pool
        served += _claim(volunteer, _candidates(workflow, volunteer, gold=True, rng=rng, limit=limit),
                         n - len(served))
    if not served:
        return QueueResult(subjects=[], finished=True, message=FINISHED)
    return QueueResult(subjects=served, finished=False)


def queue_resume(*, workflow: Workflow, volunteer: Volunteer) -> QueueResult:
    """The subject on the volunteer's screen if they reload: the last one served and not yet classified."""
    pending = (SubjectView.objects.filter(volunteer=volunteer, subject__workflow=workflow,
                                          subject__status=Subject.Status.ACTIVE)
               .exclude(subject__classifications__volunteer=volunteer)
               .select_related("subject").order_by("-created_at", "-id").first())
    if pending is not None:
        return QueueResult(subjects=[pending.subject], finished=False)
    return queue_next(workflow=workflow, volunteer=volunteer, n=1)


def _candidates(workflow: Workflow, volunteer: Volunteer, *, gold: bool, rng: random.Random,
                limit: int) -> list[Subject]:
    seen = SubjectView.objects.filter(volunteer=volunteer).values("subject_id")
    qs = (Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE, is_gold=gold)
          .exclude(pk__in=seen).prefetch_related("frames"))
    if gold:
        # Gold subjects are never retired and are shown to everyone: a random one spreads the load.
        ids = list(qs.values_list("pk", flat=True)[:10 * limit])
        picked = rng.sample(ids, min(len(ids), limit))
        by_id = {s.pk: s for s in qs.filter(pk__in=picked)}
        return [by_id[pk] for pk in picked if pk in by_id]
    return list(qs.order_by("-priority", "id")[:limit])


def _claim(volunteer: Volunteer, candidates: list[Subject], n: int) -> list[Subject]:
    claimed: list[Subject] = []
    for subject in candidates:
        if len(claimed) >= n:
            break
        try:
            with transaction.atomic():
                SubjectView.objects.create(volunteer=volunteer, subject=subject)
        except IntegrityError:
            continue  # a concurrent request served it to this volunteer first
        claimed.append(subject)
    return claimed
