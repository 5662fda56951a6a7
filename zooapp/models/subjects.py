"""Subjects (galaxies), their images, gold answers and simulation truth."""
from __future__ import annotations

from django.db import models

from zooapp.models.projects import Project, Workflow


class SubjectSet(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="subject_sets")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="subject_sets")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Subject(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        RETIRED = "retired"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="subjects")
    subject_set = models.ForeignKey(SubjectSet, on_delete=models.CASCADE, related_name="subjects")
    external_id = models.CharField(max_length=200)
    metadata = models.JSONField(default=dict, blank=True)
    ra = models.FloatField(null=True, blank=True)
    dec = models.FloatField(null=True, blank=True)
    wcs_header = models.JSONField(null=True, blank=True, help_text="FITS WCS keywords of the displayed image.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64, db_index=True)
    is_gold = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # In [0, 1], served highest first (services/priorities.py). A new subject starts at 1.0: nobody has
    # classified it, so it is as uncertain as a subject can be, and the first aggregation of it refreshes this.
    priority = models.FloatField(default=1.0)
    n_classifications = models.PositiveIntegerField(default=0, help_text="Human classifications aggregated.")
    box_risk = models.FloatField(null=True, blank=True)
    holdout = models.BooleanField(default=False, help_text="In the machine's common held-out set: never trained on.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject_set", "external_id"], name="unique_subject_in_set")]
        indexes = [models.Index(fields=["workflow", "status", "is_gold", "-priority", "id"], name="subject_queue")]

    def __str__(self) -> str:
        return self.external_id

    @property
    def is_retired(self) -> bool:
        return self.status == self.Status.RETIRED


class SubjectFrame(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="frames")
    index = models.PositiveSmallIntegerField(default=0)
    label = models.CharField(max_length=40, default="image")
    image = models.FileField(upload_to="subjects/%Y/%m/")

    class Meta:
        ordering = ["index"]


class GoldAnswer(models.Model):
    """Expert answers for a gold subject. Never serialised to a volunteer before they answer."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="gold_answers")
    task = models.CharField(max_length=40)
    value = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "task"], name="unique_gold_answer")]


class SubjectTruth(models.Model):
    """Simulated truth of a synthetic subject: for evaluation only, never shown to volunteers."""

    subject = models.OneToOneField(Subject, on_delete=models.CASCADE, related_name="truth")
    values = models.JSONField()
