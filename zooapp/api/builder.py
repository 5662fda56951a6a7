"""The project builder's API: projects, roles, drafts, diffs, publishing, the life cycle and the preview.

Each endpoint loads its project or workflow through ``zooapp.access`` with the right it needs
(``build``, ``members`` or ``view``) and calls one service; a service's ApplicationError becomes
``{"detail": message}`` through the API's exception handler. Bodies are free-form JSON (a task tree),
checked by the services, so the schema names them as objects.
"""
from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from zooapp.access import get_project_for_user, get_workflow_for_builder
from zooapp.errors import ValidationFailed
from zooapp.selectors import membership_list
from zooapp.services import projects, workflows


class BuilderApi(APIView):
    permission_classes = [IsAuthenticated]


def _body(request) -> Mapping:
    """The request's JSON object; any other JSON value (a list, a number) is a 400, not a crash."""
    if not isinstance(request.data, Mapping):
        raise ValidationFailed("the request body must be a JSON object")
    return request.data


def _valid(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class ProjectCreateApi(BuilderApi):
    """POST ``{name, description?, visibility?}``: a new project, owned by you."""

    class In(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        visibility = serializers.CharField(required=False, default="private")

    def post(self, request):
        project = projects.project_create(owner=request.user, **_valid(self.In, request))
        return Response({"id": project.pk, "slug": project.slug, "visibility": project.visibility},
                        status=status.HTTP_201_CREATED)


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class ProjectMembersApi(BuilderApi):
    """GET the project's roles; POST ``{username, role}`` gives one; DELETE ``{username}`` takes it away."""

    class In(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        role = serializers.CharField(max_length=20, required=False, default="")

    def get(self, request, pk: int):
        project = get_project_for_user(request.user, pk)
        return Response({"members": [{"username": m.user.get_username(), "role": m.role}
                                     for m in membership_list(project=project)]})

    def post(self, request, pk: int):
        project = get_project_for_user(request.user, pk, right="members")
        v = _valid(self.In, request)
        membership = projects.membership_set(project=project, username=v["username"], role=v["role"])
        return Response({"username": v["username"], "role": membership.role}, status=status.HTTP_201_CREATED)

    def delete(self, request, pk: int):
        project = get_project_for_user(request.user, pk, right="members")
        projects.membership_remove(project=project, username=_valid(self.In, request)["username"])
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class ProjectVisibilityApi(BuilderApi):
    """POST ``{visibility}``: private, beta (by link) or public."""

    def post(self, request, pk: int):
        project = get_project_for_user(request.user, pk, right="members")
        projects.project_visibility_set(project=project, visibility=str(_body(request).get("visibility", "")))
        return Response({"visibility": project.visibility})


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class ProjectWorkflowsApi(BuilderApi):
    """POST ``{name, tree?, publish?}``: a new workflow, its tree checked as the editor checks it.

    Without ``publish`` the tree is a draft; with it, version 1 is published at once.
    """

    class In(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        tree = serializers.JSONField(required=False, default=None)
        publish = serializers.BooleanField(required=False, default=False)

    def post(self, request, pk: int):
        project = get_project_for_user(request.user, pk, right="build")
        v = _valid(self.In, request)
        make = workflows.workflow_import if v["publish"] else workflows.workflow_draft_create
        workflow = make(project=project, name=v["name"], tree=v["tree"])
        return Response({"id": workflow.pk, "status": workflow.status}, status=status.HTTP_201_CREATED)


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class TreeValidateApi(BuilderApi):
    """POST ``{tree}``: ``{"problems": [...]}``, empty for a tree that can be published. Stores nothing."""

    def post(self, request):
        return Response({"problems": workflows.tree_problems(_body(request).get("tree"))})


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class WorkflowDraftApi(BuilderApi):
    """GET the tree being edited; PUT ``{tree}`` stores it as the draft (refused, unchanged, if invalid)."""

    def get(self, request, pk: int):
        workflow = get_workflow_for_builder(request.user, pk, right="view")
        return Response({"tree": workflows.workflow_editing_tree(workflow), "status": workflow.status,
                         "has_draft": workflow.draft_tree is not None})

    def put(self, request, pk: int):
        workflow = get_workflow_for_builder(request.user, pk)
        workflows.workflow_draft_save(workflow=workflow, tree=_body(request).get("tree"))
        return Response({"tree": workflow.draft_tree, "has_draft": True})


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class WorkflowImportApi(BuilderApi):
    """POST a file (``tree``): our JSON, the GZ2 schema or a Zooniverse workflows.csv, stored as the draft."""

    def post(self, request, pk: int):
        workflow = get_workflow_for_builder(request.user, pk)
        upload = request.FILES.get("tree")
        if upload is None:
            raise ValidationFailed("attach the tree file as 'tree' (JSON, GZ2 JSON or Zooniverse workflows.csv)")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / ("upload.csv" if upload.name.lower().endswith(".csv") else "upload.json")
            path.write_bytes(upload.read())
            tree = workflows.tree_load(path=path, zooniverse_workflow_id=_body(request).get("zooniverse_workflow"))
        workflows.workflow_draft_save(workflow=workflow, tree=tree)
        return Response({"tree": workflow.draft_tree, "n_tasks": len(tree["tasks"])})


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class WorkflowDiffApi(BuilderApi):
    """GET the change from the published version to the draft."""

    def get(self, request, pk: int):
        return Response(workflows.workflow_diff(workflow=get_workflow_for_builder(request.user, pk, right="view")))


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class WorkflowPublishApi(BuilderApi):
    """POST ``{confirm?}``: publish the draft as a new version (409, nothing stored, for an unconfirmed break)."""

    def post(self, request, pk: int):
        workflow = get_workflow_for_builder(request.user, pk)
        version = workflows.workflow_publish(workflow=workflow, confirm=bool(_body(request).get("confirm")))
        return Response({"version": version.number, "id": version.pk}, status=status.HTTP_201_CREATED)


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class WorkflowStatusApi(BuilderApi):
    """POST ``{status}``: launch (active), pause, resume or finish."""

    def post(self, request, pk: int):
        workflow = get_workflow_for_builder(request.user, pk)
        workflows.workflow_status_set(workflow=workflow, status=str(_body(request).get("status", "")))
        return Response({"status": workflow.status})


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class PreviewClassificationApi(BuilderApi):
    """The preview's stand-in for the classification endpoint: checks the answers against the draft, saves nothing."""

    def post(self, request, pk: int):
        workflow = get_workflow_for_builder(request.user, pk, right="view")
        workflows.workflow_preview_check(workflow=workflow, annotations=_body(request).get("annotations"))
        return Response({"id": 0, "subject": _body(request).get("subject"), "gold": False, "subject_retired": False,
                         "preview": True})


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
class PreviewQueueApi(BuilderApi):
    """The preview's stand-in for the queue: one subject only, so it always says the preview is over."""

    def get(self, request, pk: int):
        get_workflow_for_builder(request.user, pk, right="view")
        return Response({"finished": True, "subjects": [],
                         "message": "Preview finished: your answers fit the draft, and nothing was saved."})
