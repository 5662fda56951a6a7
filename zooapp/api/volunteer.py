"""REST API: thin classes that check access, validate, call one service and serialise."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, generics, mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.views import APIView

from zooapp.api import AnonymousSessionCsrfMixin
from zooapp.models import ModelVersion, Project, Subject, SubjectSet, Workflow
from zooapp.selection import queue_next, queue_record_view
from zooapp.selectors import (classification_get_for_volunteer, classification_list_for_volunteer, posterior_list,
                              workflow_get_for_volunteer)
from zooapp.serializers import (ClassificationFilter, ClassificationOutSerializer, ModelVersionSerializer,
                                PosteriorFilter, PosteriorSerializer, ProjectSerializer, QueueFilter,
                                SubjectSerializer, SubjectSetSerializer, WorkflowSerializer, query_params,
                                subject_payload)
from zooapp.services.classifications import classification_create, classification_feedback
from zooapp.access import readable_projects, readable_workflows, visible_posteriors
from zooapp.services.volunteers import favourite_ids, favourite_toggle, volunteer_for_session, volunteer_lookup
from zooapp.throttle import LOGIN_THROTTLED, ClassifyRateThrottle, FeedbackRateThrottle, LoginRateThrottle
from zooapp.visitor import visitor_forget, visitor_read, visitor_remember, visitor_skipped


@extend_schema_view(get=extend_schema(parameters=[ClassificationFilter]))
class ClassificationCreateApi(AnonymousSessionCsrfMixin, generics.ListAPIView):
    """POST a classification; GET your own, oldest first (``since`` returns only those with a larger id)."""

    serializer_class = ClassificationOutSerializer
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
        volunteer = _writer(request)
        v = data.validated_data
        result = classification_create(
            volunteer=volunteer, subject_id=v["subject"], workflow_version_id=v["workflow_version"],
            annotations=v["annotations"], idempotency_key=v["idempotency_key"], started_at=v.get("started_at"),
            finished_at=v.get("finished_at"), user_agent=request.headers.get("User-Agent", ""))
        c = result.classification
        body = {"id": c.pk, "subject": c.subject_id, "gold": c.subject.is_gold,
                "subject_retired": result.subject_retired}
        response = Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
        visitor_forget(response)
        return response

    def get_queryset(self):
        volunteer = volunteer_lookup(user=self.request.user, session=self.request.session)
        since = query_params(ClassificationFilter, self.request).get("since")
        if volunteer is None:  # a visitor who never classified: nothing to list, and no row made to say so
            return ClassificationOutSerializer.Meta.model.objects.none()
        return classification_list_for_volunteer(volunteer=volunteer, since=since)


class ClassificationFeedbackApi(APIView):
    """Gold feedback on one's own stored classification, rate-limited per address (see FeedbackRateThrottle)."""

    throttle_classes = [FeedbackRateThrottle]

    @extend_schema(responses=inline_serializer("Feedback", {"gold": serializers.BooleanField()}))
    def get(self, request, pk: int):
        volunteer = volunteer_lookup(user=request.user, session=request.session)
        if volunteer is None:
            raise exceptions.NotFound(f"no classification {pk} of yours")
        classification = classification_get_for_volunteer(volunteer=volunteer, classification_id=pk)
        return Response(classification_feedback(classification=classification))


@method_decorator(ensure_csrf_cookie, name="get")  # API-only clients get the token they must send back
class WorkflowQueueApi(APIView):
    @extend_schema(responses=inline_serializer("Queue", {"subjects": serializers.ListField(),
                                                         "finished": serializers.BooleanField(),
                                                         "message": serializers.CharField()}),
                   parameters=[QueueFilter])
    def get(self, request, pk: int):
        workflow = workflow_get_for_volunteer(workflow_id=pk)
        params = query_params(QueueFilter, request)
        volunteer = volunteer_lookup(user=request.user, session=request.session)
        # A volunteer's skip is already a SubjectView; a visitor's lives in their cookie.
        skipped = visitor_skipped(request, workflow_id=pk, also=params.get("skip")) if volunteer is None else ()
        result = queue_next(workflow=workflow, volunteer=volunteer, n=params["n"], exclude_ids=skipped)
        favourites = favourite_ids(volunteer=volunteer) if volunteer else set()
        response = Response({"subjects": [subject_payload(s, favourites=favourites) for s in result.subjects],
                             "finished": result.finished,
                             "message": result.message})
        if volunteer is None:  # the token its first write's volunteer will take, what is on screen, what was skipped
            visitor_remember(request, response, workflow_id=pk, skipped_id=params.get("skip"),
                             subject_id=result.subjects[0].pk if result.subjects else None)
        return response


class SubjectFavouriteApi(AnonymousSessionCsrfMixin, APIView):
    @extend_schema(request=None, responses=inline_serializer("Favourite", {"favourite": serializers.BooleanField()}))
    def post(self, request, pk: int):
        subject = get_object_or_404(Subject, pk=pk)
        volunteer = _writer(request)
        queue_record_view(volunteer=volunteer, subject=subject)  # a reload brings this galaxy back
        response = Response({"favourite": favourite_toggle(volunteer=volunteer, subject_id=subject.pk)})
        visitor_forget(response)
        return response


def _writer(request):
    """The volunteer behind a write; a visitor's first write makes it with the token their cookie carries."""
    visitor = visitor_read(request)
    return volunteer_for_session(user=request.user, session=request.session,
                                 token=visitor.token if visitor else None)


class ReadableViewSet(viewsets.ReadOnlyModelViewSet):
    """Lists and details of what the user may read (`access.readable_workflows`); anything else is a 404."""

    def listing(self) -> bool:
        return self.action == "list"


class ProjectViewSet(ReadableViewSet):
    serializer_class = ProjectSerializer
    queryset = Project.objects.none()  # for the schema's path types; get_queryset filters

    def get_queryset(self):
        return readable_projects(self.request.user, listing=self.listing()).order_by("id")


class WorkflowViewSet(ReadableViewSet):
    serializer_class = WorkflowSerializer
    queryset = Workflow.objects.none()  # for the schema's path types; get_queryset filters

    def get_queryset(self):
        return readable_workflows(self.request.user, listing=self.listing()).order_by("id")


class SubjectSetViewSet(ReadableViewSet):
    serializer_class = SubjectSetSerializer
    queryset = SubjectSet.objects.none()  # for the schema's path types; get_queryset filters

    def get_queryset(self):
        workflows = readable_workflows(self.request.user, listing=self.listing())
        return SubjectSet.objects.filter(workflow__in=workflows).order_by("id")


class SubjectViewSet(ReadableViewSet):
    serializer_class = SubjectSerializer
    queryset = Subject.objects.none()  # for the schema's path types; get_queryset filters

    def get_queryset(self):
        workflows = readable_workflows(self.request.user, listing=self.listing())
        return Subject.objects.filter(workflow__in=workflows).prefetch_related("frames").order_by("id")


@extend_schema(parameters=[PosteriorFilter])
class AggregationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Per-subject posteriors; filter with ?workflow= and ?subject=. Live ones are for project staff only."""

    serializer_class = PosteriorSerializer

    def get_queryset(self):
        params = query_params(PosteriorFilter, self.request)
        posteriors = posterior_list(workflow_id=params.get("workflow"), subject_id=params.get("subject"))
        return visible_posteriors(self.request.user, posteriors)


class ThrottledObtainAuthToken(ObtainAuthToken):
    """``/api/token/``: DRF's token view with the login throttle (per address and per user name)."""

    throttle_classes = [LoginRateThrottle]

    def throttled(self, request, wait):
        raise exceptions.Throttled(wait, detail=LOGIN_THROTTLED)


class ModelVersionViewSet(ReadableViewSet):
    serializer_class = ModelVersionSerializer
    queryset = ModelVersion.objects.none()  # for the schema's path types; get_queryset filters

    def get_queryset(self):
        workflows = readable_workflows(self.request.user, listing=self.listing())
        return ModelVersion.objects.filter(workflow__in=workflows).order_by("id")
