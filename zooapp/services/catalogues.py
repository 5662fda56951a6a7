"""What scientists take away: the galaxy and clump catalogues, COCO boxes and raw classifications.

Tables are astropy tables whose columns carry a unit, a UCD (IVOA UCD1+) and a
description, so that FITS, VOTable and ECSV all keep them. Column names follow
the Galaxy Zoo 2 scheme ``tNN_aMM_<answer>_<suffix>`` (Willett et al. 2013).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
from astropy import units as u
from astropy.table import Column, Table
from astropy.wcs import WCS
from django.utils import timezone
from scipy.stats import beta

from aggregation.schema import TaskTree
from zooapp.models import (Classification, ConsensusBox, Prediction, Retirement, Subject, SubjectPosterior,
                           Volunteer, Workflow)

CREDIBLE_MASS = 0.90
Progress = Callable[[float], None]


def no_progress(_: float) -> None:
    return None


@dataclass(frozen=True)
class _Col:
    name: str
    dtype: Any
    ucd: str
    description: str
    unit: Any = None


def _table(cols: list[_Col], rows: list[dict[str, Any]], meta: dict[str, Any]) -> Table:
    table = Table(meta=meta)
    for c in cols:
        column = Column([row[c.name] for row in rows], name=c.name, dtype=c.dtype, unit=c.unit,
                        description=c.description)
        column.meta["ucd"] = c.ucd
        table.add_column(column)
    return table


def _provenance(workflow: Workflow) -> dict[str, Any]:
    version = workflow.current_version
    return {"ORIGIN": "zooloop", "WORKFLOW": workflow.pk, "WFNAME": workflow.name,
            "WFVERS": version.number if version else 0, "RETRULES": json.dumps(workflow.retirement_rules),
            "AGGREG": "online SWAP / Dawid-Skene (zooloop engine)", "CREDMASS": CREDIBLE_MASS,
            "DATE": timezone.now().strftime("%Y-%m-%dT%H:%M:%S")}


def credible_interval(p: float, n_votes: float, *, mass: float = CREDIBLE_MASS) -> tuple[float, float]:
    """Central credible interval for an answer's posterior probability ``p`` given ``n_votes`` human votes.

    The engine gives a point posterior; how far to trust it depends on how many votes
    back it. We describe it as a Beta distribution with mean ``p`` and concentration
    ``n_votes + 2`` (the votes plus the two pseudo-counts of a uniform prior), i.e.
    Beta(p (n + 2), (1 - p)(n + 2)), and return its central ``mass`` interval. The
    mean of that Beta is ``p`` itself, so the interval always brackets the estimate,
    and it narrows as votes accumulate.
    """
    concentration = float(n_votes) + 2.0
    p = min(max(float(p), 1e-9), 1 - 1e-9)  # a Beta needs both shape parameters positive
    tail = (1 - mass) / 2
    lo, hi = beta.ppf([tail, 1 - tail], p * concentration, (1 - p) * concentration)
    return float(lo), float(hi)


def _task_stem(task_key: str) -> str:
    """``T1`` -> ``t01``; other keys lower-cased with non-word characters as underscores."""
    match = re.fullmatch(r"[Tt](\d+)", task_key)
    return f"t{int(match.group(1)):02d}" if match else re.sub(r"\W+", "_", task_key.lower())


def _stem(task_key: str, index: int, label: str) -> str:
    return f"{_task_stem(task_key)}_a{index:02d}_{re.sub(r'[^0-9a-zA-Z]+', '_', label).strip('_').lower()}"


def _catalogue_columns(tree: TaskTree) -> list[_Col]:
    cols = [_Col("subject_id", np.int64, "meta.id;meta.main", "zooloop subject id"),
            _Col("external_id", str, "meta.id", "identifier given in the subject manifest"),
            _Col("ra", np.float64, "pos.eq.ra;meta.main", "right ascension (ICRS)", u.deg),
            _Col("dec", np.float64, "pos.eq.dec;meta.main", "declination (ICRS)", u.deg),
            _Col("n_classifications", np.int64, "meta.number", "human classifications aggregated"),
            _Col("retired", bool, "meta.code.status", "whether the subject is retired"),
            _Col("retirement_reason", str, "meta.note", "rule that retired the subject"),
            _Col("retired_by", str, "meta.note", "agent whose evidence retired it: humans or machine"),
            _Col("retired_at", str, "time.epoch", "UTC time of retirement (ISO 8601)"),
            _Col("n_clumps", np.int64, "meta.number", "consensus clump boxes")]
    for task in tree.questions():
        stem = _task_stem(task.key)
        cols.append(_Col(f"{stem}_total_votes", np.int64, "meta.number", f"human votes on {task.key}"))
        for i, label in enumerate(task.labels):
            s, what = _stem(task.key, i, label), f"{task.key} = {label!r}"
            cols += [
                _Col(f"{s}_count", np.int64, "meta.number", f"human votes for {what}"),
                _Col(f"{s}_fraction", np.float64, "arith.ratio", f"vote fraction for {what}"),
                _Col(f"{s}_weighted_fraction", np.float64, "arith.ratio",
                     f"volunteer-skill-weighted vote fraction for {what}"),
                _Col(f"{s}_posterior", np.float64, "stat.probability", f"engine posterior probability of {what}"),
                _Col(f"{s}_posterior_lo", np.float64, "stat.probability;stat.min",
                     f"lower end of the central {CREDIBLE_MASS:.0%} credible interval of {what}"),
                _Col(f"{s}_posterior_hi", np.float64, "stat.probability;stat.max",
                     f"upper end of the central {CREDIBLE_MASS:.0%} credible interval of {what}"),
                _Col(f"{s}_machine", np.float64, "stat.probability;meta.modelled",
                     f"serving classifier's probability of {what}")]
    return cols


def _latest_retirements(workflow: Workflow) -> dict[int, Retirement]:
    out: dict[int, Retirement] = {}
    for r in Retirement.objects.filter(subject__workflow=workflow).order_by("created_at", "id"):
        out[r.subject_id] = r
    return out


def _machine_predictions(workflow: Workflow) -> dict[tuple[int, str], list[float]]:
    rows = Prediction.objects.filter(model_version__workflow=workflow, model_version__serving=True,
                                     model_version__kind="classifier")
    return {(p.subject_id, p.task): p.probs for p in rows}


def _answer_columns(task, post: SubjectPosterior | None, machine: list[float] | None) -> dict[str, Any]:
    counts = np.zeros(len(task.labels))
    weighted = np.zeros(len(task.labels))
    probs = np.full(len(task.labels), np.nan)
    if post is not None:
        index = {label: i for i, label in enumerate(post.labels)}
        stored = post.probabilities if task.type == "single" else None
        for i, label in enumerate(task.labels):
            if label in index:
                counts[i] = post.vote_counts[index[label]]
                weighted[i] = post.weighted_counts[index[label]]
                probs[i] = stored[index[label]] if stored is not None else np.nan
    total, wtotal = counts.sum(), weighted.sum()
    row: dict[str, Any] = {f"{_task_stem(task.key)}_total_votes": int(total)}
    for i, label in enumerate(task.labels):
        s = _stem(task.key, i, label)
        lo, hi = credible_interval(probs[i], total) if np.isfinite(probs[i]) else (np.nan, np.nan)
        row.update({f"{s}_count": int(counts[i]), f"{s}_fraction": counts[i] / total if total else np.nan,
                    f"{s}_weighted_fraction": weighted[i] / wtotal if wtotal else np.nan,
                    f"{s}_posterior": float(probs[i]), f"{s}_posterior_lo": lo, f"{s}_posterior_hi": hi,
                    f"{s}_machine": float(machine[i]) if machine and i < len(machine) else np.nan})
    return row


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def catalogue_table(*, workflow: Workflow, retired_only: bool = False,
                    progress: Progress = no_progress) -> Table:
    """The galaxy catalogue: one row per non-gold subject, per question and answer.

    Per answer: vote ``_count``, raw ``_fraction``, skill-weighted ``_weighted_fraction``
    (``SubjectPosterior.weighted_counts`` normalised), the engine's ``_posterior`` with a
    central credible interval (:func:`credible_interval`) and the serving classifier's
    ``_machine`` probability. Multiple-answer questions have counts only (NaN posterior).
    """
    tree = TaskTree.from_dict(workflow.current_version.tree)
    subjects = Subject.objects.filter(workflow=workflow, is_gold=False).order_by("id")
    if retired_only:
        subjects = subjects.filter(status=Subject.Status.RETIRED)
    subjects = list(subjects)
    posts = {(p.subject_id, p.task): p for p in SubjectPosterior.objects.filter(subject__workflow=workflow)}
    machine = _machine_predictions(workflow)
    retired = _latest_retirements(workflow)
    n_boxes = _count_by_subject(ConsensusBox.objects.filter(subject__workflow=workflow))
    rows = []
    for k, s in enumerate(subjects):
        r = retired.get(s.pk) if s.is_retired else None
        row = {"subject_id": s.pk, "external_id": s.external_id, "ra": _nan(s.ra), "dec": _nan(s.dec),
               "n_classifications": s.n_classifications, "retired": s.is_retired,
               "retirement_reason": r.reason if r else "", "retired_by": r.agent if r else "",
               "retired_at": r.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if r else "",
               "n_clumps": n_boxes.get(s.pk, 0)}
        for task in tree.questions():
            row.update(_answer_columns(task, posts.get((s.pk, task.key)), machine.get((s.pk, task.key))))
        rows.append(row)
        if k % 200 == 0:
            progress(k / max(len(subjects), 1))
    return _table(_catalogue_columns(tree), rows, _provenance(workflow))


def _count_by_subject(boxes) -> dict[int, int]:
    out: dict[int, int] = {}
    for subject_id in boxes.values_list("subject_id", flat=True):
        out[subject_id] = out.get(subject_id, 0) + 1
    return out


CLUMP_COLUMNS = [
    _Col("clump_id", np.int64, "meta.id;meta.main", "zooloop consensus box id"),
    _Col("subject_id", np.int64, "meta.id", "zooloop subject id of the host galaxy"),
    _Col("external_id", str, "meta.id", "host galaxy identifier from the subject manifest"),
    _Col("x_min", np.float64, "pos.cartesian.x;stat.min", "left edge, image pixels from the left", u.pix),
    _Col("y_min", np.float64, "pos.cartesian.y;stat.min", "top edge, image pixels from the top", u.pix),
    _Col("x_max", np.float64, "pos.cartesian.x;stat.max", "right edge, image pixels from the left", u.pix),
    _Col("y_max", np.float64, "pos.cartesian.y;stat.max", "bottom edge, image pixels from the top", u.pix),
    _Col("ra", np.float64, "pos.eq.ra;meta.main", "right ascension of the box centre (from the WCS)", u.deg),
    _Col("dec", np.float64, "pos.eq.dec;meta.main", "declination of the box centre (from the WCS)", u.deg),
    _Col("p_real", np.float64, "stat.probability", "probability that the clump is real"),
    _Col("n_workers", np.int64, "meta.number", "volunteers who marked this clump"),
    _Col("n_seen", np.int64, "meta.number", "volunteers who saw the drawing task for this image"),
]


def box_centre_radec(subject: Subject, box: ConsensusBox, wcs: WCS | None) -> tuple[float, float]:
    """Sky position of a box centre; the display image is the FITS image flipped top to bottom."""
    if wcs is None:
        return float("nan"), float("nan")
    cx, cy = (box.x_min + box.x_max) / 2, (box.y_min + box.y_max) / 2
    # Display pixel i spans [i, i+1); FITS 0-based pixel centres sit at integers, and row r from the
    # top of the display is FITS row (height - 1 - r).
    ra, dec = wcs.pixel_to_world_values(cx - 0.5, subject.height - 0.5 - cy)
    return float(ra), float(dec)


def clump_table(*, workflow: Workflow, progress: Progress = no_progress) -> Table:
    """The clump catalogue: one row per consensus box of a non-gold subject."""
    boxes = list(ConsensusBox.objects.filter(subject__workflow=workflow, subject__is_gold=False)
                 .select_related("subject").order_by("subject_id", "id"))
    wcs_cache: dict[int, WCS | None] = {}
    rows = []
    for k, b in enumerate(boxes):
        s = b.subject
        if s.pk not in wcs_cache:
            wcs_cache[s.pk] = WCS(s.wcs_header, naxis=2) if s.wcs_header else None
        ra, dec = box_centre_radec(s, b, wcs_cache[s.pk])
        rows.append({"clump_id": b.pk, "subject_id": s.pk, "external_id": s.external_id, "x_min": b.x_min,
                     "y_min": b.y_min, "x_max": b.x_max, "y_max": b.y_max, "ra": ra, "dec": dec,
                     "p_real": b.p_real, "n_workers": b.n_workers, "n_seen": b.n_seen})
        if k % 200 == 0:
            progress(k / max(len(boxes), 1))
    return _table(CLUMP_COLUMNS, rows, _provenance(workflow))


def coco_document(*, workflow: Workflow) -> dict[str, Any]:
    """Consensus boxes as COCO detection JSON; every image whose boxes were aggregated is listed,
    so images with no clump are kept as negatives."""
    tree = TaskTree.from_dict(workflow.current_version.tree)
    tools = [tool.label for task in tree.drawing_tasks() for tool in task.tools] or ["clump"]
    subjects = list(Subject.objects.filter(workflow=workflow, is_gold=False, box_risk__isnull=False)
                    .prefetch_related("frames", "consensus_boxes").order_by("id"))
    images, annotations = [], []
    for s in subjects:
        frame = s.frames.all()[0] if s.frames.all() else None
        images.append({"id": s.pk, "file_name": frame.image.name.rsplit("/", 1)[-1] if frame else "",
                       "width": s.width, "height": s.height, "external_id": s.external_id})
        for b in s.consensus_boxes.all():
            w, h = b.x_max - b.x_min, b.y_max - b.y_min
            annotations.append({"id": b.pk, "image_id": s.pk, "category_id": 1, "bbox": [b.x_min, b.y_min, w, h],
                                "area": w * h, "iscrowd": 0, "score": b.p_real, "n_workers": b.n_workers,
                                "n_seen": b.n_seen})
    return {"info": {"description": f"zooloop consensus boxes, workflow {workflow.pk} ({workflow.name})",
                     "date_created": timezone.now().isoformat()},
            "images": images, "annotations": annotations,
            "categories": [{"id": 1, "name": tools[0], "supercategory": "galaxy_feature"}]}


CLASSIFICATION_COLUMNS = ["classification_id", "user_name", "user_id", "user_ip", "workflow_id", "workflow_name",
                          "workflow_version", "created_at", "gold_standard", "expert", "metadata", "annotations",
                          "subject_data", "subject_ids"]


def classification_rows(*, workflow: Workflow, progress: Progress = no_progress) -> Iterator[dict[str, str]]:
    """Human classifications in the Zooniverse (Panoptes) classification-export format.

    Question answers are given as their display text, as Panoptes does; boxes as
    rectangle marks ``{tool, x, y, width, height}`` with ``x, y`` the top-left corner.
    """
    qs = (Classification.objects.filter(workflow=workflow, volunteer__kind=Volunteer.Kind.HUMAN)
          .select_related("volunteer__user", "workflow_version", "subject").order_by("id"))
    total = max(qs.count(), 1)
    trees: dict[int, TaskTree] = {}
    retired = _latest_retirements(workflow)
    for k, c in enumerate(qs.iterator(chunk_size=500)):
        if c.workflow_version_id not in trees:
            trees[c.workflow_version_id] = TaskTree.from_dict(c.workflow_version.tree)
        yield _classification_row(workflow, c, trees[c.workflow_version_id], retired.get(c.subject_id))
        if k % 500 == 0:
            progress(k / total)


def _classification_row(workflow: Workflow, c: Classification, tree: TaskTree,
                        retirement: Retirement | None) -> dict[str, str]:
    user = c.volunteer.user
    name = user.get_username() if user else c.volunteer.name or f"not-logged-in-{c.volunteer_id}"
    s = c.subject
    meta = {"source": "zooloop", "started_at": _iso(c.started_at), "finished_at": _iso(c.finished_at),
            "user_agent": c.user_agent, "subject_dimensions": [{"naturalWidth": s.width, "naturalHeight": s.height}]}
    retired = None
    if retirement is not None and s.is_retired:
        retired = {"retired_at": _iso(retirement.created_at), "retirement_reason": retirement.reason,
                   "classifications_count": s.n_classifications}
    public = {k: v for k, v in (s.metadata or {}).items() if not str(k).startswith(("#", "!", "_"))}
    subject_data = {str(s.pk): {"retired": retired, **public, "ra": s.ra, "dec": s.dec,
                                "external_id": s.external_id}}
    return {"classification_id": str(c.pk), "user_name": name, "user_id": str(user.pk) if user else "",
            "user_ip": "", "workflow_id": str(workflow.pk), "workflow_name": workflow.name,
            "workflow_version": f"{c.workflow_version.number}.0",
            "created_at": c.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "gold_standard": "true" if s.is_gold else "", "expert": "", "metadata": json.dumps(meta),
            "annotations": json.dumps([_zooniverse_annotation(tree, a) for a in c.annotations]),
            "subject_data": json.dumps(subject_data), "subject_ids": str(s.pk)}


def _iso(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if value else None


def _zooniverse_annotation(tree: TaskTree, ann: dict[str, Any]) -> dict[str, Any]:
    task = tree.tasks.get(ann["task"])
    if task is None:
        return dict(ann)
    if task.type == "drawing":
        tools = [t.label for t in task.tools]
        marks = [{"tool": tools.index(m["tool"]) if m["tool"] in tools else 0, "tool_label": m["tool"],
                  "frame": 0, "x": m["x_min"], "y": m["y_min"], "width": m["x_max"] - m["x_min"],
                  "height": m["y_max"] - m["y_min"], "details": []} for m in ann["value"]]
        return {"task": task.key, "task_label": task.question, "value": marks}
    text = {a.label: a.text for a in task.answers}
    value = [text.get(v, v) for v in ann["value"]] if task.type == "multiple" else text.get(ann["value"],
                                                                                           ann["value"])
    return {"task": task.key, "task_label": task.question, "value": value}


def zooniverse_workflow_document(*, workflow: Workflow) -> dict[str, Any]:
    """The current task tree as a Zooniverse workflow-version resource (``tasks`` with keys into ``strings``),
    so that tools reading Panoptes exports can decode the classification export."""
    version = workflow.current_version
    tree = TaskTree.from_dict(version.tree)
    tasks, strings = {}, {}
    for key, task in tree.tasks.items():
        if task.type == "drawing":
            strings[f"{key}.instruction"] = task.question
            tasks[key] = {"type": "drawing", "instruction": f"{key}.instruction", "next": task.next,
                          "tools": [{"type": "rectangle", "label": f"{key}.tools.{i}.label", "max": tool.max}
                                    for i, tool in enumerate(task.tools)]}
            strings.update({f"{key}.tools.{i}.label": tool.label for i, tool in enumerate(task.tools)})
            continue
        strings[f"{key}.question"] = task.question
        tasks[key] = {"type": task.type, "question": f"{key}.question",
                      "answers": [{"label": f"{key}.answers.{i}.label", **({"next": a.next} if a.next else {})}
                                  for i, a in enumerate(task.answers)]}
        if task.type == "multiple":
            tasks[key]["next"] = task.next
        strings.update({f"{key}.answers.{i}.label": a.text for i, a in enumerate(task.answers)})
    return {"id": str(version.pk), "first_task": tree.first_task, "major_number": str(version.number),
            "minor_number": "0", "links": {"workflow": str(workflow.pk)}, "display_name": workflow.name,
            "tasks": tasks, "strings": strings}
