"""What the API and the classify page send out. Gold answers and truth never appear here."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from zooapp.models import (Classification, ModelVersion, Project, Subject, SubjectPosterior, SubjectSet,
                           Workflow)


def subject_payload(subject: Subject, *, favourites: set[int] = frozenset()) -> dict[str, Any]:
    """A subject as the volunteer's browser sees it: images and public metadata only."""
    public = {k: v for k, v in (subject.metadata or {}).items() if not str(k).startswith(("#", "!", "_"))}
    return {"id": subject.pk, "width": subject.width, "height": subject.height,
            "frames": [{"label": f.label, "url": f.image.url} for f in subject.frames.all()],
            "metadata": public, "favourite": subject.pk in favourites}


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "slug", "description", "created_at"]


class WorkflowSerializer(serializers.ModelSerializer):
    version = serializers.SerializerMethodField()
    tree = serializers.SerializerMethodField()

    class Meta:
        model = Workflow
        fields = ["id", "project", "name", "active", "retirement_rules", "version", "tree"]

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


class SubjectSerializer(serializers.ModelSerializer):
    frames = serializers.SerializerMethodField()

    class Meta:
        model = Subject
        fields = ["id", "workflow", "subject_set", "external_id", "ra", "dec", "width", "height", "status",
                  "n_classifications", "frames"]

    def get_frames(self, obj: Subject) -> list[dict]:
        return subject_payload(obj)["frames"]


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
