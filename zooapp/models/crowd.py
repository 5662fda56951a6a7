"""Volunteers, their classifications and learned reliabilities, favourites and views."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from zooapp.models.projects import Workflow, WorkflowVersion
from zooapp.models.subjects import Subject


class Volunteer(models.Model):
    """An agent whose votes the engine weighs: a person (signed in or not) or a machine."""

    class Kind(models.TextChoices):
        HUMAN = "human"
        MACHINE = "machine"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.HUMAN)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="volunteer")
    anonymous_token = models.UUIDField(null=True, blank=True, unique=True)
    name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        if self.user_id:
            return self.user.get_username()
        return self.name or f"anonymous-{self.pk}"


class Classification(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="classifications")
    workflow_version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="classifications")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="classifications")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="classifications")
    annotations = models.JSONField()
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # The order in which the online engine consumed it: a recompute replays this order.
    aggregation_seq = models.BigIntegerField(null=True, blank=True, db_index=True)
    # A machine's vote carries the confusion matrix (task -> (K, K) pseudo-counts) it was measured to have
    # when it voted, so a recompute weighs the vote exactly as the online engine did.
    machine_confusion = models.JSONField(null=True, blank=True)
    model_version = models.ForeignKey("ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="votes", help_text="The classifier version that cast a machine vote.")
    # The id an outside platform gave it (Zooniverse classification_id), so a re-import adds only what is new.
    external_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["volunteer", "subject"], name="one_classification_per_volunteer"),
                       models.UniqueConstraint(fields=["workflow", "external_id"], condition=~models.Q(external_id=""),
                                               name="one_classification_per_external_id")]
        indexes = [models.Index(fields=["workflow", "aggregation_seq"], name="classification_pending")]

    @property
    def is_aggregated(self) -> bool:
        return self.aggregation_seq is not None


class Reliability(models.Model):
    """One agent's Dirichlet confusion matrix for one question: alpha[true][given] pseudo-counts."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="reliabilities")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="reliabilities")
    task = models.CharField(max_length=40)
    alpha = models.JSONField()
    n_votes = models.PositiveIntegerField(default=0)
    n_gold = models.PositiveIntegerField(default=0)
    skill = models.FloatField(default=0.0, help_text="Expected information per vote, bits.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["volunteer", "workflow", "task"], name="unique_reliability")]


class Favourite(models.Model):
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="favourites")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="favourited_by")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["volunteer", "subject"], name="unique_favourite")]


class SubjectView(models.Model):
    """A subject served to a volunteer. Selection never serves the same subject twice to one volunteer."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="views")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="views")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["volunteer", "subject"], name="unique_subject_view")]
