"""REST API: thin classes that check access, validate, call one service and serialise."""
from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from zooapp.api import AnonymousSessionCsrfMixin
from zooapp.models import Classification, ModelVersion, Project, Subject, SubjectPosterior, SubjectSet, Workflow
from zooapp.selection import queue_next
from zooapp.serializers import (ClassificationOutSerializer, ModelVersionSerializer, PosteriorSerializer,
                                ProjectSerializer, SubjectSerializer, SubjectSetSerializer, WorkflowSerializer,
                                subject_payload)
from zooapp.services.classifications import ClassificationRejected, classification_create, classification_feedback
from zooapp.services.volunteers import favourite_ids, favourite_toggle, volunteer_for_session
from zooapp.throttle import ClassifyRateThrottle


class ClassificationCreateApi(AnonymousSessionCsrfMixin, APIView):
    throttle_classes = [ClassifyRateThrottle]
    throttle_scope = "classify"

    class InputSerializer(serializers.Serializer):
        subject = serializers.IntegerField(min_value=1)
        workflow_version = serializers.IntegerField(min_value=1)
        idempotency_key = serializers.UUIDField()
        annotations = serializers.ListField(child=serializers.DictField(), max_length=100)
        started_at = serializers.DateTimeField(required=False, allow_null=True)
        finished_at = serializers.DateTimeField(required=False, allow_null=True)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        subject = serializers.IntegerField()
        gold = serializers.BooleanField()
        subject_retired = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer, 200: OutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        volunteer = volunteer_for_session(user=request.user, session=request.session)
        v = data.validated_data
        try:
            result = classification_create(
                volunteer=volunteer, subject_id=v["subject"], workflow_version_id=v["workflow_version"],
                annotations=v["annotations"], idempotency_key=v["idempotency_key"], started_at=v.get("started_at"),
                finished_at=v.get("finished_at"), user_agent=request.headers.get("User-Agent", ""))
        except ClassificationRejected as exc:
            raise ValidationError({"detail": str(exc)}) from None
        c = result.classification
        body = {"id": c.pk, "subject": c.subject_id, "gold": c.subject.is_gold,
                "subject_retired": result.subject_retired}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(responses=ClassificationOutSerializer(many=True))
    def get(self, request):
        """Your own classifications, oldest first; `since` returns only those with a larger id."""
        volunteer = volunteer_for_session(user=request.user, session=request.session)
        qs = Classification.objects.filter(volunteer=volunteer).order_by("id")
        since = request.query_params.get("since")
        if since is not None:
            if not since.isdigit():
                raise ValidationError({"detail": "since must be a classification id (a whole number)"})
            qs = qs.filter(pk__gt=int(since))
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ClassificationOutSerializer(page, many=True).data)


class ClassificationFeedbackApi(APIView):
    @extend_schema(responses=inline_serializer("Feedback", {"gold": serializers.BooleanField()}))
    def get(self, request, pk: int):
        volunteer = volunteer_for_session(user=request.user, session=request.session)
        classification = get_object_or_404(Classification.objects.select_related("subject"), pk=pk,
                                           volunteer=volunteer)
        return Response(classification_feedback(classification=classification))


@method_decorator(ensure_csrf_cookie, name="get")  # API-only clients get the token they must send back
class WorkflowQueueApi(APIView):
    @extend_schema(responses=inline_serializer("Queue", {"subjects": serializers.ListField(),
                                                         "finished": serializers.BooleanField(),
                                                         "message": serializers.CharField()}))
    def get(self, request, pk: int):
        workflow = get_object_or_404(Workflow, pk=pk, active=True)
        n = request.query_params.get("n", "1")
        if not n.isdigit() or not 1 <= int(n) <= 10:
            raise ValidationError({"detail": "n must be a whole number from 1 to 10"})
        volunteer = volunteer_for_session(user=request.user, session=request.session)
        result = queue_next(workflow=workflow, volunteer=volunteer, n=int(n))
        favourites = favourite_ids(volunteer=volunteer)
        return Response({"subjects": [subject_payload(s, favourites=favourites) for s in result.subjects],
                         "finished": result.finished,
                         "message": result.message})


class SubjectFavouriteApi(AnonymousSessionCsrfMixin, APIView):
    @extend_schema(request=None, responses=inline_serializer("Favourite", {"favourite": serializers.BooleanField()}))
    def post(self, request, pk: int):
        subject = get_object_or_404(Subject, pk=pk)
        volunteer = volunteer_for_session(user=request.user, session=request.session)
        return Response({"favourite": favourite_toggle(volunteer=volunteer, subject_id=subject.pk)})


class ProjectViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ProjectSerializer
    queryset = Project.objects.order_by("id")


class WorkflowViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = WorkflowSerializer
    queryset = Workflow.objects.order_by("id")


class SubjectSetViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SubjectSetSerializer
    queryset = SubjectSet.objects.order_by("id")


class SubjectViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SubjectSerializer
    queryset = Subject.objects.prefetch_related("frames").order_by("id")


class AggregationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Per-subject posteriors; filter with ?workflow= and ?subject=."""

    serializer_class = PosteriorSerializer

    def get_queryset(self):
        qs = SubjectPosterior.objects.order_by("subject_id", "task")
        params = self.request.query_params
        for name, field in (("workflow", "subject__workflow_id"), ("subject", "subject_id")):
            value = params.get(name)
            if value is not None:
                if not value.isdigit():
                    raise ValidationError({"detail": f"{name} must be an id"})
                qs = qs.filter(Q(**{field: int(value)}))
        return qs


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ModelVersionSerializer
    queryset = ModelVersion.objects.order_by("id")
