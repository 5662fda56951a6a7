"""Tags API: a subject's tags (read, add), deleting one's own, moderation, and search by tag."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from zooapp.access import get_subject_for_user, tag_may_moderate
from zooapp.api import AnonymousSessionCsrfMixin
from zooapp.api.subject_writes import SubjectVolunteerWriteApi
from zooapp.models import Subject, TagModeration
from zooapp.serializers import query_params, subject_payload
from zooapp.services.tags import (MAX_REASON, TagRefused, tag_add, tag_delete, tag_moderate, tag_search,
                                  tag_summary)
from zooapp.services.volunteers import volunteer_lookup
from zooapp.throttle import TagRateThrottle

TagsOut = inline_serializer("SubjectTags", {
    "subject": serializers.IntegerField(), "moderator": serializers.BooleanField(),
    "tags": inline_serializer("TagCount", {
        "name": serializers.CharField(help_text="without the #"), "count": serializers.IntegerField(),
        "mine": serializers.IntegerField(allow_null=True, help_text="the id of your own tag of this name"),
        "hidden": serializers.IntegerField(help_text="hidden ones: moderators only")}, many=True)})


def tags_body(request, subject: Subject) -> dict:
    volunteer = volunteer_lookup(user=request.user, session=request.session)
    moderator = tag_may_moderate(request.user, subject.workflow.project)
    tags = tag_summary(subject=subject, volunteer=volunteer, moderator=moderator)
    return {"subject": subject.pk, "moderator": moderator,
            "tags": [{"name": t.name, "count": t.count, "mine": t.mine, "hidden": t.hidden} for t in tags]}


class SubjectTagsApi(SubjectVolunteerWriteApi):
    """GET a galaxy's tags; POST ``{"tags": "#ring #dust-lane"}`` to add yours to a galaxy you classified."""

    throttle_classes = [TagRateThrottle]
    refusal = TagRefused
    refusal_message = "classify this galaxy first: tags are added after a classification"

    class InputSerializer(serializers.Serializer):
        tags = serializers.CharField(max_length=400, trim_whitespace=True,
                                     help_text='one line of tags, e.g. "#ring #dust-lane"')

    @extend_schema(responses=TagsOut)
    def get(self, request, pk: int):
        return Response(tags_body(request, get_subject_for_user(request.user, pk)))

    @extend_schema(request=InputSerializer, responses={201: TagsOut})
    def post(self, request, pk: int):
        write = self.volunteer_write(request, pk)
        tag_add(volunteer=write.volunteer, subject=write.subject, text=write.data["tags"])
        return Response(tags_body(request, write.subject), status=status.HTTP_201_CREATED)


class TagApi(AnonymousSessionCsrfMixin, APIView):
    """DELETE one of your own tags. Another volunteer's tag is refused (403): moderators hide tags instead."""

    throttle_classes = [TagRateThrottle]

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        tag_delete(volunteer=volunteer_lookup(user=request.user, session=request.session), tag_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagModerationApi(APIView):
    """POST ``{"action": "hide" | "restore", "reason": "..."}``: project moderators and staff only, audited."""

    class InputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=TagModeration.Action.values)
        reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses=inline_serializer(
        "TagModerated", {"id": serializers.IntegerField(), "hidden": serializers.BooleanField()}))
    def post(self, request, pk: int):
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated("sign in as a moderator of this project to moderate tags")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = tag_moderate(user=request.user, tag_id=pk, **data.validated_data)
        return Response({"id": tag.pk, "hidden": tag.hidden})


class TagSearchFilter(serializers.Serializer):
    tag = serializers.CharField(max_length=60, help_text="the tag, with or without #")
    workflow = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=Subject.Status.values, required=False)
    k = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20,
                                 help_text="how many similar untagged galaxies")


class TagSearchApi(APIView):
    """Galaxies tagged ``tag`` (most taggers first), then untagged ones ranked by similarity to them."""

    @extend_schema(parameters=[TagSearchFilter], responses=inline_serializer("TagSearch", {
        "tag": serializers.CharField(), "tagged": serializers.ListField(), "similar": serializers.ListField()}))
    def get(self, request):
        p = query_params(TagSearchFilter, request)
        found = tag_search(user=request.user, text=p["tag"], workflow_id=p.get("workflow"),
                           status=p.get("status"), k=p["k"])
        return Response({
            "tag": found.name,
            "tagged": [{**subject_payload(s), "n_tags": n, "status": s.status} for s, n in found.tagged],
            "similar": [{**subject_payload(s), "similarity": round(score, 4), "status": s.status}
                        for s, score in found.similar]})
