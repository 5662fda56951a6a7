"""Exports: started from the dashboard or the API, written by a Celery worker, kept for staff to download."""
from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from astropy.io import fits
from astropy.table import Table
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from zooapp.errors import NotFound, ValidationFailed
from zooapp.models import Export, Workflow
from zooapp.services.catalogues import (CLASSIFICATION_COLUMNS, Progress, catalogue_table, classification_rows,
                                        clump_table, coco_document, no_progress, zooniverse_workflow_document)
from zooapp.services.tags import TAG_COLUMNS, tag_rows

log = logging.getLogger(__name__)

FORMATS: dict[str, tuple[str, ...]] = {
    Export.Kind.CATALOGUE: ("fits", "votable", "ecsv", "csv"),
    Export.Kind.CLUMPS: ("fits", "votable", "ecsv", "csv"),
    Export.Kind.COCO: ("json",),
    Export.Kind.CLASSIFICATIONS: ("csv",),
    Export.Kind.WORKFLOW: ("json",),
    Export.Kind.TAGS: ("csv",),
}
SUFFIX = {"fits": ".fits", "votable": ".vot.xml", "ecsv": ".ecsv", "csv": ".csv", "json": ".json"}


class ExportRejected(ValidationFailed):
    """An export that cannot be made (unknown kind or format, or a file not ready)."""


class ExportNotReady(NotFound, ExportRejected):
    """An export whose file is not written yet, or has gone from the disk (404)."""


@dataclass(frozen=True)
class ExportOptions:
    """Filters of one export. ``retired_only``: catalogue and classifications; ``workflow_version`` (a version
    number): classifications only, since a catalogue's posteriors aggregate every version's votes."""

    retired_only: bool = False
    workflow_version: int | None = None
    include_unclassified: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v}


def _check(kind: str, fmt: str, options: ExportOptions = ExportOptions(), workflow: Workflow | None = None) -> None:
    if kind not in FORMATS:
        raise ExportRejected(f"unknown export kind {kind!r}; choose one of {', '.join(FORMATS)}")
    if fmt not in FORMATS[kind]:
        raise ExportRejected(f"a {kind} export can be written as {', '.join(FORMATS[kind])}, not {fmt!r}")
    if options.retired_only and kind not in (Export.Kind.CATALOGUE, Export.Kind.CLASSIFICATIONS):
        raise ExportRejected(f"retired_only applies to catalogue and classifications exports, not {kind}")
    if options.workflow_version is not None:
        if kind != Export.Kind.CLASSIFICATIONS:
            raise ExportRejected("workflow_version applies to the classifications export only: a catalogue "
                                 "aggregates the votes of every version")
        if workflow is not None and not workflow.versions.filter(number=options.workflow_version).exists():
            raise ExportRejected(f"workflow {workflow.pk} has no version {options.workflow_version}")


def write_table(table: Table, path: Path, fmt: str) -> None:
    """Write with units, UCDs and descriptions. FITS also gets TOPCAT's TUCDn/TCOMMn cards."""
    if fmt == "fits":
        hdu = fits.table_to_hdu(table)
        for i, name in enumerate(table.colnames, start=1):
            hdu.header[f"TUCD{i}"] = table[name].meta.get("ucd", "")
            hdu.header[f"TCOMM{i}"] = (table[name].description or "")[:68]
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
    elif fmt == "votable":
        table.write(path, format="votable", overwrite=True)
    elif fmt == "ecsv":
        table.write(path, format="ascii.ecsv", overwrite=True)
    else:
        table.write(path, format="ascii.csv", overwrite=True)


def export_file_write(*, workflow: Workflow, kind: str, fmt: str, path: Path, retired_only: bool = False,
                      options: ExportOptions | None = None, progress: Progress = no_progress) -> int:
    """Write one export to ``path`` (through a temporary file, so a crash leaves no partial file); returns rows.

    ``retired_only`` is kept for callers that predate ``options``; either one turns the filter on.
    """
    options = options or ExportOptions()
    if retired_only:
        options = ExportOptions(**{**asdict(options), "retired_only": True})
    _check(kind, fmt, options, workflow)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        n = _write(workflow, kind, fmt, partial, options, progress)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return n


def _write(workflow: Workflow, kind: str, fmt: str, path: Path, options: ExportOptions, progress: Progress) -> int:
    if kind in (Export.Kind.CATALOGUE, Export.Kind.CLUMPS):
        table = (catalogue_table(workflow=workflow, retired_only=options.retired_only,
                                 include_unclassified=options.include_unclassified, progress=progress)
                 if kind == Export.Kind.CATALOGUE else clump_table(workflow=workflow, progress=progress))
        write_table(table, path, fmt)
        return len(table)
    if kind == Export.Kind.COCO:
        document = coco_document(workflow=workflow)
        path.write_text(json.dumps(document))
        return len(document["annotations"])
    if kind == Export.Kind.WORKFLOW:
        document = zooniverse_workflow_document(workflow=workflow)
        path.write_text(json.dumps(document, indent=1))
        return len(document["tasks"])
    if kind == Export.Kind.TAGS:
        return _write_rows(path, TAG_COLUMNS, tag_rows(workflow=workflow))
    return _write_classifications(workflow, path, options, progress)


def _write_rows(path: Path, columns: list[str], rows) -> int:
    n = 0
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for n, row in enumerate(rows, start=1):
            writer.writerow(row)
    return n


def _write_classifications(workflow: Workflow, path: Path, options: ExportOptions, progress: Progress) -> int:
    n = 0
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CLASSIFICATION_COLUMNS)
        writer.writeheader()
        for row in classification_rows(workflow=workflow, retired_only=options.retired_only,
                                       workflow_version=options.workflow_version, progress=progress):
            writer.writerow(row)
            n += 1
    return n


def export_start(*, workflow: Workflow, kind: str, fmt: str, user, options: ExportOptions | None = None) -> Export:
    """Queue an export on the ``exports`` queue once the row is committed; bad options create nothing."""
    from zooapp import tasks  # tasks import services; importing here keeps the graph acyclic at load time

    options = options or ExportOptions()
    _check(kind, fmt, options, workflow)
    with transaction.atomic():
        export = Export.objects.create(workflow=workflow, kind=kind, format=fmt, options=options.to_dict(),
                                       requested_by=user if user and user.is_authenticated else None)
        transaction.on_commit(lambda: tasks.export_catalogue.delay(export.pk))
    return export


def export_run(*, export_id: int) -> Export:
    """Write an export's file, recording progress; a failure is stored on the row for staff to read."""
    export = Export.objects.select_related("workflow").get(pk=export_id)
    if export.status == Export.Status.DONE:
        return export  # a redelivered message (acks_late) must not write twice
    Export.objects.filter(pk=export.pk).update(status=Export.Status.RUNNING, progress=0.0, error="")
    name = f"workflow-{export.workflow_id}/{export.kind}-{export.pk}{SUFFIX[export.format]}"

    def progress(fraction: float) -> None:
        Export.objects.filter(pk=export.pk).update(progress=round(min(max(fraction, 0.0), 0.99), 3))

    try:
        n = export_file_write(workflow=export.workflow, kind=export.kind, fmt=export.format,
                              path=Path(settings.ZOOLOOP_EXPORT_DIR) / name,
                              options=ExportOptions(**export.options), progress=progress)
    except Exception as exc:  # noqa: BLE001 - any failure must reach the person waiting on the page
        log.exception("export %s failed", export.pk)
        Export.objects.filter(pk=export.pk).update(status=Export.Status.FAILED, error=str(exc)[:2000],
                                                   finished_at=timezone.now())
        return Export.objects.get(pk=export.pk)
    Export.objects.filter(pk=export.pk).update(status=Export.Status.DONE, progress=1.0, file_name=name, n_rows=n,
                                               finished_at=timezone.now())
    return Export.objects.get(pk=export.pk)


def export_file_path(*, export: Export) -> Path:
    """The finished file, or ExportNotReady when it is not ready or has gone."""
    if export.status != Export.Status.DONE or not export.file_name:
        raise ExportNotReady(f"export {export.pk} is {export.status}, not ready for download")
    path = Path(settings.ZOOLOOP_EXPORT_DIR) / export.file_name
    if not path.is_file():
        raise ExportNotReady(f"the file of export {export.pk} is no longer on disk; start a new export")
    return path


def download_name(export: Export) -> str:
    return f"zooloop-workflow-{export.workflow_id}-{export.kind}-{export.pk}{SUFFIX[export.format]}"
