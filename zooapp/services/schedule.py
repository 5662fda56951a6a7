"""When to retrain: a light module (no torch), so aggregation workers can ask cheaply."""
from __future__ import annotations

from django.db.models import Max

from zooapp.models import Classification, ModelVersion, Volunteer, Workflow


def workflow_needs_retraining(*, workflow_id: int) -> bool:
    workflow = Workflow.objects.get(pk=workflow_id)
    last = ModelVersion.objects.filter(workflow=workflow, kind="classifier").aggregate(t=Max("created_at"))["t"]
    new = Classification.objects.filter(workflow=workflow, volunteer__kind=Volunteer.Kind.HUMAN)
    if last is not None:
        new = new.filter(created_at__gt=last)
    return new.count() >= workflow.retrain_every


def workflows_due_for_training() -> list[int]:
    return [w for w in Workflow.objects.filter(active=True).values_list("pk", flat=True)
            if workflow_needs_retraining(workflow_id=w)]
