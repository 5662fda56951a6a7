"""Read-side queries shared by views, the API and services, named ``<entity>_<get|list>_...``.

Each applies the rule from ``zooapp.access`` that decides who may see the rows, so a
view never writes its own filter. A ``_get`` raises Http404 when nothing the user may see matches.
"""
from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from zooapp import access
from zooapp.models import (Classification, Export, GoldAnswer, Membership, Project, SubjectPosterior, SubjectTruth,
                           Volunteer, Workflow)


def workflow_list_for_volunteers() -> QuerySet[Workflow]:
    """The workflows offered on the home page: active ones of public projects (a beta one is reached by its link)."""
    return (access.volunteer_workflows().filter(project__visibility=Project.Visibility.PUBLIC)
            .select_related("project").order_by("id"))


def project_list_for_member(*, user) -> QuerySet[Project]:
    """The projects where the user holds a role, newest first, for the builder's index."""
    return access.member_projects(user).order_by("-id")


def workflow_list_for_project(*, project: Project) -> QuerySet[Workflow]:
    """A project's workflows in creation order; the caller has checked the user's role."""
    return project.workflows.order_by("id")


def membership_list(*, project: Project) -> QuerySet[Membership]:
    """A project's roles, by user name; the caller has checked the user's role."""
    return project.memberships.select_related("user").order_by("user__username")


def workflow_get_for_volunteer(*, workflow_id: int) -> Workflow:
    """A workflow a volunteer may classify, or 404 (it does not exist or is not active)."""
    workflow = access.volunteer_workflows().select_related("project").filter(pk=workflow_id).first()
    if workflow is None:
        raise Http404(f"no active workflow {workflow_id}")
    return workflow


def workflow_list_for_staff(*, user) -> QuerySet[Workflow]:
    """The workflows of the projects the user runs, for the dashboard index."""
    return Workflow.objects.filter(project__in=access.staff_projects(user)).select_related("project").order_by("id")


def classification_list_for_volunteer(*, volunteer: Volunteer, since: int | None = None) -> QuerySet[Classification]:
    """The volunteer's own classifications, oldest first; with ``since``, only those with a larger id."""
    qs = Classification.objects.filter(volunteer=volunteer).order_by("id")
    return qs if since is None else qs.filter(pk__gt=since)


def classification_get_for_volunteer(*, volunteer: Volunteer, classification_id: int) -> Classification:
    """One of the volunteer's own classifications, or 404: another's is indistinguishable from none."""
    found = (Classification.objects.select_related("subject")
             .filter(pk=classification_id, volunteer=volunteer).first())
    if found is None:
        raise Http404(f"no classification {classification_id} of yours")
    return found


def export_list_for_user(*, user, workflow_id: int | None = None) -> QuerySet[Export]:
    """The exports the user may see, newest first, optionally of one workflow."""
    qs = access.staff_exports(user).order_by("-id")
    return qs if workflow_id is None else qs.filter(workflow_id=workflow_id)


def posterior_list(*, workflow_id: int | None = None, subject_id: int | None = None) -> QuerySet[SubjectPosterior]:
    """Per-subject posteriors (public), optionally of one workflow or one subject."""
    qs = SubjectPosterior.objects.order_by("subject_id", "task")
    if workflow_id is not None:
        qs = qs.filter(subject__workflow_id=workflow_id)
    return qs if subject_id is None else qs.filter(subject_id=subject_id)


def gold_answer_list(*, workflow: Workflow) -> QuerySet[GoldAnswer]:
    """A workflow's gold answers; the caller has checked that the user is project staff."""
    return GoldAnswer.objects.filter(subject__workflow=workflow).select_related("subject").order_by("subject_id",
                                                                                                   "task")


def subject_truth_list(*, workflow: Workflow) -> QuerySet[SubjectTruth]:
    """A workflow's simulated truth; the caller has checked that the user is project staff."""
    return SubjectTruth.objects.filter(subject__workflow=workflow).select_related("subject").order_by("subject_id")
