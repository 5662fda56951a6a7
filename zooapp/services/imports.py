"""Zooniverse (Panoptes) exports in: a classification export plus its workflow definition become a workflow
with subjects and classifications, which the engine then aggregates.

The workflow definition is either a row of the Panoptes *workflow export* CSV (columns
``workflow_id, display_name, version, minor_version, first_task, tasks, strings, retirement``)
or a *workflow version* JSON resource (``tasks``, ``strings``, ``first_task``, ``major_number``...).
Question tasks and rectangle drawing tools are imported; other task types are skipped.

A re-import of the same or an overlapping file adds only what is new: the workflow is found again by its
Zooniverse origin, subjects by their Zooniverse id and classifications by ``classification_id``.
``gold_standard`` rows become gold answers; ``expert`` rows become the votes of an expert agent, or gold.
Rows are read against the definition only when their workflow version is mapped to it (the same major
version, or one named in ``map_versions``); the others are counted per version and left out.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from PIL import Image

from aggregation.retirement import RetirementRules
from zooapp.models import Classification, GoldAnswer, Project, Subject, SubjectSet, Volunteer, Workflow
from zooapp.services.aggregation import workflow_aggregate_all, workflow_recompute
from zooapp.services.projects import workflow_create
from zooapp.services.subjects import DisplayImage, subject_create
from zooapp.services.zooniverse_workflows import (ImportRejected, ZooWorkflow, _json_cell, _read_csv,
                                                  _version_matches, clean_text, workflow_read)

DEFAULT_IMAGE_SIZE = (424, 424)  # Galaxy Zoo DECaLS cut-outs
BOX_CONVENTIONS = ("auto", "top_left", "centre")
EXPERT_MODES = ("agent", "gold")


@dataclass
class ImportReport:
    workflow: Workflow
    n_subjects: int = 0
    n_classifications: int = 0
    n_duplicates: int = 0
    n_dropped_answers: int = 0
    dropped: Counter = field(default_factory=Counter)
    n_already_imported: int = 0
    n_gold_answers: int = 0
    n_expert_votes: int = 0
    workflow_created: bool = False
    versions: Counter = field(default_factory=Counter)            # Zooniverse version -> rows read
    unmapped_versions: Counter = field(default_factory=Counter)   # Zooniverse version -> rows left out

    @property
    def changed(self) -> bool:
        return bool(self.workflow_created or self.n_subjects or self.n_classifications or self.n_gold_answers)


def _marks(marks: Any, tools: dict[int, str], size: tuple[int, int], convention: str) -> list[dict]:
    """Zooniverse rectangle marks to boxes ``{tool, x_min, y_min, x_max, y_max}`` clipped to the image."""
    width, height = size
    out = []
    for m in marks if isinstance(marks, list) else []:
        tool = tools.get(m.get("tool", m.get("toolIndex", 0)) if isinstance(m, dict) else None)
        try:
            w, h = float(m["width"]), float(m["height"])
            centred = "x_center" in m or convention == "centre"
            x = float(m["x_center"] if "x_center" in m else m["x"]) - (w / 2 if centred else 0)
            y = float(m["y_center"] if "y_center" in m else m["y"]) - (h / 2 if centred else 0)
        except (KeyError, TypeError, ValueError):
            continue
        box = {"tool": tool, "x_min": max(x, 0.0), "y_min": max(y, 0.0),
               "x_max": min(x + w, float(width)), "y_max": min(y + h, float(height))}
        if tool and box["x_max"] > box["x_min"] and box["y_max"] > box["y_min"]:
            out.append(box)
    return out


def _answer(value: Any, lookup: dict[str, str]) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    key = str(value) if isinstance(value, int) else clean_text(str(value)).lower()
    return lookup.get(key)


def _single(value: Any) -> Any:
    # Some workflow versions turned a single-answer question into a multiple one and back.
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def annotations_convert(*, zoo: ZooWorkflow, annotations: list, size: tuple[int, int], convention: str,
                        dropped: Counter) -> list[dict[str, Any]]:
    """Map Zooniverse annotations onto our tree; answers we cannot map are counted in ``dropped``."""
    out = []
    for ann in annotations if isinstance(annotations, list) else []:
        key = ann.get("task") if isinstance(ann, dict) else None
        task = zoo.tree["tasks"].get(key)
        if task is None:
            dropped[f"task {key}"] += 1
        elif task["type"] == "drawing":
            out.append({"task": key, "value": _marks(ann.get("value"), zoo.tools[key], size, convention)})
        elif task["type"] == "multiple":
            raw = ann.get("value")
            values = [_answer(v, zoo.answers[key]) for v in (raw if isinstance(raw, list) else [raw])]
            if None in values:
                dropped[f"{key} answer"] += values.count(None)
            out.append({"task": key, "value": list(dict.fromkeys(v for v in values if v))})
        elif (label := _answer(_single(ann.get("value")), zoo.answers[key])) is not None:
            out.append({"task": key, "value": label})
        else:
            dropped[f"{key} answer"] += 1
    return out


@dataclass
class _Row:
    zooniverse_id: str
    user_name: str
    subject_key: str
    subject_data: dict[str, Any]
    size: tuple[int, int]
    annotations: list[dict[str, Any]]
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    user_agent: str
    gold: bool = False
    expert: bool = False


def _flag(value: Any) -> bool:
    """Panoptes writes ``true``/``false`` (or leaves the cell blank) in gold_standard and expert."""
    return str(value or "").strip().lower() not in ("", "false", "0", "null", "none")


def version_mapped(row_version: str, *, definition: str, map_versions: tuple[str, ...]) -> bool:
    """Whether a row's workflow version is read against the definition: the same major version (minor
    versions change only text), or one listed in ``map_versions`` (major or major.minor; ``*`` maps all)."""
    major = row_version.split(".")[0]
    return (major == definition.split(".")[0] or "*" in map_versions or row_version in map_versions
            or major in map_versions)


def _time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    text = str(value).replace(" UTC", "+00:00").replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _size(meta: dict) -> tuple[int, int]:
    dims = meta.get("subject_dimensions") or []
    first = dims[0] if dims and isinstance(dims[0], dict) else {}
    try:
        return int(first["naturalWidth"]), int(first["naturalHeight"])
    except (KeyError, TypeError, ValueError):
        return DEFAULT_IMAGE_SIZE


def classifications_read(*, path: Path, zoo: ZooWorkflow, version: str, convention: str, dropped: Counter,
                         report: ImportReport | None = None, map_versions: tuple[str, ...] = ()) -> list[_Row]:
    """Rows of a Zooniverse classification export of the chosen workflow whose version is mapped to it."""
    report = report if report is not None else ImportReport(workflow=None)
    rows = _read_csv(path)
    needed = {"classification_id", "user_name", "workflow_id", "annotations", "subject_ids"}
    if not rows or needed - set(rows[0]):
        raise ImportRejected(f"{path.name} is not a Zooniverse classification export (needs "
                             f"{', '.join(sorted(needed))} and at least one row)")
    out = []
    for line, row in enumerate(rows, start=2):
        row_version = row.get("workflow_version", "")
        if row["workflow_id"] != str(zoo.id) or not _version_matches(row_version, version):
            continue
        if not version_mapped(row_version, definition=zoo.version, map_versions=map_versions):
            report.unmapped_versions[row_version] += 1
            continue
        report.versions[row_version] += 1
        meta = _json_cell(row.get("metadata", ""), f"{path.name} line {line} metadata")
        subject_key = row["subject_ids"].split(";")[0].strip()
        if not subject_key:
            raise ImportRejected(f"{path.name} line {line}: no subject id")
        size = _size(meta)
        data = _json_cell(row.get("subject_data", ""), f"{path.name} line {line} subject_data")
        annotations = annotations_convert(
            zoo=zoo, annotations=_json_cell(row["annotations"], f"{path.name} line {line} annotations"),
            size=size, convention=convention, dropped=dropped)
        out.append(_Row(zooniverse_id=row["classification_id"], user_name=row["user_name"] or "anonymous",
                        subject_key=subject_key, subject_data=data.get(subject_key) or {}, size=size,
                        annotations=annotations, created_at=_time(row.get("created_at")),
                        started_at=_time(meta.get("started_at")), finished_at=_time(meta.get("finished_at")),
                        user_agent=str(meta.get("user_agent", ""))[:300], gold=_flag(row.get("gold_standard")),
                        expert=_flag(row.get("expert"))))
    if not out:
        unmapped = ", ".join(sorted(report.unmapped_versions))
        raise ImportRejected(f"{path.name} has no classifications of workflow {zoo.id} version {version or 'any'}"
                             + (f" (versions {unmapped} are not mapped to definition {zoo.version}; "
                                "name them in map_versions)" if unmapped else ""))
    return out


def placeholder_image(width: int, height: int) -> DisplayImage:
    """A plain dark image standing in for a subject whose pixels were not imported."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (24, 24, 32)).save(buf, format="PNG")
    return DisplayImage(png=buf.getvalue(), width=width, height=height, wcs_header=None, centre_radec=None)


def _coordinate(data: dict, *names: str) -> float | None:
    values = [v for v in (_number(data.get(n)) for n in names) if v is not None]
    return values[0] if values else None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rules(zoo: ZooWorkflow) -> dict[str, Any]:
    """`RetirementRules`' defaults on the first single-answer question, capped by Zooniverse's count rule."""
    questions = [k for k, t in zoo.tree["tasks"].items() if t["type"] == "single"]
    default = RetirementRules()
    question = zoo.tree["first_task"] if zoo.tree["first_task"] in questions else (questions or [default.task])[0]
    rules = dataclasses.replace(default, task=question)
    count = (zoo.retirement.get("options") or {}).get("count")
    if zoo.retirement.get("criteria") == "classification_count" and isinstance(count, int) and count > 0:
        rules = dataclasses.replace(rules, max_classifications=count,
                                    min_classifications=min(default.min_classifications, count))
    return rules.to_dict()


def _subjects(subject_set: SubjectSet, rows: list[_Row]) -> tuple[dict[str, Subject], int]:
    """The rows' subjects: those imported before are found again by their Zooniverse id; returns (all, n new)."""
    subjects = {s.external_id: s for s in Subject.objects.filter(workflow=subject_set.workflow)}
    before, images = len(subjects), {}
    for row in rows:
        if row.subject_key in subjects:
            continue
        if row.size not in images:
            images[row.size] = placeholder_image(*row.size)
        meta = {k: v for k, v in row.subject_data.items() if k != "retired"}
        subjects[row.subject_key] = subject_create(
            subject_set=subject_set, external_id=row.subject_key, image=images[row.size],
            ra=_coordinate(row.subject_data, "ra", "RA", "ramean"),
            dec=_coordinate(row.subject_data, "dec", "DEC", "Dec", "decmean"),
            metadata={**meta, "zooniverse_subject_id": row.subject_key, "placeholder_image": True})
    return subjects, len(subjects) - before


def _volunteer(name: str, cache: dict[str, Volunteer]) -> Volunteer:
    """``zooniverse:<user>``; an expert's votes belong to a separate agent, ``zooniverse-expert:<user>``."""
    if name not in cache:
        label = name if name.startswith("zooniverse-expert:") else f"zooniverse:{name}"
        cache[name] = (Volunteer.objects.filter(kind=Volunteer.Kind.HUMAN, user__isnull=True, name=label).first()
                       or Volunteer.objects.create(kind=Volunteer.Kind.HUMAN, name=label))
    return cache[name]


def import_project(*, slug: str, owner_username: str | None = None) -> Project:
    """The project to import into: an existing one by slug, or a new one owned by the named user
    (default: the first superuser)."""
    project = Project.objects.filter(slug=slug).first()
    if project is not None:
        return project
    users = get_user_model().objects
    owner = (users.filter(username=owner_username).first() if owner_username
             else users.filter(is_superuser=True).order_by("pk").first())
    if owner is None:
        raise ImportRejected("no owner for the new project: pass an existing username (or create a superuser)")
    return Project.objects.create(name=f"Imported: {slug}", slug=slug, owner=owner)


def _import_workflow(project: Project, zoo: ZooWorkflow) -> tuple[Workflow, SubjectSet, bool]:
    """The workflow of this Zooniverse origin in ``project``: found again on a re-import, else created."""
    origin = f"Zooniverse workflow {zoo.id} v{zoo.version}"
    name = f"{zoo.name} ({origin})" if zoo.name else origin
    workflow = Workflow.objects.filter(project=project, name=name).order_by("pk").first()
    created = workflow is None
    if created:
        workflow = workflow_create(project=project, name=name, tree=zoo.tree, retirement_rules=_rules(zoo))
    elif workflow.current_version.tree != zoo.tree:
        raise ImportRejected(f"workflow {workflow.pk} was imported from a different definition of {origin}")
    subject_set, _ = SubjectSet.objects.get_or_create(project=project, workflow=workflow, name=f"Zooniverse {zoo.id}")
    return workflow, subject_set, created


def zooniverse_import(*, project_id: int, classifications_path: str | Path, workflows_path: str | Path,
                      zooniverse_workflow_id: int | None = None, version: str = "",
                      box_convention: str = "auto", expert: str = "agent",
                      map_versions: tuple[str, ...] = ()) -> ImportReport:
    """Import one Zooniverse workflow version, its subjects (placeholder images) and classifications.

    Everything is written in one transaction and then aggregated by the engine; a re-import adds only
    classifications whose ``classification_id`` is new (and reports the rest as already imported).
    ``box_convention``: ``auto`` reads ``x_center/y_center`` marks as centres and ``x/y`` as the
    top-left corner; ``top_left`` or ``centre`` forces the meaning of ``x/y``. ``expert``: ``agent``
    (an expert agent's votes) or ``gold`` (gold answers). A volunteer who classified a subject twice
    keeps the first classification.
    """
    if box_convention not in BOX_CONVENTIONS or expert not in EXPERT_MODES:
        raise ImportRejected(f"box_convention must be one of {', '.join(BOX_CONVENTIONS)} and expert one of "
                             f"{', '.join(EXPERT_MODES)}")
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise ImportRejected(f"project {project_id} does not exist")
    zoo = workflow_read(path=Path(workflows_path), workflow_id=zooniverse_workflow_id, version=version)
    report = ImportReport(workflow=None)
    rows = classifications_read(path=Path(classifications_path), zoo=zoo, version=version, convention=box_convention,
                                dropped=report.dropped, report=report, map_versions=tuple(map_versions))
    report.n_dropped_answers = sum(report.dropped.values())
    with transaction.atomic():
        report.workflow, subject_set, report.workflow_created = _import_workflow(project, zoo)
        subjects, report.n_subjects = _subjects(subject_set, rows)
        gold_rows = [r for r in rows if r.gold or (r.expert and expert == "gold")]
        report.n_gold_answers = _gold_answers(gold_rows, subjects)
        _classifications(report.workflow, [r for r in rows if r not in gold_rows], subjects, report)
    if report.n_gold_answers and not report.workflow_created:
        workflow_recompute(workflow_id=report.workflow.pk)  # new gold re-teaches every agent from the start
    if report.changed:
        workflow_aggregate_all(workflow_id=report.workflow.pk)
    return report


def _gold_answers(rows: list[_Row], subjects: dict[str, Subject]) -> int:
    """Gold-standard (or expert, by option) rows become the subjects' gold answers; returns how many are new."""
    n_new = 0
    for row in rows:
        subject = subjects[row.subject_key]
        for ann in row.annotations:
            if isinstance(ann["value"], str) or (ann["value"] and isinstance(ann["value"][0], str)):
                _, created = GoldAnswer.objects.get_or_create(subject=subject, task=ann["task"],
                                                              defaults={"value": ann["value"]})
                n_new += int(created)
        if not subject.is_gold:
            Subject.objects.filter(pk=subject.pk).update(is_gold=True)
            subject.is_gold = True
    return n_new


def _classifications(workflow: Workflow, rows: list[_Row], subjects: dict[str, Subject],
                     report: ImportReport) -> None:
    volunteers: dict[str, Volunteer] = {}
    known = set(Classification.objects.filter(workflow=workflow).exclude(external_id="")
                .values_list("external_id", flat=True))
    seen = set(Classification.objects.filter(workflow=workflow).values_list("volunteer_id", "subject_id"))
    version = workflow.current_version
    new, stamps = [], []
    for row in rows:
        if row.zooniverse_id in known:
            report.n_already_imported += 1
            continue
        name = f"zooniverse-expert:{row.user_name}" if row.expert else row.user_name
        volunteer, subject = _volunteer(name, volunteers), subjects[row.subject_key]
        if (volunteer.pk, subject.pk) in seen:
            report.n_duplicates += 1
            continue
        seen.add((volunteer.pk, subject.pk))
        known.add(row.zooniverse_id)
        report.n_expert_votes += int(row.expert)
        new.append(Classification(workflow=workflow, workflow_version=version, subject=subject, volunteer=volunteer,
                                  annotations=row.annotations, started_at=row.started_at, external_id=row.zooniverse_id,
                                  finished_at=row.finished_at, user_agent=row.user_agent))
        stamps.append(row.created_at)
    created = Classification.objects.bulk_create(new)
    # created_at is auto_now_add; put back Zooniverse's own times so the timelines stay true.
    for obj, stamp in zip(created, stamps):
        obj.created_at = stamp or obj.created_at
    Classification.objects.bulk_update(created, ["created_at"])
    report.n_classifications = len(created)
