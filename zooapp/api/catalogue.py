"""REST API for project staff and scientists: exports, subject-set uploads, gold answers and truth.

Each endpoint loads its workflow through ``zooapp.access`` with ``staff=True``, so anyone
who is not the project's staff gets 403 (404 when the workflow does not exist).
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.generics import get_object_or_404  # a malformed id is a 404 here, not a 500
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from zooapp.access import get_workflow_for_user, staff_projects
from zooapp.models import Export, GoldAnswer, SubjectTruth
from zooapp.services.exports import FORMATS, ExportRejected, download_name, export_file_path, export_start
from zooapp.services.subject_uploads import gold_answers_upload, subject_set_upload
from zooapp.services.subjects import IngestError


class ExportSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = ["id", "workflow", "kind", "format", "status", "progress", "n_rows", "error", "created_at",
                  "finished_at", "download_url"]

    def get_download_url(self, obj: Export) -> str | None:
        if obj.status != Export.Status.DONE:
            return None
        url = reverse("export-download", args=[obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Exports of the workflows you run. POST starts one in the background; poll it for ``progress``."""

    serializer_class = ExportSerializer

    class InputSerializer(serializers.Serializer):
        workflow = serializers.IntegerField(min_value=1)
        kind = serializers.ChoiceField(choices=list(FORMATS))
        format = serializers.ChoiceField(choices=sorted({f for fmts in FORMATS.values() for f in fmts}))

    def get_queryset(self):
        qs = Export.objects.filter(workflow__project__in=staff_projects(self.request.user)).order_by("-id")
        workflow = self.request.query_params.get("workflow")
        if workflow is not None:
            if not workflow.isdigit():
                raise ValidationError({"detail": "workflow must be an id"})
            qs = qs.filter(workflow_id=int(workflow))
        return qs

    def get_object(self) -> Export:
        export = get_object_or_404(Export, pk=self.kwargs["pk"])
        get_workflow_for_user(self.request.user, export.workflow_id, staff=True)
        return export

    @extend_schema(request=InputSerializer, responses={201: ExportSerializer})
    def create(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workflow = get_workflow_for_user(request.user, data.validated_data["workflow"], staff=True)
        try:
            export = export_start(workflow=workflow, kind=data.validated_data["kind"],
                                  fmt=data.validated_data["format"], user=request.user)
        except ExportRejected as exc:
            raise ValidationError({"detail": str(exc)}) from None
        export.refresh_from_db()
        return Response(ExportSerializer(export, context={"request": request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"], url_path="download", url_name="download")
    def download(self, request, pk=None, format=None):  # format: the router's .json suffix route
        export = self.get_object()
        try:
            path = export_file_path(export=export)
        except ExportRejected as exc:
            raise NotFound(str(exc)) from None
        return FileResponse(path.open("rb"), as_attachment=True, filename=download_name(export))


UploadReportSerializer = inline_serializer("SubjectUploadReport", {
    "subject_set": serializers.IntegerField(allow_null=True),
    "created": serializers.ListField(child=serializers.CharField()),
    "skipped": serializers.ListField(child=serializers.CharField(), help_text="already stored: resumed upload"),
    "duplicates": serializers.ListField(child=serializers.DictField(), help_text="same image as a stored subject"),
    "missing": serializers.ListField(child=serializers.CharField(), help_text="image not in this batch"),
})


class BatchMultiPartParser(MultiPartParser):
    """Multipart, with Django's limit on files per request turned into a 400 that says what to do."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except TooManyFilesSent:
            raise ParseError(f"send at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files per request, then the "
                             "same manifest again with the next batch") from None


class SubjectSetUploadApi(APIView):
    """Upload a manifest CSV and a batch of its images; send the same manifest again with the next batch."""

    parser_classes = [BatchMultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        manifest = serializers.FileField()
        images = serializers.ListField(child=serializers.FileField(), required=False)

    @extend_schema(request={"multipart/form-data": InputSerializer},
                   responses={201: UploadReportSerializer, 200: UploadReportSerializer})
    def post(self, request, pk: int):
        workflow = get_workflow_for_user(request.user, pk, staff=True)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            report = subject_set_upload(workflow=workflow, name=data.validated_data["name"],
                                        manifest=data.validated_data["manifest"],
                                        images=request.FILES.getlist("images"))
        except IngestError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(report.as_dict(), status=status.HTTP_201_CREATED if report.created else status.HTTP_200_OK)


class GoldAnswerListApi(APIView):
    """Gold answers of a workflow (project staff only). POST a CSV (id, task, value) to add or change them."""

    parser_classes = [MultiPartParser, FormParser]

    class OutputSerializer(serializers.ModelSerializer):
        external_id = serializers.CharField(source="subject.external_id")

        class Meta:
            model = GoldAnswer
            fields = ["subject", "external_id", "task", "value"]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()

    @extend_schema(responses=OutputSerializer(many=True), parameters=[OpenApiParameter("limit", int),
                                                                     OpenApiParameter("offset", int)])
    def get(self, request, pk: int):
        workflow = get_workflow_for_user(request.user, pk, staff=True)
        qs = GoldAnswer.objects.filter(subject__workflow=workflow).select_related("subject").order_by("subject_id",
                                                                                                      "task")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)

    @extend_schema(request={"multipart/form-data": InputSerializer},
                   responses=inline_serializer("GoldStored", {"stored": serializers.IntegerField()}))
    def post(self, request, pk: int):
        workflow = get_workflow_for_user(request.user, pk, staff=True)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            n = gold_answers_upload(workflow=workflow, upload=data.validated_data["file"])
        except IngestError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response({"stored": n})


class SubjectTruthListApi(APIView):
    """Simulated truth of synthetic subjects, for evaluation (project staff only)."""

    class OutputSerializer(serializers.ModelSerializer):
        external_id = serializers.CharField(source="subject.external_id")

        class Meta:
            model = SubjectTruth
            fields = ["subject", "external_id", "values"]

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, pk: int):
        workflow = get_workflow_for_user(request.user, pk, staff=True)
        qs = SubjectTruth.objects.filter(subject__workflow=workflow).select_related("subject").order_by("subject_id")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
