"""Read-side summaries for the admin pages and the volunteer's own stats."""
from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from zooapp.models import Classification, ModelVersion, Retirement, Subject, Volunteer, Workflow


def workflow_status(*, workflow: Workflow) -> dict[str, Any]:
    counts = Subject.objects.filter(workflow=workflow, is_gold=False).aggregate(
        total=Count("id"),
        retired=Count("id", filter=Q(status=Subject.Status.RETIRED)),
        untouched=Count("id", filter=Q(status=Subject.Status.ACTIVE, n_classifications=0)),
    )
    counts["active"] = counts["total"] - counts["retired"] - counts["untouched"]
    latest = {kind: ModelVersion.objects.filter(workflow=workflow, kind=kind).order_by("-number").first()
              for kind in ModelVersion.Kind.values}
    pending = Classification.objects.filter(workflow=workflow, aggregation_seq__isnull=True).count()
    reasons = dict(Retirement.objects.filter(subject__workflow=workflow, action=Retirement.Action.RETIRE)
                   .values_list("reason").annotate(n=Count("id")))
    return {"workflow": workflow, "counts": counts, "gold": Subject.objects.filter(workflow=workflow, is_gold=True).count(),
            "classifications": Classification.objects.filter(workflow=workflow).count(),
            "pending_aggregation": pending, "latest_models": latest, "retirement_reasons": reasons}


def volunteer_stats(*, volunteer: Volunteer) -> dict[str, Any]:
    mine = Classification.objects.filter(volunteer=volunteer)
    helped = Subject.objects.filter(classifications__volunteer=volunteer, status=Subject.Status.RETIRED).distinct()
    return {"volunteer": volunteer, "n_classifications": mine.count(), "n_retired_helped": helped.count(),
            "favourites": list(volunteer.favourites.select_related("subject").order_by("-created_at")[:50]),
            "recent": list(mine.select_related("subject").order_by("-id")[:10])}
