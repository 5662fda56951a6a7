"""The workflow's decision tree, shared by the platform, the engine and the models.

A workflow is a small graph of *tasks*.  Question tasks offer answers that each
name the next task; a drawing task collects rectangles and names its successor.
The same dictionary is stored by the platform (one per workflow version), sent to
the browser, validated on every submitted classification, and used by the
machine-learning side to build one output head per question.

This module is framework-free on purpose (house style G1/G15): ``zooapp`` and
``ml`` both import it, and it imports only the standard library.

Examples
--------
>>> tree = TaskTree.from_dict({
...     "first_task": "T0",
...     "tasks": {
...         "T0": {"type": "single", "question": "Smooth or featured?",
...                "answers": [{"label": "smooth", "text": "Smooth", "next": None},
...                            {"label": "featured", "text": "Featured", "next": "T1"}]},
...         "T1": {"type": "drawing", "instruction": "Box the clumps",
...                "tools": [{"label": "clump", "type": "rectangle", "min": 0, "max": 5}],
...                "next": None},
...     },
... })
>>> [q.key for q in tree.questions()]
['T0']
>>> tree.validate([{"task": "T0", "value": "smooth"}], image_width=64, image_height=64)
[{'task': 'T0', 'value': 'smooth'}]
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .base import CORNERS

QUESTION_TYPES = ("single", "multiple")
TASK_TYPES = QUESTION_TYPES + ("drawing",)


class SchemaError(ValueError):
    """The task tree itself is malformed (raised when a workflow is saved)."""


class AnnotationError(ValueError):
    """A classification's annotations do not fit the task tree (raised on submit)."""


@dataclass(frozen=True)
class Answer:
    label: str
    text: str
    next: str | None = None


@dataclass(frozen=True)
class Tool:
    label: str
    type: str = "rectangle"
    min: int = 0
    max: int = 20


@dataclass(frozen=True)
class Task:
    key: str
    type: str
    question: str = ""
    help: str = ""
    answers: tuple[Answer, ...] = ()
    tools: tuple[Tool, ...] = ()
    next: str | None = None

    @property
    def labels(self) -> list[str]:
        """Answer labels in display order; the index is the class index used by the engine."""
        return [a.label for a in self.answers]

    @property
    def is_question(self) -> bool:
        return self.type in QUESTION_TYPES

    def next_after(self, value: Any) -> str | None:
        if self.type == "single":
            return next(a.next for a in self.answers if a.label == value)
        return self.next


@dataclass(frozen=True)
class TaskTree:
    first_task: str
    tasks: Mapping[str, Task] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TaskTree":
        """Parse and check a stored tree; raises :class:`SchemaError` naming the fault."""
        if not isinstance(data, Mapping) or "tasks" not in data or "first_task" not in data:
            raise SchemaError("a task tree needs 'first_task' and 'tasks'")
        tasks = {key: _parse_task(key, raw) for key, raw in dict(data["tasks"]).items()}
        tree = cls(first_task=str(data["first_task"]), tasks=tasks)
        tree._check_links()
        return tree

    def to_dict(self) -> dict[str, Any]:
        return {"first_task": self.first_task, "tasks": {k: _task_to_dict(t) for k, t in self.tasks.items()}}

    def questions(self) -> list[Task]:
        """Question tasks (single or multiple answer), in a stable order."""
        return [t for t in self.tasks.values() if t.is_question]

    def drawing_tasks(self) -> list[Task]:
        return [t for t in self.tasks.values() if t.type == "drawing"]

    def validate(self, annotations: Sequence[Mapping[str, Any]], *, image_width: int,
                 image_height: int) -> list[dict[str, Any]]:
        """Check that ``annotations`` walk the tree from its first task.

        Parameters
        ----------
        annotations : sequence of dict
            ``[{"task": key, "value": v}, ...]`` in the order answered.  ``v`` is an
            answer label (single), a list of labels (multiple) or a list of marks
            ``{"tool", "x_min", "y_min", "x_max", "y_max"}`` in image pixels (drawing).
        image_width, image_height : int
            The subject's image size in pixels; every box must lie inside it.

        Returns
        -------
        list of dict
            The annotations normalised (floats for coordinates, labels as str).

        Raises
        ------
        AnnotationError
            With a message naming the task and the fault.
        """
        if not isinstance(annotations, Sequence) or isinstance(annotations, (str, bytes)):
            raise AnnotationError("annotations must be a list")
        out: list[dict[str, Any]] = []
        expected: str | None = self.first_task
        for i, ann in enumerate(annotations):
            if not isinstance(ann, Mapping) or "task" not in ann or "value" not in ann:
                raise AnnotationError(f"annotation {i} must be an object with 'task' and 'value'")
            key = ann["task"]
            if key != expected:
                raise AnnotationError(f"annotation {i} answers task {key!r} but the tree expects {expected!r}")
            task = self.tasks[key]
            value = _validate_value(task, ann["value"], image_width, image_height)
            out.append({"task": key, "value": value})
            expected = task.next_after(value)
        if expected is not None:
            raise AnnotationError(f"the classification stops before task {expected!r} was answered")
        return out

    def _check_links(self) -> None:
        if self.first_task not in self.tasks:
            raise SchemaError(f"first_task {self.first_task!r} is not a task")
        for task in self.tasks.values():
            targets = [a.next for a in task.answers] + [task.next]
            for target in targets:
                if target is not None and target not in self.tasks:
                    raise SchemaError(f"task {task.key!r} points to unknown task {target!r}")
        self._check_acyclic()

    def _check_acyclic(self) -> None:
        # Depth-first walk with an explicit stack, so a long uploaded tree cannot hit Python's recursion
        # limit; a cycle would let a client loop forever. A key on the stack's path is "open".
        done: set[str] = set()
        open_keys = {self.first_task}
        stack = [(self.first_task, iter(self._successors(self.first_task)))]
        while stack:
            key, successors = stack[-1]
            nxt = next(successors, None)
            if nxt is None:
                stack.pop()
                open_keys.discard(key)
                done.add(key)
            elif nxt in open_keys:
                raise SchemaError(f"the task tree has a cycle through {nxt!r}")
            elif nxt not in done:
                open_keys.add(nxt)
                stack.append((nxt, iter(self._successors(nxt))))

    def _successors(self, key: str) -> list[str]:
        task = self.tasks[key]
        return sorted({a.next for a in task.answers if a.next is not None} | ({task.next} - {None}))


def _parse_task(key: str, raw: Mapping[str, Any]) -> Task:
    if not isinstance(raw, Mapping):
        raise SchemaError(f"task {key!r} must be an object")
    kind = raw.get("type")
    if kind not in TASK_TYPES:
        raise SchemaError(f"task {key!r} has type {kind!r}; expected one of {', '.join(TASK_TYPES)}")
    answers = tuple(Answer(label=str(a["label"]), text=str(a.get("text", a["label"])), next=a.get("next"))
                    for a in raw.get("answers", ()))
    tools = tuple(Tool(label=str(t["label"]), type=str(t.get("type", "rectangle")),
                       min=int(t.get("min", 0)), max=int(t.get("max", 20))) for t in raw.get("tools", ()))
    if kind in QUESTION_TYPES and len(answers) < 2:
        raise SchemaError(f"question {key!r} needs at least two answers")
    if len({a.label for a in answers}) != len(answers):
        raise SchemaError(f"question {key!r} repeats an answer label")
    if kind == "drawing" and not tools:
        raise SchemaError(f"drawing task {key!r} needs at least one tool")
    for tool in tools:
        if tool.type != "rectangle" or not 0 <= tool.min <= tool.max:
            raise SchemaError(f"tool {tool.label!r} of {key!r} must be a rectangle with 0 <= min <= max")
    return Task(key=key, type=kind, question=str(raw.get("question", raw.get("instruction", ""))),
                help=str(raw.get("help", "")), answers=answers, tools=tools, next=raw.get("next"))


def _task_to_dict(task: Task) -> dict[str, Any]:
    out: dict[str, Any] = {"type": task.type, "question": task.question, "help": task.help}
    if task.answers:
        out["answers"] = [{"label": a.label, "text": a.text, "next": a.next} for a in task.answers]
    if task.tools:
        out["tools"] = [{"label": t.label, "type": t.type, "min": t.min, "max": t.max} for t in task.tools]
    if task.type != "single":
        out["next"] = task.next
    return out


def _validate_value(task: Task, value: Any, width: int, height: int) -> Any:
    if task.type == "single":
        if not isinstance(value, str) or value not in task.labels:
            raise AnnotationError(f"task {task.key!r}: {value!r} is not one of {task.labels}")
        return value
    if task.type == "multiple":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise AnnotationError(f"task {task.key!r}: expected a list of answer labels")
        unknown = [v for v in value if v not in task.labels]
        if unknown or len(set(value)) != len(value):
            raise AnnotationError(f"task {task.key!r}: answers must be distinct labels from {task.labels}")
        return list(value)
    return _validate_marks(task, value, width, height)


def _validate_marks(task: Task, marks: Any, width: int, height: int) -> list[dict[str, Any]]:
    if not isinstance(marks, list):
        raise AnnotationError(f"task {task.key!r}: marks must be a list")
    tools = {t.label: t for t in task.tools}
    out = [_validate_box(task.key, m, tools, width, height) for m in marks]
    for tool in task.tools:
        n = sum(1 for m in out if m["tool"] == tool.label)
        if not tool.min <= n <= tool.max:
            raise AnnotationError(f"task {task.key!r}: tool {tool.label!r} needs between "
                                  f"{tool.min} and {tool.max} marks, got {n}")
    return out


def _validate_box(key: str, mark: Any, tools: Mapping[str, Tool], width: int, height: int) -> dict[str, Any]:
    if not isinstance(mark, Mapping):
        raise AnnotationError(f"task {key!r}: each mark must be an object")
    tool = mark.get("tool", next(iter(tools)))
    if tool not in tools:
        raise AnnotationError(f"task {key!r}: unknown tool {tool!r}")
    coords = {}
    for name in CORNERS:
        v = mark.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise AnnotationError(f"task {key!r}: {name} must be a finite number")
        coords[name] = float(v)
    if coords["x_max"] <= coords["x_min"] or coords["y_max"] <= coords["y_min"]:
        raise AnnotationError(f"task {key!r}: a box must have positive width and height")
    if coords["x_min"] < 0 or coords["y_min"] < 0 or coords["x_max"] > width or coords["y_max"] > height:
        raise AnnotationError(f"task {key!r}: a box lies outside the {width}x{height} image")
    return {"tool": tool, **coords}


TREES_DIR = Path(__file__).resolve().parent / "trees"


def galaxy_zoo_tree() -> TaskTree:
    """The Galaxy-Zoo-style morphology tree (``aggregation/trees/galaxy_zoo.json``).

    It lives with the schema, not in the platform, because the synthetic survey,
    the trainers' command line and the demo workflow all speak it.

    Examples
    --------
    >>> galaxy_zoo_tree().tasks["T0"].labels
    ['smooth', 'featured', 'artifact']
    """
    return TaskTree.from_dict(json.loads((TREES_DIR / "galaxy_zoo.json").read_text()))
