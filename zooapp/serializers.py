"""What the API and the classify page send out. Gold answers and truth never appear here."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from zooapp.access import public_metadata
from zooapp.models import (Classification, ModelVersion, Project, Subject, SubjectPosterior, SubjectSet,
                           Workflow)
from zooapp.services.tags import tag_counts_by_subject


ID_MAX = 2**63 - 1  # the largest key a 64-bit column holds: past it the database raises instead of matching nothing


def subject_payload(subject: Subject, *, favourites: set[int] = frozenset()) -> dict[str, Any]:
    """A subject as the volunteer's browser sees it: images and public metadata only."""
    return {"id": subject.pk, "width": subject.width, "height": subject.height,
            "frames": [{"label": f.label, "url": f.image.url} for f in subject.frames.all()],
            "metadata": public_metadata(subject.metadata), "favourite": subject.pk in favourites}


def query_params(filter_class: type[serializers.Serializer], request) -> dict[str, Any]:
    """The request's query parameters, checked by a filter serializer: a 400 naming each bad one."""
    params = filter_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


def _whole_number(message: str, **kwargs) -> serializers.IntegerField:
    errors = {key: message for key in ("invalid", "min_value", "max_value", "max_string_length")}
    return serializers.IntegerField(required=False, error_messages=errors, **kwargs)


def _id(what: str) -> serializers.IntegerField:
    return _whole_number(f"must be {what} (a whole number)", min_value=0, max_value=ID_MAX)


class ClassificationFilter(serializers.Serializer):
    since = _id("a classification id")


class QueueFilter(serializers.Serializer):
    n = _whole_number("must be a whole number from 1 to 10", min_value=1, max_value=10, default=1)
    skip = _id("the id of the subject being skipped")


class PosteriorFilter(serializers.Serializer):
    workflow = _id("a workflow id")
    subject = _id("a subject id")


class ExportFilter(serializers.Serializer):
    workflow = _id("a workflow id")


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "slug", "description", "created_at"]


class WorkflowSerializer(serializers.ModelSerializer):
    version = serializers.SerializerMethodField()
    tree = serializers.SerializerMethodField()

    class Meta:
        model = Workflow
        fields = ["id", "project", "name", "active", "retirement_rules", "queue_order", "version", "tree"]

    def get_version(self, obj: Workflow) -> int | None:
        v = obj.current_version
        return v.pk if v else None

    def get_tree(self, obj: Workflow) -> dict:
        v = obj.current_version
        return v.tree if v else {}


class SubjectSetSerializer(serializers.ModelSerializer):
    class Meta:
        model = SubjectSet
        fields = ["id", "project", "workflow", "name", "created_at"]


class SubjectTagSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="the tag, without the #")
    count = serializers.IntegerField(help_text="how many volunteers gave it")


class SubjectListSerializer(serializers.ListSerializer):
    """A page of subjects, their tags counted in one query for the whole page rather than one per subject."""

    def to_representation(self, data):
        subjects = list(data.all() if hasattr(data, "all") else data)
        self.child.context["tags"] = _tags_for(self.child.context, subjects)
        return super().to_representation(subjects)


def _tags_for(context: dict, subjects: list[Subject]) -> dict:
    user = getattr(context.get("request"), "user", None) or AnonymousUser()  # without a request: public tags only
    return tag_counts_by_subject(user=user, subject_ids=[s.pk for s in subjects])


class SubjectSerializer(serializers.ModelSerializer):
    frames = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField(help_text="Volunteers' visible tags, most used first (hidden ones and "
                                                       "those of subjects you may not read are left out).")

    class Meta:
        model = Subject
        fields = ["id", "workflow", "subject_set", "external_id", "ra", "dec", "width", "height", "status",
                  "n_classifications", "frames", "tags"]
        list_serializer_class = SubjectListSerializer

    def get_frames(self, obj: Subject) -> list[dict]:
        return subject_payload(obj)["frames"]

    @extend_schema_field(SubjectTagSerializer(many=True))
    def get_tags(self, obj: Subject) -> list[dict]:
        tags = self.context.get("tags")
        if tags is None:  # one subject (the detail view): count its tags alone
            tags = _tags_for(self.context, [obj])
        return [{"name": t.name, "count": t.count} for t in tags.get(obj.pk, [])]


class ClassificationOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Classification
        fields = ["id", "workflow", "workflow_version", "subject", "annotations", "started_at", "finished_at",
                  "created_at"]


class PosteriorSerializer(serializers.ModelSerializer):
    probabilities = serializers.SerializerMethodField()

    class Meta:
        model = SubjectPosterior
        fields = ["subject", "task", "labels", "probabilities", "vote_counts", "weighted_counts", "updated_at"]

    def get_probabilities(self, obj: SubjectPosterior) -> list[float]:
        return obj.probabilities.tolist()


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "workflow", "kind", "number", "n_train", "n_val", "metrics", "serving", "device", "created_at"]
