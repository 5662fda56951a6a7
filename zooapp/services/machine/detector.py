"""The clump detector: trained on the engine's consensus boxes, serving as one more box-drawing agent."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import transaction

from ml.detector import DetectorConfig, detect, train_detector
from zooapp.models import ModelVersion, Prediction, Subject, Workflow
from zooapp.services.machine.versions import (at_least_as_good, training_lock, version_mark_serving, version_next,
                                              version_record, version_serving)

MIN_TRAINING_IMAGES = 20
DETECTOR = ModelVersion.Kind.DETECTOR


def detector_train(*, workflow_id: int, min_views: int = 3) -> ModelVersion | None:
    """Train the clump detector on the engine's consensus boxes, weighted by p_real.

    Images seen by at least ``min_views`` volunteers count, so a galaxy where the
    crowd agreed there is nothing teaches the detector what background looks like.
    The backbone starts from the serving classifier's galaxy-trained encoder. The
    detector has no common held-out set yet: a version serves when its validation F1
    is at least the serving one's (`at_least_as_good` on one item compares the points).
    """
    with training_lock(workflow_id=workflow_id, kind=DETECTOR) as acquired:
        if not acquired:
            return None
        workflow = Workflow.objects.get(pk=workflow_id)
        subjects = [s for s in Subject.objects.filter(workflow=workflow, box_risk__isnull=False)
                    .prefetch_related("frames", "consensus_boxes").order_by("id") if _n_box_views(s) >= min_views]
        if len(subjects) < MIN_TRAINING_IMAGES:
            return None
        version = _train(workflow, subjects)
        best = version_serving(workflow=workflow, kind=DETECTOR)
        if at_least_as_good([version.metrics.get("val_f1") or 0.0],
                            [best.metrics.get("val_f1") or 0.0] if best else None):
            detector_serve(model_version_id=version.pk)
        return version


def _train(workflow: Workflow, subjects: list[Subject]) -> ModelVersion:
    rows = [{"task": i, "x_min": b.x_min, "y_min": b.y_min, "x_max": b.x_max, "y_max": b.y_max, "p_real": b.p_real}
            for i, s in enumerate(subjects) for b in s.consensus_boxes.all()]
    classifier = version_serving(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER)
    number, out_dir = version_next(workflow=workflow, kind=DETECTOR)
    cfg = DetectorConfig(out_dir=str(out_dir), steps=settings.ZOOLOOP_DETECTOR_STEPS,
                         backbone="classifier" if classifier else "scratch")
    result = train_detector(cfg, images=[Path(s.frames.all()[0].image.path) for s in subjects],
                            boxes=pd.DataFrame(rows, columns=["task", "x_min", "y_min", "x_max", "y_max", "p_real"]),
                            classifier_checkpoint=Path(classifier.file) if classifier else None, progress=False)
    return version_record(workflow=workflow, kind=DETECTOR, number=number, result=result,
                          n_human_classifications=workflow.n_human_classifications)


def detector_serve(*, model_version_id: int) -> None:
    """Serve a detector: detect on every active subject and add its boxes to the box consensus as an agent."""
    from zooapp.services.aggregation import subject_boxes_aggregate

    version = ModelVersion.objects.select_related("workflow").get(pk=model_version_id, kind=DETECTOR)
    workflow = version.workflow
    subjects = list(Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE)
                    .prefetch_related("frames").order_by("id"))
    found = detect(Path(version.file), images=[Path(s.frames.all()[0].image.path) for s in subjects])
    by_subject: dict[int, list] = {}
    for row in found.itertuples():
        by_subject.setdefault(int(row.task), []).append(
            [float(row.x_min), float(row.y_min), float(row.x_max), float(row.y_max), float(row.score)])
    with transaction.atomic():
        version_mark_serving(version=version)
        Prediction.objects.bulk_create([
            Prediction(model_version=version, subject=s, task="boxes", probs=[], boxes=by_subject.get(i, []))
            for i, s in enumerate(subjects)], ignore_conflicts=True)
        if workflow.machine_agent:
            for subject in subjects:
                subject_boxes_aggregate(subject_id=subject.pk)


def _n_box_views(subject: Subject) -> int:
    boxes = subject.consensus_boxes.all()
    return max((b.n_seen for b in boxes), default=subject.n_classifications)
