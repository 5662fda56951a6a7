"""The machine's common held-out set: the galaxies every classifier version is judged and calibrated on.

Members are every gold subject, plus galaxies of a *reserved* stratum that retired with a
confident posterior (largest probability of the retirement question >= ``HOLDOUT_CONFIDENCE``).

* Never trained on: the stratum is a fixed hash of the subject id (``HOLDOUT_SHARE`` of all
  subjects), known before the galaxy has a single vote, and training sets leave out gold,
  held-out and (while the set is still growing) reserved subjects. So a galaxy that joins
  the set late was still never seen by any version.
* Fixed across versions, grown only by adding: `holdout_grow` sets ``Subject.holdout`` and
  nothing clears it. Versions are compared by re-scoring both on the set as it is now.
* Bounded: once it holds ``HOLDOUT_TARGET`` subjects it stops growing, and the reserved
  galaxies left outside it return to training (they were never held out, so nothing leaks).
"""
from __future__ import annotations

import numpy as np
from django.db.models import Q

from aggregation.schema import TaskTree
from zooapp.models import GoldAnswer, Subject, SubjectPosterior, Workflow

HOLDOUT_SHARE = 0.1
HOLDOUT_CONFIDENCE = 0.99
HOLDOUT_TARGET = 500
_HASH = 2654435761  # Knuth's multiplicative hash: spreads consecutive ids over the stratum


def subject_reserved(subject_id: int) -> bool:
    """Whether a subject belongs to the stratum the held-out set is drawn from (fixed per id)."""
    return (subject_id * _HASH) % 2**32 < HOLDOUT_SHARE * 2**32


def holdout_is_full(*, workflow: Workflow) -> bool:
    return Subject.objects.filter(workflow=workflow, holdout=True).count() >= HOLDOUT_TARGET


def holdout_grow(*, workflow: Workflow) -> int:
    """Add gold and confidently retired reserved subjects to the held-out set; returns how many joined."""
    gold = list(Subject.objects.filter(workflow=workflow, is_gold=True, holdout=False).values_list("pk", flat=True))
    new = set(gold)
    if not holdout_is_full(workflow=workflow):
        retired = Subject.objects.filter(workflow=workflow, status=Subject.Status.RETIRED, is_gold=False,
                                         holdout=False).values_list("pk", flat=True)
        candidates = [pk for pk in retired if subject_reserved(pk)]
        posts = SubjectPosterior.objects.filter(subject_id__in=candidates, task=workflow.rules.task)
        new |= {p.subject_id for p in posts if p.probabilities.max() >= HOLDOUT_CONFIDENCE}
    return Subject.objects.filter(pk__in=new).update(holdout=True)


def trainable_subjects(*, workflow: Workflow) -> list[Subject]:
    """Subjects with votes a training set may use: not gold, not held out, not reserved while the set grows."""
    full = holdout_is_full(workflow=workflow)
    subjects = Subject.objects.filter(workflow=workflow, is_gold=False, holdout=False, n_classifications__gt=0)
    return [s for s in subjects.prefetch_related("frames").order_by("id") if full or not subject_reserved(s.pk)]


def holdout_labels(*, workflow: Workflow, tree: TaskTree) -> tuple[list[Subject], dict[str, np.ndarray]]:
    """The held-out subjects and, per single-answer question, ``(N,)`` label indices (-1: unknown).

    A gold answer is the label where there is one; otherwise a posterior of a retired subject
    whose largest probability reaches ``HOLDOUT_CONFIDENCE``.
    """
    subjects = list(Subject.objects.filter(workflow=workflow, holdout=True).prefetch_related("frames").order_by("id"))
    index = {s.pk: i for i, s in enumerate(subjects)}
    questions = [q for q in tree.questions() if q.type == "single"]
    labels = {q.key: np.full(len(subjects), -1, dtype=int) for q in questions}
    for post in SubjectPosterior.objects.filter(subject_id__in=index, subject__status=Subject.Status.RETIRED):
        p = post.probabilities
        if post.task in labels and post.labels == tree.tasks[post.task].labels and p.max() >= HOLDOUT_CONFIDENCE:
            labels[post.task][index[post.subject_id]] = int(p.argmax())
    for gold in GoldAnswer.objects.filter(Q(subject_id__in=index), Q(subject__is_gold=True)):
        if gold.task in labels and gold.value in tree.tasks[gold.task].labels:
            labels[gold.task][index[gold.subject_id]] = tree.tasks[gold.task].labels.index(gold.value)
    return subjects, labels
