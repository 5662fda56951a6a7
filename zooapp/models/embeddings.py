"""Learned representations: subject embeddings per classifier version, anomaly sessions and new questions."""
from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models

from zooapp.models.machine import ModelVersion
from zooapp.models.subjects import Subject


class SubjectEmbedding(models.Model):
    """One subject's embedding under one classifier version's encoder (see ml.represent.embed).

    The vector is stored as float32 bytes: 1 KiB for the 256 dimensions of a two-member small_cnn
    ensemble, so a million subjects take about 1 GiB per version in the database.
    """

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="embeddings")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="embeddings")
    vector = models.BinaryField(help_text="float32 unit vector, little-endian bytes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_version", "subject"], name="unique_subject_embedding")]

    def as_array(self) -> np.ndarray:
        """``(D,)`` float32 copy of the stored vector."""
        return np.frombuffer(bytes(self.vector), dtype="<f4").copy()


class AnomalySession(models.Model):
    """One researcher's search for the galaxies they find interesting (see services/anomaly.py)."""

    workflow = models.ForeignKey("zooapp.Workflow", on_delete=models.CASCADE, related_name="anomaly_sessions")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="anomaly_sessions")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class AnomalyLabel(models.Model):
    session = models.ForeignKey(AnomalySession, on_delete=models.CASCADE, related_name="labels")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="anomaly_labels")
    interesting = models.BooleanField()
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "subject"], name="unique_anomaly_label")]


class NewQuestion(models.Model):
    """A question the classifier was never trained on, learned from few labels (see services/questions.py)."""

    workflow = models.ForeignKey("zooapp.Workflow", on_delete=models.CASCADE, related_name="new_questions")
    key = models.SlugField(max_length=40)
    text = models.CharField(max_length=300)
    answers = models.JSONField(help_text="Answer labels, e.g. ['ring', 'no ring'].")
    volunteers = models.BooleanField(default=False, help_text="Volunteers answer it on the classify page, for "
                                                              "each galaxy they have just classified.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "key"], name="unique_new_question")]


class QuestionLabel(models.Model):
    """One person's answer to a new question for one subject: a project member's (``user``, from the API or
    the command) or a volunteer's from the classify page (``volunteer``, signed in or not; ``user`` empty)."""

    question = models.ForeignKey(NewQuestion, on_delete=models.CASCADE, related_name="labels")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="question_labels")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    volunteer = models.ForeignKey("zooapp.Volunteer", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="question_labels")
    answer = models.PositiveSmallIntegerField(help_text="Index into the question's answers.")
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "subject", "user"], name="unique_question_label"),
                       models.UniqueConstraint(fields=["question", "subject", "volunteer"],
                                               name="unique_volunteer_question_label")]


class QuestionHead(models.Model):
    """A head fitted on one classifier version's embeddings; its predictions belong to that version."""

    question = models.ForeignKey(NewQuestion, on_delete=models.CASCADE, related_name="heads")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="question_heads")
    n_labels = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)


class QuestionPrediction(models.Model):
    head = models.ForeignKey(QuestionHead, on_delete=models.CASCADE, related_name="predictions")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="question_predictions")
    probs = models.JSONField(help_text="Probability of each answer (the ensemble's mean).")
    std = models.FloatField(help_text="Ensemble standard deviation of the most likely answer's probability.")
    entropy = models.FloatField(help_text="Entropy of probs (nats).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["head", "subject"], name="unique_question_prediction")]
