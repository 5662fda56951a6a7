"""Volunteers' free-text hashtags on subjects, as Zooniverse Talk's, and the moderators' audit trail."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from zooapp.models.crowd import Volunteer
from zooapp.models.subjects import Subject


class SubjectTag(models.Model):
    """One volunteer's tag on one subject: ``name`` is the normalised word, shown as ``#name``.

    A hidden tag is kept (its author, the moderation that hid it) but shown to nobody but moderators,
    and it is left out of searches and public exports.
    """

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="tags")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40, db_index=True)
    hidden = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "volunteer", "name"], name="one_tag_per_author")]
        indexes = [models.Index(fields=["name", "hidden"], name="tag_search")]

    def __str__(self) -> str:
        return f"#{self.name}"


class TagModeration(models.Model):
    """Who hid or restored a tag, when and why: the audit trail of moderation."""

    class Action(models.TextChoices):
        HIDE = "hide"
        RESTORE = "restore"

    tag = models.ForeignKey(SubjectTag, on_delete=models.CASCADE, related_name="moderations")
    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                  related_name="tag_moderations")
    action = models.CharField(max_length=10, choices=Action.choices)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
