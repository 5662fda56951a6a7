"""Projects and workflows: creation, gold answers."""
from __future__ import annotations

import csv
from pathlib import Path

from django.db import transaction

from aggregation.schema import TaskTree
from zooapp.models import GoldAnswer, Project, Subject, Workflow, WorkflowVersion


def workflow_create(*, project: Project, name: str, tree: dict, **settings) -> Workflow:
    """A workflow and its first version; the tree is checked before anything is stored."""
    TaskTree.from_dict(tree)
    with transaction.atomic():
        workflow = Workflow.objects.create(project=project, name=name, **settings)
        WorkflowVersion.objects.create(workflow=workflow, number=1, tree=tree)
    return workflow


def gold_answers_load(*, workflow: Workflow, path: Path) -> int:
    """Gold answers uploaded apart from the subjects: CSV with id (external id), task, value."""
    from zooapp.services.subjects import IngestError

    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or {"id", "task", "value"} - set(rows[0]):
        raise IngestError(f"{path.name} needs columns id, task, value and at least one row")
    tree = TaskTree.from_dict(workflow.current_version.tree)
    with transaction.atomic():
        for line, row in enumerate(rows, start=2):
            task = tree.tasks.get(row["task"])
            if task is None or row["value"] not in task.labels:
                raise IngestError(f"{path.name} line {line}: {row['task']}={row['value']!r} is not in the workflow")
            subject = Subject.objects.filter(workflow=workflow, external_id=row["id"]).first()
            if subject is None:
                raise IngestError(f"{path.name} line {line}: no subject {row['id']!r} in this workflow")
            GoldAnswer.objects.update_or_create(subject=subject, task=row["task"], defaults={"value": row["value"]})
            if not subject.is_gold:
                subject.is_gold = True
                subject.save(update_fields=["is_gold"])
    return len(rows)
