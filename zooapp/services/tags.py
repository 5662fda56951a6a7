"""Volunteers' hashtags on galaxies, as Zooniverse Talk's: add, delete one's own, moderate, search, export.

A tag is one normalised word: ``#Spiral-Arms`` and ``spiral-arms`` are the same tag. A volunteer tags a
galaxy they have classified (Zooniverse lets Talk tag any subject; here a tag comes after a look long
enough to answer the questions, which also keeps drive-by spam off galaxies the tagger never looked at).
A moderator hides a tag rather than deleting it, so that the author's work and the decision stay on
record (`TagModeration`), and a restore is one more row, not an undo.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q, QuerySet

from zooapp.access import tag_may_moderate, tag_readable_subjects
from zooapp.errors import ApplicationError, NotFound, ValidationFailed
from zooapp.models import Classification, Subject, SubjectTag, TagModeration, Volunteer
from zooapp.services.embeddings import subjects_similar_to

MIN_LENGTH, MAX_LENGTH = 2, 30
MAX_PER_REQUEST = 5
MAX_PER_SUBJECT = 10  # one volunteer's tags on one galaxy
MAX_REASON = 200
SUGGESTIONS_TTL = 300
# After the "#": a letter or digit (any script), then letters, digits, "_" or "-".
_WORD = re.compile(r"[^\W_][\w-]*")
_SEPARATORS = re.compile(r"[\s,;]+")


class TagRefused(ApplicationError):
    """A tag write the user has no right to (403): not their tag, not a galaxy they classified, not a moderator."""

    status_code = 403


def tag_normalise(*, text: str) -> str:
    """``text`` as a stored tag name (lowercase, no "#"), or ValidationFailed saying what is wrong with it.

    >>> tag_normalise(text="#Spiral-Arms")
    'spiral-arms'
    """
    word = unicodedata.normalize("NFKC", text.strip()).lstrip("#").lower()
    shown = text.strip()[:MAX_LENGTH + 10]
    if not word:
        raise ValidationFailed(f"{shown!r} is not a tag: write a word after the #, e.g. #spiral")
    if not MIN_LENGTH <= len(word) <= MAX_LENGTH:
        raise ValidationFailed(f"#{word[:MAX_LENGTH]}{'…' if len(word) > MAX_LENGTH else ''} is {len(word)} "
                               f"characters long; a tag has {MIN_LENGTH} to {MAX_LENGTH}")
    if not _WORD.fullmatch(word):
        raise ValidationFailed(f"{shown!r} is not a tag: use letters, digits, '-' and '_' only, starting with a "
                               "letter or digit (no spaces: #tidal-tail, not #tidal tail)")
    return word


def tags_parse(*, text: str) -> list[str]:
    """The distinct tags in a volunteer's line (separated by spaces, commas or semicolons), in order.

    >>> tags_parse(text="#Ring, #ring #dust-lane")
    ['ring', 'dust-lane']
    """
    if not isinstance(text, str):
        raise ValidationFailed("tags must be text, e.g. \"#ring #dust-lane\"")
    words = [w for w in _SEPARATORS.split(text) if w]
    if not words:
        raise ValidationFailed("write at least one tag, e.g. #ring")
    names = list(dict.fromkeys(tag_normalise(text=w) for w in words))
    if len(names) > MAX_PER_REQUEST:
        raise ValidationFailed(f"{len(names)} tags at once; add at most {MAX_PER_REQUEST} at a time")
    return names


@transaction.atomic
def tag_add(*, volunteer: Volunteer, subject: Subject, text: str) -> list[SubjectTag]:
    """Add the volunteer's tags in ``text`` to a galaxy they classified; all or none are stored.

    A tag the volunteer already gave the galaxy is returned as it is, so a retry stores nothing twice.
    """
    names = tags_parse(text=text)
    if not Classification.objects.filter(volunteer=volunteer, subject=subject).exists():
        raise TagRefused("classify this galaxy first: tags are added after a classification")
    Volunteer.objects.select_for_update().filter(pk=volunteer.pk).first()  # one writer per volunteer: the cap holds
    existing = {t.name: t for t in SubjectTag.objects.filter(subject=subject, volunteer=volunteer)}
    new = [n for n in names if n not in existing]
    if len(existing) + len(new) > MAX_PER_SUBJECT:
        raise ValidationFailed(f"you have {len(existing)} tags on this galaxy; a volunteer may give one galaxy "
                               f"at most {MAX_PER_SUBJECT}")
    created = {n: SubjectTag.objects.create(subject=subject, volunteer=volunteer, name=n) for n in new}
    return [existing.get(n) or created[n] for n in names]


def tag_delete(*, volunteer: Volunteer | None, tag_id: int) -> None:
    """Delete one of the volunteer's own tags; another volunteer's is refused (a moderator hides it instead)."""
    tag = SubjectTag.objects.filter(pk=tag_id).first()
    if tag is None:
        raise NotFound(f"no tag {tag_id}")
    if volunteer is None or tag.volunteer_id != volunteer.pk:
        raise TagRefused("only its author can delete a tag; moderators hide tags instead")
    tag.delete()


@transaction.atomic
def tag_moderate(*, user, tag_id: int, action: str, reason: str = "") -> SubjectTag:
    """Hide or restore a tag as a moderator of its project, with a `TagModeration` row naming who and why."""
    tag = SubjectTag.objects.select_for_update().select_related("subject__workflow__project").filter(
        pk=tag_id).first()
    if tag is None:
        raise NotFound(f"no tag {tag_id}")
    if action not in TagModeration.Action.values:
        raise ValidationFailed(f"unknown moderation action {action!r}; use hide or restore")
    if len(reason) > MAX_REASON:
        raise ValidationFailed(f"the reason is {len(reason)} characters long; keep it under {MAX_REASON}")
    if not tag_may_moderate(user, tag.subject.workflow.project):
        raise TagRefused("only the project's moderators and staff can hide or restore tags")
    tag.hidden = action == TagModeration.Action.HIDE
    tag.save(update_fields=["hidden"])
    TagModeration.objects.create(tag=tag, moderator=user, action=action, reason=reason.strip())
    return tag


@dataclass(frozen=True)
class TagCount:
    name: str
    count: int
    mine: int | None = None  # the id of the viewer's own tag of this name, which they may delete
    hidden: int = 0  # how many of this name are hidden (shown to moderators only)


def tag_summary(*, subject: Subject, volunteer: Volunteer | None = None,
                moderator: bool = False) -> list[TagCount]:
    """A subject's tags, most used first: visible ones for everyone, hidden ones too for a moderator.

    The viewer's own hidden tag is not shown to them as theirs: a hidden tag is hidden from its author too.
    """
    tags = SubjectTag.objects.filter(subject=subject)
    if not moderator:
        tags = tags.filter(hidden=False)
    counts = (tags.values("name").annotate(n=Count("id", filter=Q(hidden=False)), n_hidden=Count(
        "id", filter=Q(hidden=True))).order_by("-n", "name"))
    mine = dict(tags.filter(volunteer=volunteer, hidden=False).values_list("name", "id")) if volunteer else {}
    return [TagCount(name=c["name"], count=c["n"], mine=mine.get(c["name"]), hidden=c["n_hidden"]) for c in counts]


def tag_counts_by_subject(*, user, subject_ids: list[int]) -> dict[int, list[TagCount]]:
    """Visible tags of several subjects at once (two queries), most used first: the subjects API's ``tags``.

    Hidden tags are left out for everyone here (moderators see them on the tags endpoint), and so are the
    tags of subjects whose tags the user may not read (`access.tag_readable_subjects`).
    """
    readable = tag_readable_subjects(user).filter(pk__in=subject_ids).values("pk")
    counts = (SubjectTag.objects.filter(subject_id__in=readable, hidden=False).values("subject_id", "name")
              .annotate(n=Count("id")).order_by("subject_id", "-n", "name"))
    out: dict[int, list[TagCount]] = {}
    for c in counts:
        out.setdefault(c["subject_id"], []).append(TagCount(name=c["name"], count=c["n"]))
    return out


def tag_names_popular(*, workflow_id: int, limit: int = 12) -> list[str]:
    """The workflow's most used visible tags: suggestions for the tag box.

    Cached for `SUGGESTIONS_TTL` seconds: the classify page asks on every load, and a GROUP BY over all of a
    survey's tags per page view would cost more than slightly stale suggestions.
    """
    def count() -> list[str]:
        return list(SubjectTag.objects.filter(subject__workflow_id=workflow_id, hidden=False).values("name")
                    .annotate(n=Count("id")).order_by("-n", "name").values_list("name", flat=True)[:limit])

    return cache.get_or_set(f"tag-suggestions:{workflow_id}:{limit}", count, SUGGESTIONS_TTL)


def tag_list_for_moderation(*, project, name: str = "", hidden: bool | None = None) -> QuerySet[SubjectTag]:
    """A project's tags for its moderators, newest first, optionally one name or one state only."""
    tags = (SubjectTag.objects.filter(subject__workflow__project=project)
            .select_related("subject", "volunteer__user").prefetch_related("subject__frames")
            .order_by("-created_at", "-id"))
    if name:
        tags = tags.filter(name=tag_normalise(text=name))
    if hidden is not None:
        tags = tags.filter(hidden=hidden)
    return tags


def tag_moderation_log(*, project, limit: int = 50) -> QuerySet[TagModeration]:
    """The latest hides and restores on a project's tags: who, what, when and why."""
    return (TagModeration.objects.filter(tag__subject__workflow__project=project)
            .select_related("tag__subject", "moderator")[:limit])


@dataclass(frozen=True)
class TagSearch:
    """Galaxies for one tag: those tagged with it (most taggers first), then untagged galaxies most like them."""

    name: str
    tagged: list[tuple[Subject, int]]  # (subject, how many volunteers gave it the tag)
    similar: list[tuple[Subject, float]]  # (subject, similarity to the tagged galaxies, higher is closer)


def tag_search(*, user, text: str, workflow_id: int | None = None, status: str | None = None,
               limit: int = 60, k: int = 20) -> TagSearch:
    """Search by tag among the galaxies the user may read; ``status`` keeps only active or retired ones.

    The similar galaxies come from the serving encoder's embeddings (`services.embeddings`); where no
    embeddings exist yet the list is empty and the tagged galaxies are all there is.
    """
    name = tag_normalise(text=text)
    if status is not None and status not in Subject.Status.values:
        raise ValidationFailed(f"unknown status {status!r}; use {' or '.join(Subject.Status.values)}")
    readable = Subject.objects.filter(pk__in=tag_readable_subjects(user).values("pk"))
    if workflow_id is not None:
        readable = readable.filter(workflow_id=workflow_id)
    if status is not None:
        readable = readable.filter(status=status)
    shown = Q(tags__name=name, tags__hidden=False)
    tagged = list(readable.filter(shown).annotate(n_tags=Count("tags", filter=shown, distinct=True))
                  .select_related("workflow").prefetch_related("frames").order_by("-n_tags", "id")[:limit])
    return TagSearch(name=name, tagged=[(s, s.n_tags) for s in tagged],
                     similar=_similar(readable, tagged, workflow_id, status, k))


def _similar(readable: QuerySet[Subject], tagged: list[Subject], workflow_id: int | None, status: str | None,
             k: int) -> list[tuple[Subject, float]]:
    """Untagged galaxies nearest the tagged ones' mean embedding, one search per project (each has its own encoder)."""
    by_project: dict[int, list[int]] = {}
    for s in tagged:
        by_project.setdefault(s.workflow.project_id, []).append(s.pk)
    tagged_ids = [s.pk for s in tagged]
    ranked = sorted((pair for ids in by_project.values() for pair in subjects_similar_to(
        subject_ids=ids, k=k, workflow_id=workflow_id, status=status, exclude_ids=tagged_ids)),
        key=lambda pair: -pair[1])[:k]
    by_id = readable.prefetch_related("frames").in_bulk([pk for pk, _ in ranked])  # drops other projects' private ones
    return [(by_id[pk], score) for pk, score in ranked if pk in by_id]


TAG_COLUMNS = ["tag_id", "tag", "subject_id", "subject_external_id", "user_id", "user_name", "created_at", "hidden",
               "moderated_by", "moderated_at", "moderation_reason"]


def tag_rows(*, workflow) -> Iterator[dict[str, str]]:
    """Every tag on the workflow's subjects, hidden ones flagged with their last moderation, oldest first."""
    tags = (SubjectTag.objects.filter(subject__workflow=workflow).select_related("subject", "volunteer__user")
            .prefetch_related("moderations__moderator").order_by("id"))
    for t in tags.iterator(chunk_size=500):
        last = next(iter(t.moderations.all()), None)  # ordered newest first
        user = t.volunteer.user
        yield {"tag_id": str(t.pk), "tag": f"#{t.name}", "subject_id": str(t.subject_id),
               "subject_external_id": t.subject.external_id, "user_id": str(t.volunteer_id),
               "user_name": user.get_username() if user else f"not-logged-in-{t.volunteer_id}",
               "created_at": t.created_at.isoformat(), "hidden": str(t.hidden).lower(),
               "moderated_by": (last.moderator.get_username() if last and last.moderator else ""),
               "moderated_at": last.created_at.isoformat() if last else "",
               "moderation_reason": last.reason if last else ""}
