"""A galaxy's extra questions for volunteers: the new questions (#13) its project opened to them, asked after Done."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from zooapp.access import get_subject_for_user
from zooapp.api import AnonymousSessionCsrfMixin
from zooapp.models import Subject
from zooapp.services.questions import QuestionRefused, question_volunteer_answer, questions_for_volunteer
from zooapp.services.volunteers import volunteer_lookup
from zooapp.throttle import QuestionRateThrottle

QuestionsOut = inline_serializer("SubjectQuestions", {
    "subject": serializers.IntegerField(),
    "questions": inline_serializer("VolunteerQuestion", {
        "id": serializers.IntegerField(), "text": serializers.CharField(),
        "answers": serializers.ListField(child=serializers.CharField()),
        "mine": serializers.CharField(allow_null=True, help_text="your answer so far")}, many=True)})


def questions_body(request, subject: Subject) -> dict:
    volunteer = volunteer_lookup(user=request.user, session=request.session)
    asked = questions_for_volunteer(subject=subject, volunteer=volunteer)
    return {"subject": subject.pk, "questions": [
        {"id": q.pk, "text": q.text, "answers": q.answers, "mine": None if mine is None else q.answers[mine]}
        for q, mine in asked]}


class SubjectQuestionsApi(AnonymousSessionCsrfMixin, APIView):
    """GET the galaxy's questions open to volunteers; POST ``{"question": id, "answer": "ring"}`` to answer one
    about a galaxy you classified (a second answer replaces the first). Writes: RATE_LIMIT_QUESTION."""

    throttle_classes = [QuestionRateThrottle]

    class InputSerializer(serializers.Serializer):
        question = serializers.IntegerField(min_value=1)
        answer = serializers.CharField(max_length=60)

    @extend_schema(responses=QuestionsOut)
    def get(self, request, pk: int):
        return Response(questions_body(request, get_subject_for_user(request.user, pk)))

    @extend_schema(request=InputSerializer, responses={201: QuestionsOut})
    def post(self, request, pk: int):
        subject = get_subject_for_user(request.user, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        volunteer = volunteer_lookup(user=request.user, session=request.session)
        if volunteer is None:
            raise QuestionRefused("classify this galaxy first: its extra questions come after a classification")
        question_volunteer_answer(question_id=data.validated_data["question"], subject=subject, volunteer=volunteer,
                                  answer=data.validated_data["answer"])
        return Response(questions_body(request, subject), status=status.HTTP_201_CREATED)
