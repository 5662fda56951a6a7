"""Catalogues for scientists: retired subjects with their posteriors, as CSV and FITS (astropy)."""
from __future__ import annotations

import json
from pathlib import Path

from astropy import units as u
from astropy.table import Table

from zooapp.models import Retirement, Subject, SubjectPosterior, Workflow
from zooapp.services.retirement import _probs


def _latest_retirements(workflow: Workflow) -> dict[int, Retirement]:
    out: dict[int, Retirement] = {}
    for r in Retirement.objects.filter(subject__workflow=workflow).order_by("created_at", "id"):
        out[r.subject_id] = r
    return out


def catalogue_table(*, workflow: Workflow, retired_only: bool = True) -> Table:
    """One row per subject: position, posterior per question and answer, counts, retirement, boxes."""
    subjects = Subject.objects.filter(workflow=workflow, is_gold=False).prefetch_related("consensus_boxes")
    if retired_only:
        subjects = subjects.filter(status=Subject.Status.RETIRED)
    subjects = list(subjects.order_by("id"))
    posts = {(p.subject_id, p.task): p for p in SubjectPosterior.objects.filter(subject__in=subjects)}
    columns = sorted({(p.task, label) for p in posts.values() for label in p.labels})
    retired = _latest_retirements(workflow)
    rows = []
    for s in subjects:
        r = retired.get(s.pk)
        row = {"subject_id": s.pk, "external_id": s.external_id, "ra": _nan(s.ra), "dec": _nan(s.dec),
               "n_classifications": s.n_classifications, "retirement_reason": r.reason if r else "",
               "retired_at": r.created_at.isoformat() if r else "",
               "boxes": json.dumps([[b.x_min, b.y_min, b.x_max, b.y_max, round(b.p_real, 4)]
                                    for b in s.consensus_boxes.all()])}
        for task, label in columns:
            p = posts.get((s.pk, task))
            row[f"p_{task}_{label}"] = float(_probs(p.log_posterior)[p.labels.index(label)]) if p else float("nan")
        rows.append(row)
    names = ["subject_id", "external_id", "ra", "dec", "n_classifications", "retirement_reason", "retired_at",
             "boxes"] + [f"p_{t}_{label}" for t, label in columns]
    table = Table(rows=[[row[n] for n in names] for row in rows], names=names) if rows else Table(names=names)
    if rows:
        table["ra"].unit = u.deg
        table["dec"].unit = u.deg
    table.meta["WORKFLOW"] = workflow.name
    return table


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def catalogue_export(*, workflow: Workflow, out_dir: Path, retired_only: bool = True) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    table = catalogue_table(workflow=workflow, retired_only=retired_only)
    stem = out_dir / f"workflow-{workflow.pk}-catalogue"
    paths = [stem.with_suffix(".csv"), stem.with_suffix(".fits")]
    table.write(paths[0], format="ascii.csv", overwrite=True)
    table.write(paths[1], format="fits", overwrite=True)
    return paths
