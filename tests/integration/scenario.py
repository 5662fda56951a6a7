"""Steps the reliability tests run inside the stack's environment, as a separate process.

    python -m tests.integration.scenario seed --subjects 3 --rules '{"min_classifications": 50}'
    python -m tests.integration.scenario backlog --workflow 1 --volunteers 40
    python -m tests.integration.scenario verify --workflow 1

Each prints one JSON object on its last line. `backlog` goes through the same
service as the API, so every classification queues its aggregation on the broker.
"""
from __future__ import annotations

import argparse
import json
import os
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zooapp.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db.models import Count, Max  # noqa: E402

from tests.conftest import annotations_for, make_workflow  # noqa: E402
from zooapp.models import Classification, Retirement, Subject, Volunteer, Workflow  # noqa: E402
from zooapp.services.aggregation import workflow_recompute  # noqa: E402
from zooapp.services.classifications import classification_create  # noqa: E402


def seed(*, subjects: int, rules: dict) -> dict:
    owner = get_user_model().objects.create(username=f"owner-{uuid.uuid4().hex[:6]}", is_superuser=True)
    workflow = make_workflow(owner=owner, n_subjects=subjects, n_gold=0, rules=rules)
    Workflow.objects.filter(pk=workflow.pk).update(gold_rate_start=0, gold_rate_end=0, retrain_every=10**6)
    return {"workflow": workflow.pk, "version": workflow.current_version.pk,
            "subjects": list(workflow.subjects.order_by("id").values_list("id", flat=True))}


def backlog(*, workflow_id: int, volunteers: int) -> dict:
    """Every new volunteer classifies every subject: answers alternate so the posteriors move both ways."""
    workflow = Workflow.objects.get(pk=workflow_id)
    version = workflow.current_version
    n = 0
    for i in range(volunteers):
        volunteer = Volunteer.objects.create(name=f"backlog-{uuid.uuid4().hex[:8]}")
        for subject in workflow.subjects.order_by("id"):
            answer = ("smooth", "featured", "artifact")[(i + subject.pk) % 3]
            classification_create(volunteer=volunteer, subject_id=subject.pk, workflow_version_id=version.pk,
                                  annotations=annotations_for(answer), idempotency_key=uuid.uuid4())
            n += 1
    return {"created": n}


def verify(*, workflow_id: int, recompute: bool) -> dict:
    """Counts that must agree when nothing was lost or counted twice, and the recompute difference."""
    rows = Classification.objects.filter(workflow_id=workflow_id)
    aggregated = rows.filter(aggregation_seq__isnull=False)
    subjects = Subject.objects.filter(workflow_id=workflow_id)
    out = {
        "classifications": rows.count(),
        "pending": rows.filter(aggregation_seq__isnull=True).count(),
        "distinct_seq": aggregated.values("aggregation_seq").distinct().count(),
        "max_seq": aggregated.aggregate(m=Max("aggregation_seq"))["m"] or 0,
        "workflow_seq": Workflow.objects.get(pk=workflow_id).aggregation_seq,
        "counted": sum(subjects.values_list("n_classifications", flat=True)),
        "retired": subjects.filter(status=Subject.Status.RETIRED).count(),
        "most_retirements_of_one_subject": max(
            Retirement.objects.filter(subject__workflow_id=workflow_id, action="retire")
            .values("subject").annotate(n=Count("id")).values_list("n", flat=True), default=0),
    }
    if recompute:
        out["recompute_diff"] = workflow_recompute(workflow_id=workflow_id)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["seed", "backlog", "verify"])
    parser.add_argument("--workflow", type=int)
    parser.add_argument("--subjects", type=int, default=3)
    parser.add_argument("--volunteers", type=int, default=10)
    parser.add_argument("--rules", type=json.loads, default={})
    parser.add_argument("--recompute", action="store_true")
    args = parser.parse_args()
    if args.step == "seed":
        result = seed(subjects=args.subjects, rules=args.rules)
    elif args.step == "backlog":
        result = backlog(workflow_id=args.workflow, volunteers=args.volunteers)
    else:
        result = verify(workflow_id=args.workflow, recompute=args.recompute)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
