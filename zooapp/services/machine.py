"""The machine in the loop: train the classifier, predict, vote as an agent, and set queue priorities."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max

from aggregation.schema import TaskTree
from ml.active import queue_priority
from ml.classifier import ClassifierConfig, predict, train_classifier
from ml.device import runtime
from zooapp.models import (Classification, ModelVersion, Prediction, Subject, SubjectPosterior, Volunteer,
                           Workflow)
from zooapp.services.retirement import _probs, subjects_retire_if_due

log = logging.getLogger(__name__)
MIN_TRAINING_SUBJECTS = 20


def workflow_needs_retraining(*, workflow_id: int) -> bool:
    workflow = Workflow.objects.get(pk=workflow_id)
    last = ModelVersion.objects.filter(workflow=workflow, kind="classifier").aggregate(t=Max("created_at"))["t"]
    new = Classification.objects.filter(workflow=workflow, volunteer__kind=Volunteer.Kind.HUMAN)
    if last is not None:
        new = new.filter(created_at__gt=last)
    return new.count() >= workflow.retrain_every


def workflows_due_for_training() -> list[int]:
    return [w for w in Workflow.objects.filter(active=True).values_list("pk", flat=True)
            if workflow_needs_retraining(workflow_id=w)]


def _training_set(workflow: Workflow, tree: TaskTree) -> tuple[list[Path], dict[str, np.ndarray]]:
    """Images and per-question vote counts; retired subjects contribute the engine's posterior."""
    subjects = list(Subject.objects.filter(workflow=workflow, n_classifications__gt=0).prefetch_related("frames"))
    posts = {(p.subject_id, p.task): p for p in SubjectPosterior.objects.filter(subject__in=subjects)}
    counts = {q.key: np.zeros((len(subjects), len(q.labels))) for q in tree.questions()}
    for i, subject in enumerate(subjects):
        for key in counts:
            post = posts.get((subject.pk, key))
            if post is None or len(post.vote_counts) != counts[key].shape[1]:
                continue
            votes = np.asarray(post.vote_counts, dtype=float)
            # Retired subjects are known well: their posterior, scaled to the number of votes, is the label.
            counts[key][i] = _probs(post.log_posterior) * votes.sum() if subject.is_retired else votes
    return [Path(s.frames.all()[0].image.path) for s in subjects], counts


def classifier_train(*, workflow_id: int) -> ModelVersion | None:
    """Train a new classifier version; it serves only if at least as good as the serving one."""
    lock = f"train-classifier:{workflow_id}"
    if not cache.add(lock, 1, timeout=6 * 3600):
        return None  # another worker is already training this workflow
    try:
        return _train(Workflow.objects.get(pk=workflow_id))
    finally:
        cache.delete(lock)


def _train(workflow: Workflow) -> ModelVersion | None:
    tree = TaskTree.from_dict(workflow.current_version.tree)
    images, counts = _training_set(workflow, tree)
    if len(images) < MIN_TRAINING_SUBJECTS:
        log.info("workflow %s: %d subjects with votes, need %d to train", workflow.pk, len(images),
                 MIN_TRAINING_SUBJECTS)
        return None
    number = (ModelVersion.objects.filter(workflow=workflow, kind="classifier").aggregate(n=Max("number"))["n"] or 0) + 1
    out_dir = Path(settings.ZOOLOOP_MODEL_DIR) / f"workflow-{workflow.pk}" / f"classifier-v{number}"
    cfg = ClassifierConfig(out_dir=str(out_dir))
    result = train_classifier(cfg, images=images, vote_counts=counts, tree=tree, progress=False)
    version = ModelVersion.objects.create(workflow=workflow, kind="classifier", number=number,
                                          file=str(result["checkpoint"]), n_train=result["n_train"],
                                          n_val=result["n_val"], metrics=result["metrics"], device=runtime().device.type)
    if _at_least_as_good(workflow, version):
        model_version_serve(model_version_id=version.pk)
    return version


def _at_least_as_good(workflow: Workflow, candidate: ModelVersion) -> bool:
    serving = ModelVersion.objects.filter(workflow=workflow, kind=candidate.kind, serving=True).first()
    if serving is None:
        return True
    key = f"val_accuracy_{workflow.retirement_rules.get('task', 'T0')}"
    return candidate.metrics.get(key, 0.0) >= serving.metrics.get(key, 0.0)


def model_version_serve(*, model_version_id: int) -> None:
    """Make a version the serving one, predict on every active subject, and refresh priorities."""
    version = ModelVersion.objects.select_related("workflow").get(pk=model_version_id)
    workflow = version.workflow
    subjects = list(Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE)
                    .prefetch_related("frames").order_by("id"))
    outputs = predict(Path(version.file), images=[Path(s.frames.all()[0].image.path) for s in subjects])
    with transaction.atomic():
        ModelVersion.objects.filter(workflow=workflow, kind=version.kind, serving=True).update(serving=False)
        ModelVersion.objects.filter(pk=version.pk).update(serving=True)
        Prediction.objects.bulk_create([
            Prediction(model_version=version, subject=s, task=task, probs=out["probs"][i].tolist(),
                       bald=float(out["bald"][i]), entropy=float(out["entropy"][i]))
            for task, out in outputs.items() for i, s in enumerate(subjects)], ignore_conflicts=True)
        _refresh_priorities(workflow, subjects, outputs)
        subjects_retire_if_due(workflow=workflow, subject_ids=[s.pk for s in subjects])


def _refresh_priorities(workflow: Workflow, subjects: list[Subject], outputs: dict) -> None:
    task = workflow.retirement_rules.get("task", "T0")
    posts = {p.subject_id: p for p in SubjectPosterior.objects.filter(subject__in=subjects, task=task)}
    entropy = np.array([_entropy(posts[s.pk]) if s.pk in posts else 1.0 for s in subjects])
    bald = outputs[task]["bald"] if task in outputs else None
    priority = queue_priority(bald=bald, posterior_entropy=entropy)
    for subject, p in zip(subjects, priority):
        subject.priority = float(p)
    Subject.objects.bulk_update(subjects, ["priority"])


def _entropy(post: SubjectPosterior) -> float:
    p = _probs(post.log_posterior)
    # Normalised to [0, 1] by log K so questions with different answer counts compare.
    return float(-(p * np.log(np.clip(p, 1e-12, 1))).sum() / np.log(len(p)))
