"""When to train the classifier: a light module (no torch), so aggregation workers can ask after every batch.

The cadence, and why:

* **The first model**, where the machine is an agent (``Workflow.machine_agent``), as soon as
  ``FIRST_MODEL_SUBJECTS`` non-gold galaxies have human votes: a model trained on 20 galaxies
  already ranks the queue better than none, and it is judged on the held-out set before it
  earns any weight as a voter. Where it only ranks the queue, the first model waits for
  ``retrain_every`` classifications like any retraining (so a huge ``retrain_every`` opts out).
* **Then a retraining** once the human classifications since the last version reach
  ``max(retrain_every, RETRAIN_GROWTH * classifications at the last version)``. A fixed step
  would retrain ever more often relative to what a new version can add (the 1,000th batch of
  200 votes changes the training set by 0.1%), and each new serving version replays the
  engine (`machine.agent.machine_votes_replace`); with a step that grows by a quarter, the
  number of versions grows only with the logarithm of the survey.

Cost per call: one ``Workflow`` row and one ``ModelVersion`` row, read through the running
counter ``Workflow.n_human_classifications``, never a COUNT over classifications. Only before
the first model, once there are enough classifications for it, does it count subjects.
"""
from __future__ import annotations

import math

from django.core.cache import cache

from zooapp.models import ModelVersion, Subject, Workflow

FIRST_MODEL_SUBJECTS = 20
RETRAIN_GROWTH = 0.25
TRAINING_LOCK_KEY = "train-{kind}:{workflow_id}"  # held by `machine.versions.training_lock` while a model trains


def retraining_step(*, retrain_every: int, n_at_last_version: int) -> int:
    """New human classifications needed before the next version: grows with the survey."""
    return max(retrain_every, math.ceil(RETRAIN_GROWTH * n_at_last_version))


def workflow_needs_retraining(*, workflow_id: int) -> bool:
    """Whether the workflow is due a new classifier version (see the module docstring)."""
    kind = ModelVersion.Kind.CLASSIFIER
    if cache.get(TRAINING_LOCK_KEY.format(kind=kind, workflow_id=workflow_id)):
        return False  # a version is being trained now
    workflow = Workflow.objects.only("n_human_classifications", "retrain_every", "machine_agent").get(pk=workflow_id)
    last = (ModelVersion.objects.filter(workflow_id=workflow_id, kind=kind).order_by("-number")
            .values_list("n_human_classifications", flat=True).first())
    if last is None and not workflow.machine_agent:
        last = 0
    if last is None:
        return (workflow.n_human_classifications >= FIRST_MODEL_SUBJECTS
                and Subject.objects.filter(workflow_id=workflow_id, is_gold=False, n_classifications__gt=0)
                .count() >= FIRST_MODEL_SUBJECTS)
    step = retraining_step(retrain_every=workflow.retrain_every, n_at_last_version=last)
    return workflow.n_human_classifications - last >= step


def workflows_due_for_training() -> list[int]:
    return [w for w in Workflow.objects.filter(active=True).values_list("pk", flat=True)
            if workflow_needs_retraining(workflow_id=w)]
