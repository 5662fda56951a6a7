"""Exports of catalogues and raw classifications."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from zooapp.models.projects import Workflow


class Export(models.Model):
    """A catalogue or data file written in the background and kept for project staff to download."""

    class Kind(models.TextChoices):
        CATALOGUE = "catalogue"
        CLUMPS = "clumps"
        COCO = "coco"
        CLASSIFICATIONS = "classifications"
        WORKFLOW = "workflow"
        TAGS = "tags"

    class Format(models.TextChoices):
        FITS = "fits"
        VOTABLE = "votable"
        ECSV = "ecsv"
        CSV = "csv"
        JSON = "json"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="exports")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    format = models.CharField(max_length=10, choices=Format.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.FloatField(default=0.0, help_text="0..1 while running.")
    file_name = models.CharField(max_length=300, blank=True, help_text="Relative to ZOOLOOP_EXPORT_DIR.")
    n_rows = models.PositiveIntegerField(default=0)
    options = models.JSONField(default=dict, blank=True, help_text="Filters: retired_only, workflow_version.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
