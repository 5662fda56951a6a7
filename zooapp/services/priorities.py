"""The queue priority: the one place that turns posteriors and the machine's BALD into ``Subject.priority``.

The volunteer queue (:mod:`zooapp.selection`) serves the highest priority first.
The priority blends how unsure the crowd still is about the retirement question
(posterior entropy, normalised by ``log K`` so it lies in [0, 1]; a galaxy nobody
has classified counts as 1.0) with the serving classifier's BALD rank, through
``ml.active.queue_priority``.

Both terms belong to the galaxy alone: the BALD rank is taken once, over the survey, when a
version starts serving (``model_version_serve``), and the uncertainty is the galaxy's own.
So each aggregation batch refreshes only the galaxies it changed, and they get exactly the
priority a full refresh would give them: the cost is O(changed), not O(survey).
A workflow whose ``queue_order`` is ``fixed`` keeps the priorities it was given.
"""
from __future__ import annotations

from collections.abc import Collection

import numpy as np

from ml.active import entropy, queue_priority
from zooapp.models import ModelVersion, Prediction, Subject, SubjectPosterior, Workflow


def workflow_priorities_refresh(*, workflow: Workflow, subject_ids: Collection[int] | None = None) -> int:
    """Recompute ``priority`` for the workflow's active, non-gold subjects (all, or only ``subject_ids``).

    Returns the number of subjects whose priority was rewritten: none for a workflow
    whose queue order is fixed.
    """
    if workflow.queue_order == Workflow.QueueOrder.FIXED or (subject_ids is not None and not subject_ids):
        return 0
    task = workflow.rules.task
    subjects = Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE, is_gold=False)
    if subject_ids is not None:
        subjects = subjects.filter(pk__in=list(subject_ids))
    subjects = list(subjects.order_by("id").only("id", "priority"))
    if not subjects:
        return 0
    ids = [s.pk for s in subjects]
    posts = {p.subject_id: p for p in SubjectPosterior.objects.filter(subject_id__in=ids, task=task)}
    uncertainty = np.array([_normalised_entropy(posts[pk]) if pk in posts else 1.0 for pk in ids])
    bald_rank = _bald_ranks(workflow, task, ids)
    priorities = queue_priority(bald_rank=bald_rank, uncertainty=uncertainty)
    for subject, priority in zip(subjects, priorities):
        subject.priority = float(priority)
    Subject.objects.bulk_update(subjects, ["priority"], batch_size=2000)
    return len(subjects)


def _bald_ranks(workflow: Workflow, task: str, ids: list[int]) -> np.ndarray | None:
    """``(N,)`` the serving classifier's BALD ranks of ``ids``, or None while no classifier serves.

    A galaxy the serving version has not scored (uploaded since) gets NaN, which counts as the
    lowest rank on the model's side, as it would in a full refresh.
    """
    version = ModelVersion.objects.filter(workflow=workflow, serving=True, kind=ModelVersion.Kind.CLASSIFIER).first()
    if version is None:
        return None
    ranks = dict(Prediction.objects.filter(model_version=version, task=task, subject_id__in=ids,
                                           bald_rank__isnull=False).values_list("subject_id", "bald_rank"))
    return np.array([ranks.get(pk, np.nan) for pk in ids])


def _normalised_entropy(post: SubjectPosterior) -> float:
    """Posterior entropy over ``log K``: 1.0 for a uniform posterior, 0.0 for a certain one."""
    p = post.probabilities
    if len(p) < 2:
        return 0.0
    return float(entropy(p) / np.log(len(p)))
