"""Subject sets uploaded through the browser or the API: a manifest CSV plus image files, in batches.

Uploads are resumable: the same manifest may be sent again with the next batch of images.
Rows already stored in the set are skipped, rows whose image is not in this batch are
reported as missing, and an image whose content is already in the workflow (the same
``Subject.content_hash``) is reported as a duplicate instead of stored twice. Every image
of a batch is read and checked before anything is written, so a bad file leaves nothing behind.
"""
from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Iterable

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from zooapp.models import Subject, SubjectSet, Workflow
from zooapp.services.projects import gold_answers_load
from zooapp.services.subjects import (RESERVED_COLUMNS, DisplayImage, IngestError, _float_or_none, image_to_display,
                                      read_manifest, subject_create)

MAX_MANIFEST_BYTES = 5 * 1024 * 1024


@dataclass
class UploadReport:
    subject_set: SubjectSet | None
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"subject_set": self.subject_set.pk if self.subject_set else None, "created": self.created,
                "skipped": self.skipped, "duplicates": self.duplicates, "missing": self.missing}


@dataclass(frozen=True)
class _Prepared:
    external_id: str
    image: DisplayImage
    ra: float | None
    dec: float | None
    metadata: dict[str, Any]


def _save_upload(upload: UploadedFile, folder: Path, *, limit: int) -> Path:
    name = PurePath(upload.name or "").name
    if not name or name.startswith("."):
        raise IngestError(f"{upload.name!r} is not a usable file name")
    if upload.size is not None and upload.size > limit:
        raise IngestError(f"{name} is {upload.size} bytes; the limit is {limit} bytes")
    path = folder / name
    with path.open("wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    return path


def _manifest_rows(manifest: UploadedFile, folder: Path) -> list[dict[str, str]]:
    rows = read_manifest(_save_upload(manifest, folder, limit=MAX_MANIFEST_BYTES))
    ids = [row["id"] for row in rows]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise IngestError(f"the manifest repeats id(s) {', '.join(repeated[:5])}")
    return rows


def _images(images: Iterable[UploadedFile], wanted: set[str], folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for upload in images:
        name = PurePath(upload.name or "").name
        if name not in wanted:
            raise IngestError(f"image {name!r} is not named in the manifest's file column")
        out[name] = _save_upload(upload, folder, limit=settings.ZOOLOOP_MAX_IMAGE_BYTES)
    return out


def _prepare(rows: list[dict[str, str]], paths: dict[str, Path], known: set[str], hashes: dict[str, str],
             report: UploadReport) -> list[_Prepared]:
    prepared = []
    for line, row in enumerate(rows, start=2):
        if row["id"] in known:
            report.skipped.append(row["id"])
            continue
        path = paths.get(PurePath(row["file"]).name)
        if path is None:
            report.missing.append(row["id"])
            continue
        try:
            image = image_to_display(path)
        except IngestError as exc:
            raise IngestError(f"manifest line {line} ({row['id']}): {exc}") from None
        digest = hashlib.sha256(image.png).hexdigest()
        if digest in hashes:
            report.duplicates.append({"id": row["id"], "duplicate_of": hashes[digest]})
            continue
        hashes[digest] = row["id"]
        ra, dec = _float_or_none(row, "ra", line), _float_or_none(row, "dec", line)
        if ra is None and image.centre_radec:
            ra, dec = image.centre_radec
        meta = {k: v for k, v in row.items() if k not in RESERVED_COLUMNS and v not in (None, "")}
        prepared.append(_Prepared(external_id=row["id"], image=image, ra=ra, dec=dec, metadata=meta))
    return prepared


def subject_set_upload(*, workflow: Workflow, name: str, manifest: UploadedFile,
                       images: Iterable[UploadedFile]) -> UploadReport:
    """Add one batch of a manifest's images to the subject set ``name`` (created on the first batch)."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise IngestError("give the subject set a name (at most 200 characters)")
    subject_set = SubjectSet.objects.filter(workflow=workflow, name=name).first()
    report = UploadReport(subject_set=subject_set)
    with tempfile.TemporaryDirectory(prefix="zooloop-upload-") as tmp:
        folder = Path(tmp)
        (folder / "images").mkdir()
        rows = _manifest_rows(manifest, folder)
        paths = _images(images, {PurePath(r["file"]).name for r in rows}, folder / "images")
        known = set(subject_set.subjects.values_list("external_id", flat=True)) if subject_set else set()
        hashes = dict(Subject.objects.filter(workflow=workflow).values_list("content_hash", "external_id"))
        prepared = _prepare(rows, paths, known, hashes, report)
    with transaction.atomic():
        if subject_set is None and prepared:
            subject_set = SubjectSet.objects.create(project=workflow.project, workflow=workflow, name=name)
            report.subject_set = subject_set
        for p in prepared:
            subject_create(subject_set=subject_set, external_id=p.external_id, image=p.image, ra=p.ra, dec=p.dec,
                           metadata=p.metadata)
            report.created.append(p.external_id)
    return report


def gold_answers_upload(*, workflow: Workflow, upload: UploadedFile) -> int:
    """Gold answers (CSV id, task, value) uploaded apart from the subjects; all rows or none."""
    with tempfile.TemporaryDirectory(prefix="zooloop-gold-") as tmp:
        path = _save_upload(upload, Path(tmp), limit=MAX_MANIFEST_BYTES)
        try:
            return gold_answers_load(workflow=workflow, path=path)
        except (UnicodeDecodeError, KeyError) as exc:
            raise IngestError(f"{path.name} is not a readable CSV with columns id, task, value: {exc}") from None
