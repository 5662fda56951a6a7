"""A volunteer's write about one galaxy: the shape the tags and extra-questions APIs share."""
from __future__ import annotations

from typing import Any, NamedTuple

from rest_framework import serializers
from rest_framework.views import APIView

from zooapp.access import get_subject_for_user
from zooapp.api import AnonymousSessionCsrfMixin
from zooapp.errors import ApplicationError
from zooapp.models import Subject, Volunteer
from zooapp.services.volunteers import volunteer_lookup


class VolunteerWrite(NamedTuple):
    subject: Subject
    volunteer: Volunteer
    data: dict[str, Any]


class SubjectVolunteerWriteApi(AnonymousSessionCsrfMixin, APIView):
    """Base of an API that lets a volunteer (signed in or by session) write something about a galaxy they can read.

    A subclass sets ``InputSerializer``, and ``refusal`` and ``refusal_message`` for a request with no volunteer
    behind it yet, and starts its ``post`` with `volunteer_write`; its throttle and its one service stay its own.
    The order of the checks is the contract: an unreadable galaxy is a 404 before anything else, bad input a 400,
    then no volunteer the subclass's refusal.
    """

    InputSerializer: type[serializers.Serializer]
    refusal: type[ApplicationError]
    refusal_message: str

    def volunteer_write(self, request, pk: int) -> VolunteerWrite:
        subject = get_subject_for_user(request.user, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        volunteer = volunteer_lookup(user=request.user, session=request.session)
        if volunteer is None:
            raise self.refusal(self.refusal_message)
        return VolunteerWrite(subject, volunteer, data.validated_data)
