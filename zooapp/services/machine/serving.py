"""Serving a classifier version: predict on the active galaxies, store, re-rank the queue, vote and retire."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from ml.active import rank01
from ml.classifier import predict
from zooapp.models import ModelVersion, Prediction, Subject
from zooapp.services.machine.agent import machine_votes_replace
from zooapp.services.machine.calibration import calibration_apply
from zooapp.services.machine.versions import version_mark_serving
from zooapp.services.embeddings import embeddings_refresh_request
from zooapp.services.priorities import workflow_priorities_refresh
from zooapp.services.retirement import subjects_retire_if_due


def model_version_serve(*, model_version_id: int) -> None:
    """Make a classifier version the serving one.

    It predicts only on the active, non-gold galaxies (the held-out set was scored when the
    version was judged). Stored probabilities are calibrated where the version is (see
    `calibration`), so the ``machine_threshold`` rule retires on a probability the machine has
    earned; an uncalibrated version retires nothing and casts no vote.
    """
    version = ModelVersion.objects.select_related("workflow").get(pk=model_version_id,
                                                                  kind=ModelVersion.Kind.CLASSIFIER)
    workflow = version.workflow
    active = list(Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE, is_gold=False)
                  .prefetch_related("frames").order_by("id"))
    outputs = _predict(version, active)
    ranks = {task: rank01(out["bald"]) for task, out in outputs.items()}  # the queue's fixed model term
    with transaction.atomic():
        version_mark_serving(version=version)
        Prediction.objects.bulk_create([
            Prediction(model_version=version, subject=s, task=task, probs=out["probs"][i].tolist(),
                       bald=float(out["bald"][i]), bald_rank=float(ranks[task][i]), entropy=float(out["entropy"][i]))
            for task, out in outputs.items() for i, s in enumerate(active)], ignore_conflicts=True)
        workflow_priorities_refresh(workflow=workflow)
        if workflow.machine_agent and version.calibration:
            machine_votes_replace(workflow=workflow, version=version, subjects=active,
                                  probs={task: out["probs"] for task, out in outputs.items()})
        subjects_retire_if_due(workflow=workflow, subject_ids=[s.pk for s in active])
        embeddings_refresh_request(model_version_id=version.pk)  # the new encoder's embeddings (#13)


def _predict(version: ModelVersion, subjects: list[Subject]) -> dict[str, dict[str, np.ndarray]]:
    """``predict``'s outputs, with each calibrated question's probabilities replaced by calibrated ones."""
    if not subjects:
        return {}
    outputs = predict(Path(version.file), images=[Path(s.frames.all()[0].image.path) for s in subjects],
                      views=settings.ZOOLOOP_PREDICT_VIEWS)
    for task, calibration in (version.calibration or {}).items():
        if task in outputs:
            outputs[task]["probs"] = calibration_apply(outputs[task]["probs"], calibration)
    return outputs
