"""The project builder's pages: the project list, one project (roles, visibility, workflows), the tree
editor and its live preview, which is the real classify page rendering the draft.

Pages load their project or workflow through ``zooapp.access`` with the right they need and call one
service; the editor itself talks to ``zooapp.api.builder``.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse

from zooapp.access import ROLE_RIGHTS, get_project_for_user, get_workflow_for_builder, project_can
from zooapp.errors import ApplicationError
from zooapp.models import Project
from zooapp.selectors import membership_list, project_list_for_member, workflow_list_for_project
from zooapp.serializers import subject_payload
from zooapp.services import projects, workflows
from zooapp.views.volunteer import FIELD_GUIDE


@login_required
def builder_index(request):
    if request.method == "POST":
        try:
            project = projects.project_create(owner=request.user, name=request.POST.get("name", ""),
                                              description=request.POST.get("description", ""),
                                              visibility=request.POST.get("visibility", "private"))
            return redirect("builder-project", project.pk)
        except ApplicationError as exc:
            messages.error(request, f"No project made: {exc.message}")
    return render(request, "zooapp/builder/index.html", {
        "projects": project_list_for_member(user=request.user), "visibilities": Project.Visibility.choices})


# What each form on the project page does: (the right it needs, the service call).
PROJECT_ACTIONS = {
    "visibility": ("members", lambda p, post: projects.project_visibility_set(project=p,
                                                                              visibility=post.get("visibility", ""))),
    "member": ("members", lambda p, post: projects.membership_set(project=p, username=post.get("username", ""),
                                                                  role=post.get("role", ""))),
    "remove": ("members", lambda p, post: projects.membership_remove(project=p, username=post.get("username", ""))),
    "workflow": ("build", lambda p, post: workflows.workflow_draft_create(project=p, name=post.get("name", ""))),
}


@login_required
def builder_project(request, project_id: int):
    project = get_project_for_user(request.user, project_id)
    if request.method == "POST":
        right, action = PROJECT_ACTIONS.get(request.POST.get("action"), ("build", None))
        project = get_project_for_user(request.user, project_id, right=right)
        try:
            if action is None:
                raise ApplicationError("unknown action")
            made = action(project, request.POST)
            if request.POST.get("action") == "workflow":
                return redirect("builder-workflow", made.pk)
            messages.success(request, "Saved.")
        except ApplicationError as exc:
            messages.error(request, f"Nothing changed: {exc.message}")
        return redirect("builder-project", project.pk)
    return render(request, "zooapp/builder/project.html", {
        "project": project, "workflows": workflow_list_for_project(project=project),
        "members": membership_list(project=project), "roles": list(ROLE_RIGHTS),
        "visibilities": Project.Visibility.choices, "can_members": project_can(request.user, project, "members"),
        "can_build": project_can(request.user, project, "build"),
        "can_gold": project_can(request.user, project, "gold"),
        "can_moderate": project_can(request.user, project, "moderate"),
        "beta_link": request.build_absolute_uri("/")})


@login_required
def builder_workflow(request, workflow_id: int):
    workflow = get_workflow_for_builder(request.user, workflow_id, right="view")
    version = workflow.current_version
    subjects = [{"id": s.pk, "external_id": s.external_id, "url": s.frames.all()[0].image.url}
                for s in workflow.subjects.prefetch_related("frames").order_by("id")[:24] if s.frames.all()]
    config = {
        "workflow": {"id": workflow.pk, "name": workflow.name, "status": workflow.status,
                     "version": version.number if version else 0, "has_draft": workflow.draft_tree is not None,
                     "can_build": project_can(request.user, workflow.project, "build")},
        "tree": workflows.workflow_editing_tree(workflow), "subjects": subjects,
        "urls": {name: reverse(f"api-builder-{name}", args=[workflow.pk])
                 for name in ("draft", "diff", "publish", "status", "import")}
        | {"validate": reverse("api-builder-validate"), "preview": reverse("builder-preview", args=[workflow.pk])},
    }
    return render(request, "zooapp/builder/workflow.html", {"workflow": workflow, "config": config})


@login_required
def builder_preview(request, workflow_id: int):
    workflow = get_workflow_for_builder(request.user, workflow_id, right="view")
    try:
        tree = workflows.tree_check(workflows.workflow_editing_tree(workflow))
    except ApplicationError as exc:
        return render(request, "zooapp/builder/preview_invalid.html", {"workflow": workflow, "message": exc.message},
                      status=400)
    return render(request, "zooapp/classify.html", {"config": _preview_config(workflow, tree), "workflow": workflow})


def _preview_config(workflow, tree: dict) -> dict:
    subject = workflows.preview_subject(workflow)
    image, width, height = workflows.PREVIEW_IMAGE
    payload = subject_payload(subject) if subject else {
        "id": 0, "width": width, "height": height, "frames": [{"label": "image", "url": static(image)}],
        "metadata": {}, "favourite": False}
    version = workflow.current_version
    return {
        "workflow": {"id": workflow.pk, "name": f"{workflow.name} (preview)", "project": workflow.project.name,
                     "version": version.pk if version else 0, "tree": tree},
        "subject": payload, "finished": False, "message": "Preview of the draft: nothing you answer is saved.",
        "urls": {"classifications": reverse("api-builder-preview-classifications", args=[workflow.pk]),
                 "queue": reverse("api-builder-preview-queue", args=[workflow.pk]),
                 "feedback": reverse("api-classification-feedback", args=[0]).replace("/0/", "/{id}/"),
                 "favourite": reverse("api-subject-favourite", args=[0]).replace("/0/", "/{id}/"),
                 "stats": reverse("builder-workflow", args=[workflow.pk])},
        "user": {"authenticated": True, "username": "preview", "n_classifications": 0},
        "field_guide": [{**g, "image": static(g["image"])} for g in FIELD_GUIDE],
        "preview": True,
    }
