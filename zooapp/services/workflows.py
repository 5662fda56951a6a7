"""Building workflows: tree checks, drafts, diffs, publishing versions, the life cycle and tree imports.

A workflow's tree is edited as a *draft* (``Workflow.draft_tree``); publishing turns the draft
into a new ``WorkflowVersion`` and classifications keep the version they were made on. The
engine keys its state by question key and answer position, so a question whose answers change
after it has votes is published under a new key (``T0`` becomes ``T0_v3``): its old votes keep
their results and the changed question is aggregated afresh. That is a *breaking* change, and
publishing one needs ``confirm=True``.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from aggregation.schema import AnnotationError, SchemaError, TaskTree
from zooapp.errors import Conflict, ValidationFailed
from zooapp.models import Classification, Project, Subject, Workflow, WorkflowVersion
from zooapp.services.imports import ImportRejected, workflow_read

KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")  # the engine's task columns hold 40 characters
STARTER_TREE = {"first_task": "T0", "tasks": {"T0": {
    "type": "single", "question": "What do you see?", "help": "",
    "answers": [{"label": "yes", "text": "Yes", "next": None}, {"label": "no", "text": "No", "next": None}]}}}
Status = Workflow.Status
TRANSITIONS = {Status.DRAFT: {Status.ACTIVE}, Status.ACTIVE: {Status.PAUSED, Status.FINISHED},
               Status.PAUSED: {Status.ACTIVE, Status.FINISHED}, Status.FINISHED: set()}


# --- checking a tree ------------------------------------------------------------------------------------

def tree_problems(tree: Any) -> list[str]:
    """Every fault of a tree, each a sentence naming the task; [] for a tree that can be published.

    ``tree["tasks"]`` may be a dict keyed by task key or, as the editor sends it, a list of tasks
    each with its ``key`` (so two tasks with one key are caught instead of silently merged).
    """
    if not isinstance(tree, dict) or "tasks" not in tree or "first_task" not in tree:
        return ["a task tree needs 'first_task' and 'tasks'"]
    tasks, problems = _tasks_as_dict(tree["tasks"])
    for key, task in tasks.items():
        problems += _task_problems(key, task)
    if problems:
        return problems
    try:
        parsed = TaskTree.from_dict({"first_task": tree["first_task"], "tasks": tasks})
    except SchemaError as exc:  # cycles, links to missing tasks, repeated answer labels
        return [str(exc)]
    return [f"task {key!r} cannot be reached from the first task {parsed.first_task!r}"
            for key in parsed.tasks if key not in _reachable(parsed)]


def _tasks_as_dict(tasks: Any) -> tuple[dict[str, Any], list[str]]:
    if isinstance(tasks, dict):
        return dict(tasks), []
    if not isinstance(tasks, list):
        return {}, ["'tasks' must be an object or a list of tasks"]
    out, problems = {}, []
    for i, task in enumerate(tasks):
        key = task.get("key") if isinstance(task, dict) else None
        if key in out:
            problems.append(f"two tasks have the key {key!r}: each task needs its own key")
        out[key if isinstance(key, str) else f"#{i + 1}"] = task
    return out, problems


def _task_problems(key: str, task: Any) -> list[str]:
    if not KEY_PATTERN.match(str(key)):
        return [f"task key {key!r} must start with a letter and hold at most 40 letters, digits, '_', '.' or '-'"]
    if not isinstance(task, dict):
        return [f"task {key!r} must be an object"]
    problems = []
    if not str(task.get("question") or task.get("instruction") or "").strip():
        problems.append(f"task {key!r} has no question text")
    for n, answer in enumerate(task.get("answers") or [], start=1):
        if not isinstance(answer, dict) or not str(answer.get("label") or "").strip():
            problems.append(f"answer {n} of task {key!r} has no label")
        elif not str(answer.get("text") or "").strip():
            problems.append(f"answer {answer['label']!r} of task {key!r} has no text")
    for n, tool in enumerate(task.get("tools") or [], start=1):
        if not isinstance(tool, dict) or not str(tool.get("label") or "").strip():
            problems.append(f"tool {n} of task {key!r} has no label")
    return problems


def _reachable(tree: TaskTree) -> set[str]:
    seen, todo = set(), [tree.first_task]
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            task = tree.tasks[key]
            todo += [a.next for a in task.answers if a.next] + ([task.next] if task.next else [])
    return seen


def tree_check(tree: Any) -> dict[str, Any]:
    """The tree in its stored form (tasks keyed by key), or ValidationFailed listing every fault."""
    problems = tree_problems(tree)
    if problems:
        raise ValidationFailed("The task tree is not valid: " + "; ".join(problems) + ".")
    tasks, _ = _tasks_as_dict(tree["tasks"])
    clean = {k: {f: v for f, v in t.items() if f != "key"} for k, t in tasks.items()}
    return TaskTree.from_dict({"first_task": tree["first_task"], "tasks": clean}).to_dict()


# --- reading trees from files -----------------------------------------------------------------------------

def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValidationFailed(f"the JSON repeats the key {repeated[0]!r}: each key may appear once")
    return dict(pairs)


def tree_parse_json(text: str) -> Any:
    """JSON text, refusing repeated keys (json.loads would keep the last silently)."""
    try:
        return json.loads(text, object_pairs_hook=_no_repeated_keys)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"the file is not valid JSON: {exc}") from None


def tree_from_gz2(data: dict[str, Any]) -> dict[str, Any]:
    """The Galaxy Zoo 2 decision tree (Willett et al. 2013; shared/data/gz2_decision_tree) as a task tree.

    Task keys (T01..T11) and answer names (``smooth``, ``features_or_disk``, ...) become the stable keys.
    """
    tasks = {}
    for raw in data.get("tasks") or []:
        answers = [{"label": a["name"], "text": a["name"].replace("_", " ").capitalize(),
                    "next": None if a.get("next") in (None, "end") else a["next"]} for a in raw["answers"]]
        tasks[raw["task"]] = {"type": "single", "question": raw["question"], "answers": answers}
    if not tasks:
        raise ValidationFailed("the GZ2 file has no tasks")
    return tree_check({"first_task": data.get("first_task") or next(iter(tasks)), "tasks": tasks})


def tree_load(*, path: Path, zooniverse_workflow_id: int | None = None) -> dict[str, Any]:
    """A checked tree from a file: our JSON, the GZ2 schema, a Zooniverse workflows.csv or workflow JSON."""
    if path.suffix.lower() == ".csv":
        return tree_from_zooniverse(path=path, workflow_id=zooniverse_workflow_id)
    try:
        data = tree_parse_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read {path.name}: {exc}") from None
    return tree_from_data(data, path=path, zooniverse_workflow_id=zooniverse_workflow_id)


def tree_from_data(data: Any, *, path: Path | None = None, zooniverse_workflow_id: int | None = None) -> dict:
    """A checked tree from parsed JSON in any of the formats `tree_load` reads."""
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if isinstance(tasks, list) and tasks and "asked_after" in tasks[0]:
        return tree_from_gz2(data)
    if isinstance(data, dict) and "strings" in data and path is not None:
        return tree_from_zooniverse(path=path, workflow_id=zooniverse_workflow_id)
    return tree_check(data)


def tree_from_zooniverse(*, path: Path, workflow_id: int | None = None, version: str = "") -> dict[str, Any]:
    """A Zooniverse workflows.csv (or workflow-version JSON) as a checked tree, via the importer's converter."""
    try:
        return tree_check(workflow_read(path=path, workflow_id=workflow_id, version=version).tree)
    except ImportRejected as exc:
        raise ValidationFailed(str(exc)) from None


# --- drafts -----------------------------------------------------------------------------------------------

def workflow_draft_create(*, project: Project, name: str, tree: Any = None) -> Workflow:
    """A new workflow in the draft state, holding ``tree`` (or a two-answer starter) as its unpublished draft."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed("a workflow needs a name of 1 to 200 characters")
    clean = tree_check(STARTER_TREE if tree is None else tree)
    return Workflow.objects.create(project=project, name=name, status=Status.DRAFT, active=False, draft_tree=clean)


def workflow_draft_save(*, workflow: Workflow, tree: Any) -> Workflow:
    """Store an edited tree as the workflow's draft; a finished workflow is not edited."""
    if workflow.status == Status.FINISHED:
        raise Conflict("this workflow is finished: its tree can no longer change (make a new workflow instead)")
    workflow.draft_tree = tree_check(tree)
    workflow.save(update_fields=["draft_tree"])
    return workflow


def workflow_editing_tree(workflow: Workflow) -> dict[str, Any]:
    """What the editor and the preview show: the draft, else the published tree."""
    if workflow.draft_tree is not None:
        return workflow.draft_tree
    version = workflow.current_version
    return version.tree if version is not None else STARTER_TREE


# A preview without subjects shows this field-guide image (its size in pixels).
PREVIEW_IMAGE = ("img/fieldguide/featured.png", 192, 192)


def preview_subject(workflow: Workflow) -> Subject | None:
    """The subject the preview shows: the workflow's first, or None (then the preview shows PREVIEW_IMAGE)."""
    return workflow.subjects.prefetch_related("frames").order_by("id").first()


def workflow_preview_check(*, workflow: Workflow, annotations: Any) -> list[dict[str, Any]]:
    """Check a preview's answers against the draft as a classification would be checked; stores nothing."""
    tree = TaskTree.from_dict(tree_check(workflow_editing_tree(workflow)))
    subject = preview_subject(workflow)
    width, height = (subject.width, subject.height) if subject else PREVIEW_IMAGE[1:]
    try:
        return tree.validate(annotations, image_width=width, image_height=height)
    except AnnotationError as exc:
        raise ValidationFailed(f"Preview: {exc}") from None


# --- the diff between the published tree and the draft ------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One difference between the published tree and the draft; ``breaking`` ones need a confirmation."""

    task: str
    kind: str
    message: str
    breaking: bool = False


def answer_votes(*, workflow: Workflow) -> dict[str, Counter]:
    """Per question key, the human votes each answer label has had, over every version."""
    votes: dict[str, Counter] = defaultdict(Counter)
    rows = Classification.objects.filter(workflow=workflow, volunteer__kind="human").values_list("annotations",
                                                                                                 flat=True)
    for annotations in rows.iterator():
        for annotation in annotations:
            values = annotation["value"] if isinstance(annotation["value"], list) else [annotation["value"]]
            votes[annotation["task"]].update(v for v in values if isinstance(v, str))
    return votes


def tree_diff(old: dict[str, Any] | None, new: dict[str, Any], votes: dict[str, Counter]) -> list[Change]:
    """The changes from ``old`` to ``new``; a change is breaking when it drops or reshapes a question with votes."""
    old_tasks = (old or {"tasks": {}})["tasks"]
    changes = [Change(k, "added", f"new task {k!r}: {t.get('question', '')}")
               for k, t in new["tasks"].items() if k not in old_tasks]
    for key, before in old_tasks.items():
        after, n = new["tasks"].get(key), sum(votes.get(key, Counter()).values())
        if after is None:
            changes.append(Change(key, "removed", f"task {key!r} is removed; its {n} votes stay with the earlier "
                                  "versions, in their results and exports, and it is no longer asked", n > 0))
        else:
            changes += _task_changes(key, before, after, votes.get(key, Counter()))
    if old and old["first_task"] != new["first_task"]:
        changes.append(Change(new["first_task"], "first", f"the tree now starts at {new['first_task']!r}"))
    return changes


def _task_changes(key: str, before: dict, after: dict, votes: Counter) -> list[Change]:
    changes, n = [], sum(votes.values())
    labels = ([a["label"] for a in before.get("answers", [])], [a["label"] for a in after.get("answers", [])])
    if labels[0] != labels[1] or before["type"] != after["type"]:
        lost = [f"{label!r} ({votes[label]} votes)" for label in labels[0] if label not in labels[1]]
        what = f"removes {', '.join(lost)}" if lost else "changes its answers or their order"
        changes.append(Change(key, "answers", f"task {key!r} {what}. Its {n} votes so far stay with the earlier "
                              f"versions and keep their results; from this version the question is aggregated "
                              "afresh under a new key, and its gold answers no longer apply" if n else
                              f"task {key!r} {what} (no votes yet)", n > 0))
    for field in ("question", "help"):
        if before.get(field, "") != after.get(field, ""):
            changes.append(Change(key, field, f"task {key!r}: new {field} text"))
    texts = ({a["label"]: a["text"] for a in before.get("answers", [])},
             {a["label"]: a["text"] for a in after.get("answers", [])})
    changes += [Change(key, "text", f"answer {label!r} of {key!r} now reads {text!r}")
                for label, text in texts[1].items() if label in texts[0] and texts[0][label] != text]
    if _links(before) != _links(after):
        changes.append(Change(key, "branching", f"task {key!r} now leads elsewhere"))
    if before.get("tools") != after.get("tools"):
        changes.append(Change(key, "tools", f"drawing task {key!r} has new tools or mark limits"))
    return changes


def _links(task: dict) -> tuple:
    return tuple((a["label"], a.get("next")) for a in task.get("answers", [])) + (task.get("next"),)


def workflow_diff(*, workflow: Workflow) -> dict[str, Any]:
    """The draft against the published tree: ``{"changes": [...], "breaking": bool, "version": n}``."""
    version = workflow.current_version
    draft = workflow_editing_tree(workflow)
    changes = tree_diff(version.tree if version else None, draft, answer_votes(workflow=workflow))
    return {"changes": [asdict(c) for c in changes], "breaking": any(c.breaking for c in changes),
            "version": version.number if version else 0, "has_draft": workflow.draft_tree is not None}


# --- publishing and the life cycle ------------------------------------------------------------------------

def workflow_publish(*, workflow: Workflow, confirm: bool = False) -> WorkflowVersion:
    """Publish the draft as the next WorkflowVersion; a breaking change needs ``confirm=True``.

    Raises Conflict (and stores nothing) when the change is breaking and not confirmed, naming what
    would happen to the votes.
    """
    if workflow.draft_tree is None:
        raise Conflict("there is no draft to publish: edit the tree first")
    if workflow.status == Status.FINISHED:
        raise Conflict("this workflow is finished: it takes no new versions")
    tree = tree_check(workflow.draft_tree)
    previous = workflow.current_version
    changes = tree_diff(previous.tree if previous else None, tree, answer_votes(workflow=workflow))
    breaking = [c for c in changes if c.breaking]
    if breaking and not confirm:
        raise Conflict("This change affects votes already given: " + " ".join(c.message + "." for c in breaking)
                       + " Publish again with confirm to go ahead.")
    number = previous.number + 1 if previous else 1
    rekeyed = {c.task: _new_key(c.task, number, tree) for c in breaking if c.kind == "answers"}
    with transaction.atomic():
        version = WorkflowVersion.objects.create(workflow=workflow, number=number, tree=_rekey(tree, rekeyed))
        workflow.draft_tree = None
        rules = dict(workflow.retirement_rules)
        rules["task"] = rekeyed.get(rules.get("task"), rules.get("task"))
        workflow.retirement_rules = rules
        workflow.save(update_fields=["draft_tree", "retirement_rules"])
    return version


def _new_key(key: str, number: int, tree: dict) -> str:
    base = f"{key[:34]}_v{number}"
    candidate, n = base, 1
    while candidate in tree["tasks"]:
        n += 1
        candidate = f"{base}.{n}"
    return candidate


def _rekey(tree: dict, rekeyed: dict[str, str]) -> dict:
    """The tree with the tasks in ``rekeyed`` renamed, and every link to them followed."""
    def link(key):
        return rekeyed.get(key, key)

    tasks = {}
    for key, task in tree["tasks"].items():
        task = {**task, "answers": [{**a, "next": link(a.get("next"))} for a in task.get("answers", [])]}
        if not task["answers"]:
            del task["answers"]
        if "next" in task:
            task["next"] = link(task["next"])
        tasks[link(key)] = task
    return {"first_task": link(tree["first_task"]), "tasks": tasks}


def workflow_status_set(*, workflow: Workflow, status: str) -> Workflow:
    """Move along the life cycle: draft → active ⇄ paused → finished (finished is for good)."""
    if status not in Status.values:
        raise ValidationFailed(f"unknown status {status!r}; choose one of {', '.join(Status.values)}")
    if status not in TRANSITIONS[workflow.status]:
        allowed = ", ".join(sorted(TRANSITIONS[workflow.status])) or "nothing: it is finished"
        raise Conflict(f"a {workflow.status} workflow cannot become {status}; it can become {allowed}")
    if status == Status.ACTIVE and workflow.current_version is None:
        raise Conflict("publish the tree before launching: volunteers need a published version")
    if status == Status.ACTIVE and not workflow.subjects.exists():
        raise Conflict("upload subjects before launching: there is nothing to classify yet")
    workflow.status, workflow.active = status, status == Status.ACTIVE
    workflow.save(update_fields=["status", "active"])
    return workflow


def workflow_import(*, project: Project, name: str, tree: Any, launch: bool = False) -> Workflow:
    """A workflow made and published in one step (the command line and the API): checked as the editor checks."""
    with transaction.atomic():
        workflow = workflow_draft_create(project=project, name=name, tree=tree)
        workflow_publish(workflow=workflow)
        if launch:
            workflow_status_set(workflow=workflow, status=Status.ACTIVE)
    return workflow
