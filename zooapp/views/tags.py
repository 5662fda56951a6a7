"""Tag pages: a galaxy's own page with its tags, search by tag, and the moderators' queue."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from zooapp.access import get_project_for_user, moderated_projects, get_subject_for_user, tag_may_moderate
from zooapp.errors import ApplicationError
from zooapp.models import Classification, TagModeration
from zooapp.services.tags import (MAX_PER_REQUEST, tag_list_for_moderation, tag_moderate, tag_moderation_log,
                                  tag_names_popular, tag_search, tag_summary)
from zooapp.services.volunteers import volunteer_lookup

STATES = {"all": None, "visible": False, "hidden": True}


def tag_urls() -> dict[str, str]:
    """The URLs tags.js needs, with ``{id}`` where a subject or tag id goes."""
    return {"subject_tags": reverse("api-subject-tags", args=[0]).replace("/0/", "/{id}/"),
            "tag": reverse("api-tag", args=[0]).replace("/0/", "/{id}/"),
            "search": reverse("tag-search"), "subject_page": reverse("subject-page", args=[0]).replace("/0/", "/{id}/")}


@require_GET
def subject_page(request, subject_id: int):
    """One galaxy, as Zooniverse Talk's subject page: its image, its tags, and a tag box for those who classified it."""
    subject = get_subject_for_user(request.user, subject_id)
    volunteer = volunteer_lookup(user=request.user, session=request.session)
    moderator = tag_may_moderate(request.user, subject.workflow.project)
    classified = volunteer is not None and Classification.objects.filter(volunteer=volunteer, subject=subject).exists()
    config = {"subject": subject.pk, "can_tag": classified, "urls": tag_urls(), "max_per_request": MAX_PER_REQUEST,
              "suggestions": tag_names_popular(workflow_id=subject.workflow_id)}
    return render(request, "zooapp/subject.html", {
        "subject": subject, "tags": tag_summary(subject=subject, volunteer=volunteer, moderator=moderator),
        "moderator": moderator, "config": config, "frame": subject.frames.first()})


@require_GET
def tag_search_page(request):
    """Search by tag: the tagged galaxies first, then untagged ones most like them."""
    text = request.GET.get("tag", "").strip()
    workflow_id = request.GET.get("workflow") or None
    context = {"text": text, "found": None, "error": "", "workflow_id": workflow_id or ""}
    if text:
        try:
            context["found"] = tag_search(user=request.user, text=text,
                                          workflow_id=int(workflow_id) if workflow_id else None)
        except (ApplicationError, ValueError) as exc:
            context["error"] = getattr(exc, "message", f"workflow must be a number, not {workflow_id!r}")
    status = 400 if context["error"] else 200
    return render(request, "zooapp/tag_search.html", context, status=status)


@login_required
@require_GET
def moderation_index(request):
    """The projects whose tags this user moderates."""
    return render(request, "zooapp/moderation_index.html", {"projects": moderated_projects(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def tag_moderation(request, project_id: int):
    """A project's tags, newest first, each with Hide or Restore; the audit log of who did what below."""
    project = get_project_for_user(request.user, project_id, right="moderate")
    if request.method == "POST":
        return _moderate(request, project)
    state = request.GET.get("state", "all")
    name = request.GET.get("tag", "").strip()
    try:
        tags = tag_list_for_moderation(project=project, name=name, hidden=STATES.get(state))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        tags = tag_list_for_moderation(project=project, hidden=STATES.get(state))
    page = Paginator(tags, 50).get_page(request.GET.get("page"))
    return render(request, "zooapp/moderation.html", {
        "project": project, "page": page, "state": state, "name": name, "states": list(STATES),
        "log": tag_moderation_log(project=project), "actions": TagModeration.Action})


def _moderate(request, project):
    # The service checks the right on the tag's own project, whatever page the form was posted from.
    try:
        tag = tag_moderate(user=request.user, tag_id=int(request.POST.get("tag", "0") or 0),
                           action=request.POST.get("action", ""), reason=request.POST.get("reason", ""))
        messages.success(request, f"#{tag.name} on galaxy {tag.subject.external_id} is now "
                                  f"{'hidden' if tag.hidden else 'shown again'}.")
    except (ApplicationError, ValueError) as exc:
        messages.error(request, f"Nothing changed: {getattr(exc, 'message', 'the tag id must be a number')}")
    here = reverse("tag-moderation", args=[project.pk])
    back = request.POST.get("back", "")
    return redirect(back if back.startswith(here + "?") else here)  # back to the same filter, never elsewhere
