"""Zooniverse (Panoptes) exports in: a classification export plus its workflow definition become a workflow
with subjects and classifications, which the engine then aggregates.

The workflow definition is either a row of the Panoptes *workflow export* CSV (columns
``workflow_id, display_name, version, minor_version, first_task, tasks, strings, retirement``)
or a *workflow version* JSON resource (``tasks``, ``strings``, ``first_task``, ``major_number``...).
Question tasks and rectangle drawing tools are imported; other task types are skipped.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from PIL import Image

from aggregation.schema import SchemaError, TaskTree
from zooapp.models import Classification, Project, Subject, SubjectSet, Volunteer, Workflow
from zooapp.services.aggregation import workflow_aggregate_all
from zooapp.services.projects import workflow_create
from zooapp.services.subjects import DisplayImage, subject_create

DEFAULT_IMAGE_SIZE = (424, 424)  # Galaxy Zoo DECaLS cut-outs
BOX_CONVENTIONS = ("auto", "top_left", "centre")
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")


class ImportRejected(ValueError):
    """The files cannot be imported; the message says why. Nothing was stored."""


@dataclass
class ImportReport:
    workflow: Workflow
    n_subjects: int = 0
    n_classifications: int = 0
    n_duplicates: int = 0
    n_dropped_answers: int = 0
    dropped: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class ZooWorkflow:
    """One version of a Zooniverse workflow, with each answer's text resolved from ``strings``."""

    id: int
    name: str
    version: str
    tree: dict[str, Any]
    answers: dict[str, dict[str, str]]   # task -> cleaned answer text (and index) -> our label
    tools: dict[str, dict[int, str]]     # drawing task -> tool index -> our tool label
    retirement: dict[str, Any]


def clean_text(text: str) -> str:
    """Answer text without the Markdown images Zooniverse puts in front of it."""
    return " ".join(_MARKDOWN_IMAGE.sub("", str(text)).split())


def _slug(text: str, fallback: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", clean_text(text).lower()).strip("_")[:40] or fallback


def _unique(labels: list[str]) -> list[str]:
    seen: Counter = Counter()
    out = []
    for label in labels:
        seen[label] += 1
        out.append(label if seen[label] == 1 else f"{label}_{seen[label]}")
    return out


def _question(key: str, raw: dict, strings: dict[str, str]) -> tuple[dict, dict[str, str]]:
    texts = [clean_text(strings.get(a.get("label", ""), a.get("label", ""))) for a in raw.get("answers", [])]
    labels = _unique([_slug(t, f"a{i}") for i, t in enumerate(texts)])
    answers = [{"label": label, "text": text or label, "next": a.get("next")}
               for label, text, a in zip(labels, texts, raw.get("answers", []))]
    lookup = {text.lower(): label for text, label in zip(texts, labels)}
    lookup.update({str(i): label for i, label in enumerate(labels)})
    task = {"type": raw["type"], "question": clean_text(strings.get(raw.get("question", ""), raw.get("question", ""))),
            "help": strings.get(raw.get("help", ""), ""), "answers": answers}
    if raw["type"] == "multiple":
        task["next"] = raw.get("next")
    return task, lookup


def _drawing(key: str, raw: dict, strings: dict[str, str]) -> tuple[dict, dict[int, str]] | None:
    tools = {i: t for i, t in enumerate(raw.get("tools", [])) if t.get("type") == "rectangle"}
    if not tools:
        return None
    labels = _unique([_slug(strings.get(t.get("label", ""), t.get("label", "")), f"tool{i}")
                      for i, t in tools.items()])
    by_index = dict(zip(tools, labels))
    task = {"type": "drawing", "question": clean_text(strings.get(raw.get("instruction", ""), "")),
            "tools": [{"label": label, "type": "rectangle", "min": 0, "max": max(int(t.get("max") or 100), 1)}
                      for label, t in zip(labels, tools.values())],
            "next": raw.get("next")}
    return task, by_index


def workflow_from_zooniverse(*, tasks: dict, strings: dict, first_task: str, wf_id: int, name: str,
                             version: str, retirement: dict | None = None) -> ZooWorkflow:
    """Translate Zooniverse tasks into our task tree; unsupported tasks are skipped and links to them cut."""
    out, answers, tools = {}, {}, {}
    for key, raw in tasks.items():
        if raw.get("type") in ("single", "multiple") and len(raw.get("answers", [])) >= 2:
            out[key], answers[key] = _question(key, raw, strings)
        elif raw.get("type") == "drawing" and (drawn := _drawing(key, raw, strings)):
            out[key], tools[key] = drawn
    for task in out.values():
        for link in task.get("answers", []) + [task]:
            if link.get("next") not in out:
                link["next"] = None
    if first_task not in out:
        raise ImportRejected(f"the workflow's first task {first_task!r} is not a question or rectangle task")
    tree = {"first_task": first_task, "tasks": out}
    try:
        TaskTree.from_dict(tree)
    except SchemaError as exc:
        raise ImportRejected(f"the Zooniverse workflow does not make a valid task tree: {exc}") from None
    return ZooWorkflow(id=wf_id, name=name, version=version, tree=tree, answers=answers, tools=tools,
                       retirement=retirement or {})


def _json_cell(value: str, what: str) -> Any:
    try:
        return json.loads(value) if value else {}
    except json.JSONDecodeError as exc:
        raise ImportRejected(f"{what} is not valid JSON: {exc}") from None


def _read_csv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # annotations and strings cells are long JSON
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportRejected(f"cannot read {path.name}: {exc}") from None


def _version_matches(row_version: str, wanted: str) -> bool:
    return not wanted or row_version == wanted or row_version.split(".")[0] == wanted


def workflow_read(*, path: Path, workflow_id: int | None, version: str) -> ZooWorkflow:
    """Read a workflow export CSV (choosing ``workflow_id`` and ``version``, default the latest) or a
    workflow-version JSON."""
    if path.suffix.lower() == ".json":
        raw = _json_cell(path.read_text(encoding="utf-8"), path.name)
        wf_id = int(raw.get("links", {}).get("workflow") or workflow_id or 0)
        number = f"{raw.get('major_number', '')}.{raw.get('minor_number', '')}".strip(".")
        return workflow_from_zooniverse(tasks=raw.get("tasks") or {}, strings=raw.get("strings") or {},
                                        first_task=raw.get("first_task", "T0"), wf_id=wf_id,
                                        name=raw.get("display_name", ""), version=number)
    rows = _read_csv(path)
    if rows and not {"workflow_id", "tasks", "strings", "version"} <= set(rows[0]):
        raise ImportRejected(f"{path.name} is not a Zooniverse workflow export (needs workflow_id, version, tasks, "
                             "strings)")
    rows = [r for r in rows if workflow_id is None or r["workflow_id"] == str(workflow_id)]
    rows = [r for r in rows if _version_matches(f"{r['version']}.{r.get('minor_version', '')}", version)]
    if not rows:
        raise ImportRejected(f"{path.name} has no workflow {workflow_id or ''} version {version or 'any'}")
    row = max(rows, key=lambda r: (int(r["version"]), int(r.get("minor_version") or 0)))
    return workflow_from_zooniverse(
        tasks=_json_cell(row["tasks"], "tasks"), strings=_json_cell(row["strings"], "strings"),
        first_task=row.get("first_task") or "T0", wf_id=int(row["workflow_id"]), name=row.get("display_name", ""),
        version=f"{row['version']}.{row.get('minor_version', '')}".strip("."),
        retirement=_json_cell(row.get("retirement", ""), "retirement"))


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


def classifications_read(*, path: Path, zoo: ZooWorkflow, version: str, convention: str,
                         dropped: Counter) -> list[_Row]:
    """Rows of a Zooniverse classification export that belong to the chosen workflow (and version)."""
    rows = _read_csv(path)
    needed = {"classification_id", "user_name", "workflow_id", "annotations", "subject_ids"}
    if not rows or needed - set(rows[0]):
        raise ImportRejected(f"{path.name} is not a Zooniverse classification export (needs "
                             f"{', '.join(sorted(needed))} and at least one row)")
    out = []
    for line, row in enumerate(rows, start=2):
        if row["workflow_id"] != str(zoo.id) or not _version_matches(row.get("workflow_version", ""), version):
            continue
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
                        user_agent=str(meta.get("user_agent", ""))[:300]))
    if not out:
        raise ImportRejected(f"{path.name} has no classifications of workflow {zoo.id} version {version or 'any'}")
    return out


def placeholder_image(width: int, height: int) -> DisplayImage:
    """A plain dark image standing in for a subject whose pixels were not imported."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (24, 24, 32)).save(buf, format="PNG")
    return DisplayImage(png=buf.getvalue(), width=width, height=height, wcs_header=None, centre_radec=None)


def _coordinate(data: dict, *names: str) -> float | None:
    for name in names:
        try:
            return float(data[name])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _rules(zoo: ZooWorkflow) -> dict[str, Any]:
    questions = [k for k, t in zoo.tree["tasks"].items() if t["type"] == "single"]
    task = zoo.tree["first_task"] if zoo.tree["first_task"] in questions else (questions or ["T0"])[0]
    rules = {"task": task, "posterior_threshold": 0.99, "min_classifications": 3, "max_classifications": 40,
             "box_risk_threshold": None, "machine_threshold": None}
    count = (zoo.retirement.get("options") or {}).get("count")
    if zoo.retirement.get("criteria") == "classification_count" and isinstance(count, int) and count > 0:
        rules.update(max_classifications=count, min_classifications=min(3, count))
    return rules


def _subjects(subject_set: SubjectSet, rows: list[_Row]) -> dict[str, Subject]:
    subjects, images = {}, {}
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
    return subjects


def _volunteer(name: str, cache: dict[str, Volunteer]) -> Volunteer:
    if name not in cache:
        label = f"zooniverse:{name}"
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


def zooniverse_import(*, project_id: int, classifications_path: str | Path, workflows_path: str | Path,
                      zooniverse_workflow_id: int | None = None, version: str = "",
                      box_convention: str = "auto") -> ImportReport:
    """Import one Zooniverse workflow version, its subjects (placeholder images) and classifications.

    Everything is written in one transaction and then aggregated by the engine.
    ``box_convention``: ``auto`` reads ``x_center/y_center`` marks as centres and ``x/y`` as the
    top-left corner; ``top_left`` or ``centre`` forces the meaning of ``x/y``.
    A volunteer who classified a subject twice keeps the first classification.
    """
    if box_convention not in BOX_CONVENTIONS:
        raise ImportRejected(f"box_convention must be one of {', '.join(BOX_CONVENTIONS)}")
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise ImportRejected(f"project {project_id} does not exist")
    zoo = workflow_read(path=Path(workflows_path), workflow_id=zooniverse_workflow_id, version=version)
    dropped: Counter = Counter()
    rows = classifications_read(path=Path(classifications_path), zoo=zoo, version=version,
                                convention=box_convention, dropped=dropped)
    with transaction.atomic():
        origin = f"Zooniverse workflow {zoo.id} v{zoo.version}"
        workflow = workflow_create(project=project, name=f"{zoo.name} ({origin})" if zoo.name else origin,
                                   tree=zoo.tree, retirement_rules=_rules(zoo))
        subject_set = SubjectSet.objects.create(project=project, workflow=workflow, name=f"Zooniverse {zoo.id}")
        report = ImportReport(workflow=workflow, dropped=dropped, n_dropped_answers=sum(dropped.values()))
        subjects = _subjects(subject_set, rows)
        report.n_subjects = len(subjects)
        _classifications(workflow, rows, subjects, report)
    workflow_aggregate_all(workflow_id=workflow.pk)
    return report


def _classifications(workflow: Workflow, rows: list[_Row], subjects: dict[str, Subject],
                     report: ImportReport) -> None:
    volunteers: dict[str, Volunteer] = {}
    seen: set[tuple[int, int]] = set()
    version = workflow.current_version
    new, stamps = [], []
    for row in rows:
        volunteer, subject = _volunteer(row.user_name, volunteers), subjects[row.subject_key]
        if (volunteer.pk, subject.pk) in seen:
            report.n_duplicates += 1
            continue
        seen.add((volunteer.pk, subject.pk))
        new.append(Classification(workflow=workflow, workflow_version=version, subject=subject, volunteer=volunteer,
                                  annotations=row.annotations, started_at=row.started_at,
                                  finished_at=row.finished_at, user_agent=row.user_agent))
        stamps.append(row.created_at)
    created = Classification.objects.bulk_create(new)
    # created_at is auto_now_add; put back Zooniverse's own times so the timelines stay true.
    for obj, stamp in zip(created, stamps):
        obj.created_at = stamp or obj.created_at
    Classification.objects.bulk_update(created, ["created_at"])
    report.n_classifications = len(created)
