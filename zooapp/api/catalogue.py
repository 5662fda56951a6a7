"""REST API for project staff and scientists: exports, subject-set uploads, gold answers and truth.

Each endpoint loads its workflow through ``zooapp.access`` with ``staff=True``, so anyone
who is not the project's staff gets 403 (404 when the workflow does not exist).
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from zooapp.access import get_export_for_user, get_workflow_for_user
from zooapp.models import Export, GoldAnswer, SubjectTruth
from zooapp.selectors import export_list_for_user, gold_answer_list, subject_truth_list
from zooapp.serializers import ExportFilter, query_params
from zooapp.services.exports import FORMATS, ExportOptions, download_name, export_file_path, export_start
from zooapp.services.subject_uploads import gold_answers_upload, subject_set_upload


class ExportSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = ["id", "workflow", "kind", "format", "options", "status", "progress", "n_rows", "error",
                  "created_at", "finished_at", "download_url"]

    def get_download_url(self, obj: Export) -> str | None:
        if obj.status != Export.Status.DONE:
            return None
        url = reverse("export-download", args=[obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


@extend_schema_view(list=extend_schema(parameters=[ExportFilter]))
class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Exports of the workflows you run. POST starts one in the background; poll it for ``progress``."""

    serializer_class = ExportSerializer

    class InputSerializer(serializers.Serializer):
        workflow = serializers.IntegerField(min_value=1)
        kind = serializers.ChoiceField(choices=list(FORMATS))
        format = serializers.ChoiceField(choices=sorted({f for fmts in FORMATS.values() for f in fmts}))
        retired_only = serializers.BooleanField(default=False, help_text="catalogue, classifications: retired only")
        workflow_version = serializers.IntegerField(min_value=1, required=False,
                                                    help_text="classifications: only this workflow version")

    def get_queryset(self):
        workflow_id = query_params(ExportFilter, self.request).get("workflow")
        return export_list_for_user(user=self.request.user, workflow_id=workflow_id)

    def get_object(self) -> Export:
        return get_export_for_user(self.request.user, self.kwargs["pk"])

    @extend_schema(request=InputSerializer, responses={201: ExportSerializer})
    def create(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workflow = get_workflow_for_user(request.user, data.validated_data["workflow"], staff=True)
        options = ExportOptions(retired_only=data.validated_data["retired_only"],
                                workflow_version=data.validated_data.get("workflow_version"))
        export = export_start(workflow=workflow, kind=data.validated_data["kind"],
                              fmt=data.validated_data["format"], user=request.user, options=options)
        export.refresh_from_db()
        return Response(ExportSerializer(export, context={"request": request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"], url_path="download", url_name="download")
    def download(self, request, pk=None, format=None):  # format: the router's .json suffix route
        export = self.get_object()
        path = export_file_path(export=export)
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
        report = subject_set_upload(workflow=workflow, name=data.validated_data["name"],
                                    manifest=data.validated_data["manifest"], images=request.FILES.getlist("images"))
        return Response(report.as_dict(), status=status.HTTP_201_CREATED if report.created else status.HTTP_200_OK)


class GoldAnswerListApi(generics.ListAPIView):
    """Gold answers of a workflow (project staff and experts). POST a CSV (id, task, value) to add or change them."""

    parser_classes = [MultiPartParser, FormParser]

    class OutputSerializer(serializers.ModelSerializer):
        external_id = serializers.CharField(source="subject.external_id")

        class Meta:
            model = GoldAnswer
            fields = ["subject", "external_id", "task", "value"]

    serializer_class = OutputSerializer

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()

    def get_queryset(self):
        # The gold right: project staff and the project's experts.
        return gold_answer_list(workflow=get_workflow_for_user(self.request.user, self.kwargs["pk"], right="gold"))

    @extend_schema(request={"multipart/form-data": InputSerializer},
                   responses=inline_serializer("GoldStored", {"stored": serializers.IntegerField()}))
    def post(self, request, pk: int):
        workflow = get_workflow_for_user(request.user, pk, right="gold")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"stored": gold_answers_upload(workflow=workflow, upload=data.validated_data["file"])})


class SubjectTruthListApi(generics.ListAPIView):
    """Simulated truth of synthetic subjects, for evaluation (project staff only)."""

    class OutputSerializer(serializers.ModelSerializer):
        external_id = serializers.CharField(source="subject.external_id")

        class Meta:
            model = SubjectTruth
            fields = ["subject", "external_id", "values"]

    serializer_class = OutputSerializer

    def get_queryset(self):
        return subject_truth_list(workflow=get_workflow_for_user(self.request.user, self.kwargs["pk"], staff=True))
