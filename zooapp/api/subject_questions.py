"""A galaxy's extra questions for volunteers: the new questions (#13) its project opened to them, asked after Done."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from zooapp.access import get_subject_for_user
from zooapp.api.subject_writes import SubjectVolunteerWriteApi
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


class SubjectQuestionsApi(SubjectVolunteerWriteApi):
    """GET the galaxy's questions open to volunteers; POST ``{"question": id, "answer": "ring"}`` to answer one
    about a galaxy you classified (a second answer replaces the first). Writes: RATE_LIMIT_QUESTION."""

    throttle_classes = [QuestionRateThrottle]
    refusal = QuestionRefused
    refusal_message = "classify this galaxy first: its extra questions come after a classification"

    class InputSerializer(serializers.Serializer):
        question = serializers.IntegerField(min_value=1)
        answer = serializers.CharField(max_length=60)

    @extend_schema(responses=QuestionsOut)
    def get(self, request, pk: int):
        return Response(questions_body(request, get_subject_for_user(request.user, pk)))

    @extend_schema(request=InputSerializer, responses={201: QuestionsOut})
    def post(self, request, pk: int):
        write = self.volunteer_write(request, pk)
        question_volunteer_answer(question_id=write.data["question"], subject=write.subject,
                                  volunteer=write.volunteer, answer=write.data["answer"])
        return Response(questions_body(request, write.subject), status=status.HTTP_201_CREATED)
