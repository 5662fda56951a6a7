"""The queue priority: the one place that turns posteriors and the machine's BALD into ``Subject.priority``.

The volunteer queue (:mod:`zooapp.selection`) serves the highest priority first.
The priority blends how unsure the crowd still is about the retirement question
(posterior entropy, normalised by ``log K`` so it lies in [0, 1]; a galaxy nobody
has classified counts as 1.0) with the serving classifier's BALD, through
``ml.active.queue_priority``.

Without a serving classifier the priority is the normalised entropy itself. That orders the
queue exactly as its rank over the survey would (the rank is a monotone map of it, ties
included), but it depends on the galaxy alone, so refreshing only the galaxies whose votes
changed gives them the priority a full refresh would: the refresh costs O(changed), not
O(survey). With a serving classifier the blend is of ranks over the whole survey, so every
refresh is a full one (a new version also refreshes everything when it starts serving).
"""
from __future__ import annotations

from collections.abc import Collection

import numpy as np

from aggregation.retirement import RetirementRules
from ml.active import entropy, queue_priority
from zooapp.models import ModelVersion, Prediction, Subject, SubjectPosterior, Workflow


def workflow_priorities_refresh(*, workflow: Workflow, subject_ids: Collection[int] | None = None) -> int:
    """Recompute ``priority`` for the workflow's active, non-gold subjects (all, or only ``subject_ids``).

    Returns the number of subjects whose priority was rewritten. ``subject_ids`` is
    honoured only while no classifier serves (see the module docstring): with one,
    the whole survey is refreshed, since its ranks depend on every galaxy.
    """
    if subject_ids is not None and not subject_ids:
        return 0  # nothing changed, so nothing to refresh, with or without a classifier
    task = RetirementRules.from_dict(workflow.retirement_rules).task
    served = Prediction.objects.filter(model_version__workflow=workflow, model_version__serving=True,
                                       model_version__kind=ModelVersion.Kind.CLASSIFIER, task=task)
    subjects = Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE, is_gold=False)
    if subject_ids is not None and not served.exists():
        subjects = subjects.filter(pk__in=list(subject_ids))
    subjects = list(subjects.order_by("id").only("id", "priority"))
    if not subjects:
        return 0
    ids = [s.pk for s in subjects]
    posts = {p.subject_id: p for p in SubjectPosterior.objects.filter(subject_id__in=ids, task=task)}
    uncertainty = np.array([_normalised_entropy(posts[pk]) if pk in posts else 1.0 for pk in ids])
    bald = dict(served.filter(subject_id__in=ids).values_list("subject_id", "bald"))
    if bald:
        # Galaxies the serving model has not scored yet get NaN, which ranks lowest on the model's side.
        scores = np.array([bald.get(pk, np.nan) for pk in ids])
        priorities = queue_priority(bald=scores, posterior_entropy=uncertainty)
    else:
        priorities = uncertainty  # already in [0, 1]; the same order as its rank, and a galaxy's own
    for subject, priority in zip(subjects, priorities):
        subject.priority = float(priority)
    Subject.objects.bulk_update(subjects, ["priority"], batch_size=2000)
    return len(subjects)


def _normalised_entropy(post: SubjectPosterior) -> float:
    """Posterior entropy over ``log K``: 1.0 for a uniform posterior, 0.0 for a certain one."""
    p = post.probabilities
    if len(p) < 2:
        return 0.0
    return float(entropy(p) / np.log(len(p)))
