"""Projects and workflows: creation, roles, visibility, gold answers."""
from __future__ import annotations

import csv
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from aggregation.schema import TaskTree
from zooapp.access import role_check
from zooapp.errors import ValidationFailed
from zooapp.models import GoldAnswer, Membership, Project, Subject, Workflow, WorkflowVersion


def project_create(*, owner, name: str, description: str = "",
                   visibility: str = Project.Visibility.PRIVATE) -> Project:
    """A project owned by ``owner`` (also listed as its owner member), private unless told otherwise."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed("a project needs a name of 1 to 200 characters")
    _visibility_check(visibility)
    base = slugify(name)[:40] or "project"
    slug, n = base, 1
    while Project.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    with transaction.atomic():
        project = Project.objects.create(name=name, slug=slug, description=description, owner=owner,
                                         visibility=visibility)
        Membership.objects.create(project=project, user=owner, role=Membership.Role.OWNER)
    return project


def _visibility_check(visibility: str) -> None:
    if visibility not in Project.Visibility.values:
        raise ValidationFailed(f"unknown visibility {visibility!r}; choose one of {', '.join(Project.Visibility.values)}")


def project_visibility_set(*, project: Project, visibility: str) -> Project:
    """Private (the team only), beta (anyone with the link) or public (listed)."""
    _visibility_check(visibility)
    project.visibility = visibility
    project.save(update_fields=["visibility"])
    return project


def membership_set(*, project: Project, username: str, role: str) -> Membership:
    """Give ``username`` the ``role`` on the project (replacing any role they had there)."""
    role_check(role)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationFailed(f"no user called {username!r}")
    if user.pk == project.owner_id and role != Membership.Role.OWNER:
        raise ValidationFailed("the project's owner stays its owner; make someone else an owner first")
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


def membership_remove(*, project: Project, username: str) -> None:
    """Take away ``username``'s role on the project; the owner cannot be removed."""
    membership = Membership.objects.filter(project=project, user__username=username).first()
    if membership is None:
        raise ValidationFailed(f"{username!r} has no role on {project.name}")
    if membership.user_id == project.owner_id:
        raise ValidationFailed("the project's owner cannot be removed")
    membership.delete()


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
