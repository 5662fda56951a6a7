"""Who may see and change what. Every view that loads a protected object goes through here.

Roles: anonymous and signed-in volunteers may classify active workflows and read
public project data; *project staff* (the owner, the project's staff list, or a
superuser) may read gold answers, truth, raw classifications and exports, and
change rules and subject sets.
"""
from __future__ import annotations

from django.http import Http404
from django.core.exceptions import PermissionDenied

from zooapp.models import Project, Workflow


def is_project_staff(user, project: Project) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser or project.owner_id == user.pk:
        return True
    return project.staff.filter(pk=user.pk).exists()


def get_workflow_for_user(user, workflow_id: int, *, staff: bool = False) -> Workflow:
    """The workflow, or 404; with ``staff=True`` also PermissionDenied unless the user is project staff."""
    workflow = Workflow.objects.select_related("project").filter(pk=workflow_id).first()
    if workflow is None:
        raise Http404(f"no workflow {workflow_id}")
    if staff and not is_project_staff(user, workflow.project):
        raise PermissionDenied("only the project's staff can do this")
    return workflow


def staff_projects(user):
    """Projects the user runs (all of them for a superuser)."""
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return (Project.objects.filter(owner=user) | Project.objects.filter(staff=user)).distinct()
