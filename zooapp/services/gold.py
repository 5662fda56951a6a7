"""Gold and expert answers given one at a time by a project's experts, and example galaxies for help pages.

Uploading a CSV of gold answers is `subject_uploads.gold_answers_upload`; this module adds the single
answer an expert gives from the browser, with the same rule (the answer must be one of the question's
labels in the workflow's current tree), and the examples the tutorial and field guide show.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

from zooapp.errors import NotFound, ValidationFailed
from zooapp.models import GoldAnswer, Subject, SubjectPosterior, Workflow
from zooapp.services.aggregation import version_tree

EXAMPLE_CONFIDENCE = 0.9  # a retired galaxy shows an answer only when the crowd's posterior is at least this sure
EXAMPLES_TTL = 600  # seconds the classify page reuses a workflow's examples: new retirements show up within this


def _questions(workflow: Workflow) -> dict:
    version = workflow.current_version
    if version is None:
        raise ValidationFailed("the workflow has no published version yet; publish it before giving gold answers")
    return {key: task for key, task in version_tree(version).tasks.items() if task.is_question}


@transaction.atomic
def gold_answer_set(*, workflow: Workflow, external_id: str, task: str, value: str) -> GoldAnswer:
    """Store an expert's answer to one question for one galaxy (making it a gold subject), or replace it."""
    questions = _questions(workflow)
    question = questions.get(task)
    if question is None:
        raise ValidationFailed(f"{task!r} is not a question of this workflow; it has {', '.join(questions)}")
    if value not in question.labels:
        raise ValidationFailed(f"{value!r} is not an answer to {task}; choose one of {', '.join(question.labels)}")
    subject = Subject.objects.select_for_update().filter(workflow=workflow, external_id=external_id.strip()).first()
    if subject is None:
        raise NotFound(f"no galaxy {external_id.strip()!r} in this workflow (use the subject's id from its manifest)")
    answer, _ = GoldAnswer.objects.update_or_create(subject=subject, task=task, defaults={"value": value})
    if not subject.is_gold:
        subject.is_gold = True
        subject.save(update_fields=["is_gold"])
    return answer


def gold_answer_choices(*, workflow: Workflow) -> list[tuple[str, str, str]]:
    """``(question key, answer label, "question: answer")`` for every answer of the current tree."""
    return [(key, a.label, f"{key} {task.question}: {a.text}") for key, task in _questions(workflow).items()
            for a in task.answers]


def gold_subject_list(*, workflow: Workflow, limit: int = 100) -> list[tuple[Subject, dict[str, str]]]:
    """The workflow's gold subjects, newest answers first, each with its answers by question."""
    subjects = (Subject.objects.filter(workflow=workflow, is_gold=True).prefetch_related("frames", "gold_answers")
                .order_by("-gold_answers__id").distinct()[:limit])
    return [(s, {a.task: a.value for a in s.gold_answers.all()}) for s in subjects]


@dataclass(frozen=True)
class Example:
    subject_id: int
    url: str
    probability: float  # the crowd's posterior for the answer when the galaxy retired


def answer_examples(*, workflow: Workflow, per_answer: int = 2, scan: int = 2000) -> dict[str, dict[str, list[Example]]]:
    """Example galaxies for each answer of each question, from the project's own retired galaxies.

    Only retired, non-gold galaxies whose posterior gives the answer at least `EXAMPLE_CONFIDENCE`, most
    certain first: a gold galaxy is never an example, since it is still served and its shown answer would
    be a gold answer handed out (the farming #16 closed). ``{question: {label: [Example, ...]}}``; answers
    without a confident example are left out. Reads at most ``scan`` posteriors.
    """
    questions = _questions(workflow)
    posteriors = (SubjectPosterior.objects.filter(subject__workflow=workflow, subject__status=Subject.Status.RETIRED,
                                                  subject__is_gold=False, task__in=list(questions))
                  .prefetch_related("subject__frames").order_by("-subject_id")[:scan])
    found: dict[str, dict[str, list[Example]]] = {}
    for p in posteriors:
        probs = p.probabilities
        best = int(probs.argmax()) if len(probs) else 0
        frame = next(iter(p.subject.frames.all()), None)
        if frame is None or not len(probs) or probs[best] < EXAMPLE_CONFIDENCE:
            continue
        found.setdefault(p.task, {}).setdefault(str(p.labels[best]), []).append(
            Example(subject_id=p.subject_id, url=frame.image.url, probability=float(probs[best])))
    return {task: {label: sorted(shelf, key=lambda e: -e.probability)[:per_answer] for label, shelf in answers.items()}
            for task, answers in found.items()}


def help_examples(*, workflow: Workflow, per_answer: int = 2) -> list[dict]:
    """The examples of `answer_examples` in tree order, with texts, for the tutorial, field guide and task help.

    ``[{"key", "question", "answers": [{"label", "text", "examples": [{"id", "url"}]}]}]``, only answers that
    have an example. Cached per workflow for `EXAMPLES_TTL` seconds: the classify page reads it on every load.
    """
    def build() -> list[dict]:
        found = answer_examples(workflow=workflow, per_answer=per_answer)
        out = []
        for key, task in _questions(workflow).items():
            answers = [{"label": a.label, "text": a.text,
                        "examples": [{"id": e.subject_id, "url": e.url} for e in found.get(key, {}).get(a.label, [])]}
                       for a in task.answers]
            answers = [a for a in answers if a["examples"]]
            if answers:
                out.append({"key": key, "question": task.question, "answers": answers})
        return out

    version = workflow.current_version
    return cache.get_or_set(f"help-examples:{workflow.pk}:{version.pk if version else 0}", build, EXAMPLES_TTL)
