"""Researchers' pages on the learned representation: more like this, the anomaly loop, and new questions."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from zooapp.access import (get_anomaly_session_for_user, get_question_for_user, project_can, research_workflows,
                           similar_scope, get_subject_for_user, staff_projects, volunteer_workflows)
from zooapp.api.represent import ranking_body
from zooapp.errors import ApplicationError, ValidationFailed
from zooapp.models import AnomalySession
from zooapp.services.anomaly import anomaly_session_create
from zooapp.services.embeddings import subjects_similar_with_rows
from zooapp.services.questions import question_volunteers_close, question_volunteers_open, questions_for_research

STATUSES = {"": "Any", "active": "Still being classified", "retired": "Retired"}


def _similar_filters(request) -> tuple[int | None, str | None, int]:
    """``(workflow id, status, k)`` from the query string; ValidationFailed-like ValueError on junk."""
    workflow = request.GET.get("workflow") or None
    status = request.GET.get("status") or None
    k = int(request.GET.get("k") or 24)
    return (int(workflow) if workflow else None), status, k


@require_GET
def similar_page(request, subject_id: int):
    """One galaxy and the galaxies most like it, filterable by workflow and retirement."""
    subject = get_subject_for_user(request.user, subject_id)
    project = subject.workflow.project
    workflows = (project.workflows.all() if project_can(request.user, project, "view")
                 else volunteer_workflows().filter(project=project))
    context = {"subject": subject, "frame": subject.frames.first(), "workflows": workflows.order_by("name"),
               "statuses": STATUSES, "found": [], "error": ""}
    try:
        workflow_id, status, k = _similar_filters(request)
        context.update(workflow_id=workflow_id, status=status or "", k=k)
        context["found"] = subjects_similar_with_rows(
            subject_ids=[subject.pk], k=k, status=status,
            workflow_id=similar_scope(request.user, subject, workflow_id))
    except ApplicationError as exc:
        context["error"] = exc.message
    except ValueError:
        context["error"] = "workflow and k must be whole numbers"
    return render(request, "research/similar.html", context, status=400 if context["error"] else 200)


@login_required
@require_http_methods(["GET", "POST"])
def anomaly_index(request):
    """Your anomaly sessions, and a form to start one on a workflow of a project you have a role on."""
    workflows = research_workflows(request.user).order_by("project__name", "name")
    error = ""
    if request.method == "POST":
        workflow = workflows.filter(pk=request.POST.get("workflow") or 0).first()
        if workflow is None:
            error = "choose one of your projects' workflows"
        else:
            try:
                session = anomaly_session_create(workflow=workflow, owner=request.user,
                                                 name=request.POST.get("name", ""))
                return redirect("research-anomaly", session_id=session.pk)
            except ApplicationError as exc:
                error = exc.message
    sessions = AnomalySession.objects.filter(owner=request.user).select_related("workflow__project") \
        .order_by("-updated_at")
    return render(request, "research/anomaly_index.html", {"sessions": sessions, "workflows": workflows,
                                                           "error": error}, status=400 if error else 200)


@login_required
@require_GET
def anomaly_page(request, session_id: int):
    """The loop: judge the galaxies the ranker asks about; the ranking below updates after each."""
    session = get_anomaly_session_for_user(request.user, session_id)
    try:
        ranking, error = ranking_body(session), ""
    except ApplicationError as exc:
        ranking, error = None, exc.message
    config = {"ranking": ranking,
              "urls": {"labels": reverse("api-anomaly-labels", args=[session.pk]),
                       "similar": reverse("research-similar", args=[0]).replace("/0/", "/{id}/")}}
    return render(request, "research/anomaly.html", {"session": session, "config": config, "error": error,
                                                     "export_url": reverse("api-anomaly-export", args=[session.pk])})


# The researchers' page's two buttons: each is a change of state, refused when the question is already there.
VOLUNTEER_SWITCHES = {"open": question_volunteers_open, "close": question_volunteers_close}


@login_required
@require_GET
def questions_index(request):
    """Your projects' new questions: whether volunteers are asked each one, and how many have answered it."""
    return _questions_page(request)


def _questions_page(request, *, error: str = "", status: int = 200):
    questions = questions_for_research(workflows=research_workflows(request.user))
    runs = set(staff_projects(request.user).values_list("pk", flat=True))  # only they see the buttons
    rows = [{"question": q, "may_switch": q.workflow.project_id in runs} for q in questions]
    return render(request, "research/questions.html", {"rows": rows, "error": error}, status=status)


@login_required
@require_POST
def question_volunteers(request, question_id: int):
    """Open a question to volunteers (``action=open``) or close it (``action=close``): the project's staff only.

    A refusal is shown on the list with its status and changes nothing; a question that is not one of the user's
    projects' reads as missing, so a stranger learns nothing of it.
    """
    try:
        question = get_question_for_user(request.user, question_id, right="build")
    except Http404:
        return _questions_page(request, status=404,
                               error=f"no question {question_id} among your projects' questions: nothing changed")
    except PermissionDenied as exc:
        return _questions_page(request, error=f"{exc}: only the project's owner and collaborators open and close "
                                              "its questions", status=403)
    switch = VOLUNTEER_SWITCHES.get(request.POST.get("action", ""))
    try:
        if switch is None:
            raise ValidationFailed("action must be open or close: nothing changed")
        question = switch(question=question)
    except ApplicationError as exc:
        return _questions_page(request, error=exc.message, status=exc.status_code)
    state = "now asked on the classify page" if question.volunteers else "no longer asked on the classify page"
    messages.success(request, f'"{question.text}" is {state}.')
    return redirect("research-questions")
