"""The machine's model versions and its predictions."""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from zooapp.models.projects import Workflow
from zooapp.models.subjects import Subject


class ModelVersion(models.Model):
    class Kind(models.TextChoices):
        CLASSIFIER = "classifier"
        DETECTOR = "detector"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="model_versions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    number = models.PositiveIntegerField()
    file = models.CharField(max_length=500)
    n_train = models.PositiveIntegerField()
    n_val = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict)
    serving = models.BooleanField(default=False)
    device = models.CharField(max_length=40, default="cpu")
    # The workflow's human classifications when this version was trained: the retraining cadence grows from it.
    n_human_classifications = models.PositiveBigIntegerField(default=0)
    # Per question, the histogram calibration measured on the held-out set (see services/machine/calibration.py);
    # null until there were enough held-out subjects, and the machine retires nothing on an uncalibrated version.
    calibration = models.JSONField(null=True, blank=True)
    # Issue #18: diffusion-generated galaxies added to the training set (0 = trained on real subjects only),
    # the ratio of generated to real images for the rare classes, and the folder they came from.
    n_generated = models.PositiveIntegerField(default=0)
    generated_ratio = models.FloatField(null=True, blank=True)
    generated_dir = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "kind", "number"], name="unique_model_number"),
            models.UniqueConstraint(fields=["workflow", "kind"], condition=Q(serving=True), name="one_serving_model"),
        ]

    @property
    def trained_on_generated(self) -> bool:
        return self.n_generated > 0


class Prediction(models.Model):
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="predictions")
    task = models.CharField(max_length=40)
    probs = models.JSONField(help_text="Classifier: answer probabilities. Detector: [] (see boxes).")
    boxes = models.JSONField(null=True, blank=True,
                             help_text="Detector: [[x_min, y_min, x_max, y_max, score], ...] in image pixels.")
    bald = models.FloatField(default=0.0)
    # The version's BALD as a rank in [0, 1] over the galaxies it scored when it started serving: the queue
    # blends this fixed rank with each galaxy's own uncertainty, so a galaxy's priority is refreshed alone.
    bald_rank = models.FloatField(null=True, blank=True)
    entropy = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_version", "subject", "task"], name="unique_prediction")]
