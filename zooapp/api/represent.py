"""Learned-representation API: more like this, anomaly sessions and new questions (thin: access, validate, one service)."""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from zooapp.access import (get_anomaly_session_for_user, get_question_for_user, get_workflow_for_builder,
                           get_subject_for_user, similar_scope)
from zooapp.models import AnomalySession, NewQuestion, Subject
from zooapp.serializers import query_params, subject_payload
from zooapp.services import anomaly, questions
from zooapp.services.embeddings import MAX_K, subjects_similar_with_rows


class SimilarFilter(serializers.Serializer):
    k = serializers.IntegerField(required=False, min_value=1, max_value=MAX_K, default=20)
    workflow = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=Subject.Status.values, required=False)


def similar_body(user, subject: Subject, params: dict) -> dict:
    workflow_id = similar_scope(user, subject, params.get("workflow"))
    found = subjects_similar_with_rows(subject_ids=[subject.pk], k=params["k"], workflow_id=workflow_id,
                                       status=params.get("status"))
    return {"subject": subject_payload(subject), "similar": [
        {**subject_payload(s), "external_id": s.external_id, "status": s.status, "workflow": s.workflow_id,
         "similarity": round(score, 4)} for s, score in found]}


class SimilarApi(APIView):
    """The galaxies most like one galaxy under the serving classifier's representation, best first."""

    @extend_schema(parameters=[SimilarFilter], responses=inline_serializer("Similar", {
        "subject": serializers.DictField(), "similar": serializers.ListField()}))
    def get(self, request, pk: int):
        subject = get_subject_for_user(request.user, pk)
        return Response(similar_body(request.user, subject, query_params(SimilarFilter, request)))


def ranked(items) -> list[dict]:
    rows = Subject.objects.prefetch_related("frames").in_bulk([r.subject_id for r in items])
    return [{**subject_payload(rows[r.subject_id]), "external_id": rows[r.subject_id].external_id,
             "interest": round(r.score, 4), "uncertainty": round(r.std, 4), "label": r.label} for r in items]


def ranking_body(session: AnomalySession, n_top: int = 50) -> dict:
    ranking = anomaly.anomaly_ranking(session=session, n_top=n_top)
    return {"id": session.pk, "name": session.name, "workflow": session.workflow_id,
            "model_version": ranking.model_version_id, "n_labels": ranking.n_labels,
            "to_label": ranked(ranking.to_label), "top": ranked(ranking.top)}


RankingOut = inline_serializer("AnomalyRanking", {
    "id": serializers.IntegerField(), "name": serializers.CharField(), "workflow": serializers.IntegerField(),
    "model_version": serializers.IntegerField(), "n_labels": serializers.IntegerField(),
    "to_label": serializers.ListField(), "top": serializers.ListField()})


class AnomalySessionsApi(APIView):
    """GET your anomaly sessions; POST ``{"workflow": id, "name": "..."}`` to start one on a project you have a role on."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        workflow = serializers.IntegerField(min_value=1)
        name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(operation_id="anomaly_sessions_list",
                   responses=inline_serializer("AnomalySessions", {"sessions": serializers.ListField()}))
    def get(self, request):
        sessions = AnomalySession.objects.filter(owner=request.user).order_by("-updated_at")
        return Response({"sessions": [{"id": s.pk, "name": s.name, "workflow": s.workflow_id,
                                       "n_labels": s.labels.count()} for s in sessions]})

    @extend_schema(request=InputSerializer, responses={201: inline_serializer(
        "AnomalySessionCreated", {"id": serializers.IntegerField(), "name": serializers.CharField()})})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workflow = get_workflow_for_builder(request.user, data.validated_data["workflow"], right="view")
        session = anomaly.anomaly_session_create(workflow=workflow, owner=request.user,
                                                 name=data.validated_data["name"])
        return Response({"id": session.pk, "name": session.name}, status=status.HTTP_201_CREATED)


class AnomalySessionApi(APIView):
    """GET the session's ranking: the galaxies to judge next and the current top ``n`` (default 50)."""

    permission_classes = [IsAuthenticated]

    class Filter(serializers.Serializer):
        n = serializers.IntegerField(required=False, min_value=1, max_value=anomaly.MAX_TOP, default=50)

    @extend_schema(parameters=[Filter], responses=RankingOut)
    def get(self, request, pk: int):
        session = get_anomaly_session_for_user(request.user, pk)
        return Response(ranking_body(session, query_params(self.Filter, request)["n"]))


class AnomalyLabelApi(APIView):
    """POST ``{"subject": id, "interesting": true | false | null}``; answers with the updated ranking."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        subject = serializers.IntegerField(min_value=1)
        interesting = serializers.BooleanField(allow_null=True)

    @extend_schema(request=InputSerializer, responses=RankingOut)
    def post(self, request, pk: int):
        session = get_anomaly_session_for_user(request.user, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        anomaly.anomaly_label_set(session=session, subject_id=data.validated_data["subject"],
                                  interesting=data.validated_data["interesting"])
        return Response(ranking_body(session))


class AnomalyExportApi(APIView):
    """GET the session's top ``n`` (default 100) as CSV."""

    permission_classes = [IsAuthenticated]

    class Filter(serializers.Serializer):
        n = serializers.IntegerField(required=False, min_value=1, max_value=anomaly.MAX_TOP, default=100)

    @extend_schema(parameters=[Filter], responses={(200, "text/csv"): str})
    def get(self, request, pk: int):
        session = get_anomaly_session_for_user(request.user, pk)
        return csv_response(anomaly.anomaly_export_csv(session=session, n=query_params(self.Filter, request)["n"]),
                            f"anomalies-session-{session.pk}.csv")


def csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def question_body(question: NewQuestion) -> dict:
    """The API's view of a question fetched through ``questions.questions_counted`` (its label counts)."""
    head = question.heads.order_by("-created_at", "-id").first()
    return {"id": question.pk, "workflow": question.workflow_id, "key": question.key, "text": question.text,
            "answers": question.answers, "n_labels": question.n_labels, "volunteers": question.volunteers,
            "n_volunteer_labels": question.n_volunteer_labels,
            "head": None if head is None else {"id": head.pk, "model_version": head.model_version_id,
                                               "n_labels": head.n_labels, "metrics": head.metrics}}


def _counted_body(question: NewQuestion) -> dict:
    """``question_body`` of one question just written to, its counts read again."""
    return question_body(questions.questions_counted(questions=NewQuestion.objects.filter(pk=question.pk)).get())


QuestionOut = inline_serializer("NewQuestion", {
    "id": serializers.IntegerField(), "workflow": serializers.IntegerField(), "key": serializers.CharField(),
    "text": serializers.CharField(), "answers": serializers.ListField(), "n_labels": serializers.IntegerField(),
    "volunteers": serializers.BooleanField(help_text="asked on the classify page after each classification"),
    "n_volunteer_labels": serializers.IntegerField(help_text="of n_labels, those given on the classify page"),
    "head": serializers.DictField(allow_null=True)})


class WorkflowQuestionsApi(APIView):
    """GET a workflow's new questions; POST ``{"key", "text", "answers": [...], "volunteers": false}`` (project
    builders) to add one (``volunteers``: the classify page asks it after each classification)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        key = serializers.CharField(max_length=40)
        text = serializers.CharField(max_length=300)
        answers = serializers.ListField(child=serializers.CharField(max_length=60), min_length=2, max_length=10)
        volunteers = serializers.BooleanField(required=False, default=False)

    @extend_schema(responses=inline_serializer("NewQuestions", {"questions": serializers.ListField()}))
    def get(self, request, pk: int):
        workflow = get_workflow_for_builder(request.user, pk, right="view")
        counted = questions.questions_counted(questions=workflow.new_questions.order_by("key"))
        return Response({"questions": [question_body(q) for q in counted]})

    @extend_schema(request=InputSerializer, responses={201: QuestionOut})
    def post(self, request, pk: int):
        workflow = get_workflow_for_builder(request.user, pk, right="build")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        question = questions.new_question_create(workflow=workflow, user=request.user, **data.validated_data)
        return Response(_counted_body(question), status=status.HTTP_201_CREATED)


class QuestionLabelsApi(APIView):
    """POST ``{"labels": [{"subject": id, "answer": "ring"}, ...]}`` (experts and builders): your answers."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        labels = serializers.ListField(child=inline_serializer("QuestionLabelIn", {
            "subject": serializers.IntegerField(min_value=1), "answer": serializers.CharField(max_length=60)}),
            min_length=1, max_length=1000)

    @extend_schema(request=InputSerializer, responses=QuestionOut)
    def post(self, request, pk: int):
        question = get_question_for_user(request.user, pk, right="gold")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        questions.question_labels_set(question=question, labels=data.validated_data["labels"], user=request.user)
        return Response(_counted_body(question))


class QuestionFitApi(APIView):
    """POST: fit the head on the labels so far and predict every embedded subject (project builders)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=QuestionOut)
    def post(self, request, pk: int):
        question = get_question_for_user(request.user, pk, right="build")
        questions.question_head_fit(question=question)
        return Response(_counted_body(question))


class QuestionExportApi(APIView):
    """GET the latest head's predictions for every subject, with their uncertainty, as CSV."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request, pk: int):
        question = get_question_for_user(request.user, pk, right="view")
        return csv_response(questions.question_predictions_csv(question=question),
                            f"question-{question.key}-predictions.csv")
