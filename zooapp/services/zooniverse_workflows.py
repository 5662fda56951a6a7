"""Zooniverse (Panoptes) workflow definitions in: a workflow export row or a workflow-version JSON becomes our
task tree, with each answer's text resolved from ``strings``. Used by :mod:`zooapp.services.imports`."""
from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregation.schema import SchemaError, TaskTree

_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")


class ImportRejected(ValueError):
    """The files cannot be imported; the message says why. Nothing was stored."""


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
