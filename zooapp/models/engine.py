"""What the engine concludes: posteriors, consensus boxes, retirements and rule changes."""
from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models
from scipy.special import logsumexp

from zooapp.models.projects import Workflow
from zooapp.models.subjects import Subject


class SubjectPosterior(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="posteriors")
    task = models.CharField(max_length=40)
    labels = models.JSONField()
    log_posterior = models.JSONField()
    vote_counts = models.JSONField(help_text="Raw human votes per answer.")
    weighted_counts = models.JSONField(help_text="Votes weighted by each volunteer's skill.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "task"], name="unique_subject_posterior")]

    @property
    def probabilities(self) -> np.ndarray:
        """The posterior over ``labels``, normalised in log space (long vote runs underflow as plain products)."""
        logp = np.asarray(self.log_posterior, dtype=float)
        return np.exp(logp - logsumexp(logp))


class ConsensusBox(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="consensus_boxes")
    x_min = models.FloatField()
    y_min = models.FloatField()
    x_max = models.FloatField()
    y_max = models.FloatField()
    p_real = models.FloatField()
    n_workers = models.PositiveIntegerField()
    n_seen = models.PositiveIntegerField()


class Retirement(models.Model):
    """Each retirement or un-retirement, with the rule or agent that caused it."""

    class Action(models.TextChoices):
        RETIRE = "retire"
        UNRETIRE = "unretire"

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="retirements")
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.RETIRE)
    reason = models.CharField(max_length=60)
    agent = models.CharField(max_length=20, default="humans")
    rules = models.JSONField()
    posterior = models.JSONField(null=True)
    n_classifications = models.PositiveIntegerField()
    model_version = models.ForeignKey("ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="retirements", help_text="The classifier behind a machine retirement.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class RuleChange(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="rule_changes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    old = models.JSONField()
    new = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
