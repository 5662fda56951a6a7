"""The machine in the loop: train the classifier, predict, vote as an agent, and set queue priorities."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max

from aggregation.online import initial_agent_alpha
from aggregation.schema import TaskTree
from ml.active import queue_priority
from ml.classifier import ClassifierConfig, predict, train_classifier
from ml.detector import DetectorConfig, detect, train_detector
from ml.device import runtime
from zooapp.models import (Classification, GoldAnswer, ModelVersion, Prediction, Subject, SubjectPosterior,
                           Volunteer, Workflow)
from zooapp.services.retirement import subjects_retire_if_due

log = logging.getLogger(__name__)
MIN_TRAINING_SUBJECTS = 20
CALIBRATION_SUBJECTS = 300  # retired and gold subjects the machine is scored on before it votes
MIN_CALIBRATION = 10
MACHINE_AGENT = "classifier"


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
            counts[key][i] = post.probabilities * votes.sum() if subject.is_retired else votes
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
    serving = ModelVersion.objects.filter(workflow=workflow, kind="classifier", serving=True).first()
    # Warm start from the serving version: each retrain refines rather than relearns.
    cfg = ClassifierConfig(out_dir=str(out_dir), epochs=settings.ZOOLOOP_CLASSIFIER_EPOCHS,
                           init_checkpoint=serving.file if serving and Path(serving.file).exists() else None)
    result = train_classifier(cfg, images=images, vote_counts=counts, tree=tree, progress=False)
    version = ModelVersion.objects.create(workflow=workflow, kind="classifier", number=number,
                                          file=str(result["checkpoint"]), n_train=result["n_train"],
                                          n_val=result["n_val"], metrics=_finite(result["metrics"]),
                                          device=runtime().device.type)
    if _at_least_as_good(workflow, version):
        model_version_serve(model_version_id=version.pk)
    return version


def _at_least_as_good(workflow: Workflow, candidate: ModelVersion) -> bool:
    serving = ModelVersion.objects.filter(workflow=workflow, kind=candidate.kind, serving=True).first()
    if serving is None:
        return True
    key = f"val_accuracy_{workflow.retirement_rules.get('task', 'T0')}"
    return (candidate.metrics.get(key) or 0.0) >= (serving.metrics.get(key) or 0.0)


def model_version_serve(*, model_version_id: int) -> None:
    """Make a version the serving one: predict, refresh priorities, retire by machine, and vote as an agent."""
    version = ModelVersion.objects.select_related("workflow").get(pk=model_version_id)
    workflow = version.workflow
    active = list(Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE, is_gold=False)
                  .prefetch_related("frames").order_by("id"))
    known = list(Subject.objects.filter(workflow=workflow).exclude(status=Subject.Status.ACTIVE, is_gold=False)
                 .prefetch_related("frames").order_by("?")[:CALIBRATION_SUBJECTS])
    subjects = active + known
    outputs = predict(Path(version.file), images=[Path(s.frames.all()[0].image.path) for s in subjects],
                      views=settings.ZOOLOOP_PREDICT_VIEWS)
    with transaction.atomic():
        ModelVersion.objects.filter(workflow=workflow, kind=version.kind, serving=True).update(serving=False)
        ModelVersion.objects.filter(pk=version.pk).update(serving=True)
        Prediction.objects.bulk_create([
            Prediction(model_version=version, subject=s, task=task, probs=out["probs"][i].tolist(),
                       bald=float(out["bald"][i]), entropy=float(out["entropy"][i]))
            for task, out in outputs.items() for i, s in enumerate(subjects)], ignore_conflicts=True)
        head = {task: {k: v[:len(active)] for k, v in out.items()} for task, out in outputs.items()}
        _refresh_priorities(workflow, active, head)
        subjects_retire_if_due(workflow=workflow, subject_ids=[s.pk for s in active])
        if workflow.machine_agent:
            tail = {task: out["probs"][len(active):] for task, out in outputs.items()}
            confusion = machine_confusion(workflow=workflow, subjects=known, probs=tail)
            machine_votes_cast(workflow=workflow, subjects=active, probs={t: o["probs"] for t, o in head.items()},
                               confusion=confusion)


def machine_confusion(*, workflow: Workflow, subjects: list[Subject], probs: dict[str, np.ndarray]
                      ) -> dict[str, list] | None:
    """The machine's Dirichlet confusion per question, counted on gold answers and retired posteriors."""
    gold = {(g.subject_id, g.task): g.value for g in GoldAnswer.objects.filter(subject__in=subjects)}
    posts = {(p.subject_id, p.task): p
             for p in SubjectPosterior.objects.filter(subject__in=subjects).select_related("subject")}
    tree = TaskTree.from_dict(workflow.current_version.tree)
    confusion, n_known = {}, 0
    for question in tree.questions():
        if question.type != "single" or question.key not in probs:
            continue
        alpha = initial_agent_alpha(len(question.labels))
        for i, subject in enumerate(subjects):
            truth = _known_answer(question, gold.get((subject.pk, question.key)), posts.get((subject.pk, question.key)))
            if truth is not None:
                alpha[truth, int(np.argmax(probs[question.key][i]))] += 1
                n_known += question.key == tree.first_task
        confusion[question.key] = alpha.tolist()
    return confusion if n_known >= MIN_CALIBRATION else None


def _known_answer(question, gold_value, post: SubjectPosterior | None) -> int | None:
    if gold_value in question.labels:
        return question.labels.index(gold_value)
    if post is not None and post.subject.is_retired and sum(post.vote_counts) > 0:
        return int(np.argmax(post.log_posterior))
    return None


def machine_votes_cast(*, workflow: Workflow, subjects: list[Subject], probs: dict[str, np.ndarray],
                       confusion: dict[str, list] | None) -> int:
    """The classifier votes once on each active subject, weighed by its measured confusion.

    It votes only once per subject (one agent, whatever the version): successive
    versions are strongly correlated, and counting each as fresh evidence would
    overstate what the machine knows.
    """
    if confusion is None:
        return 0  # no calibration yet: a vote of unknown reliability would be noise
    from zooapp import tasks  # tasks import services; imported here to keep module loading acyclic

    agent, _ = Volunteer.objects.get_or_create(kind=Volunteer.Kind.MACHINE, name=MACHINE_AGENT)
    voted = set(Classification.objects.filter(volunteer=agent, workflow=workflow).values_list("subject_id", flat=True))
    version = workflow.current_version
    tree = TaskTree.from_dict(version.tree)
    rows = [Classification(workflow=workflow, workflow_version=version, subject=s, volunteer=agent,
                           annotations=_machine_walk(tree, {t: p[i] for t, p in probs.items()}),
                           machine_confusion=confusion)
            for i, s in enumerate(subjects) if s.pk not in voted]
    Classification.objects.bulk_create(rows)
    transaction.on_commit(lambda: tasks.aggregate_workflow.delay(workflow.pk))
    return len(rows)


def _machine_walk(tree: TaskTree, probs: dict[str, np.ndarray]) -> list[dict]:
    """The machine's most probable path through the tree; it draws no boxes."""
    walk, key = [], tree.first_task
    while key is not None:
        task = tree.tasks[key]
        if task.type == "single":
            value = task.labels[int(np.argmax(probs[key]))] if key in probs else task.labels[0]
        elif task.type == "multiple":
            value = [label for label, p in zip(task.labels, probs.get(key, [])) if p > 0.5]
        else:
            value = []
        walk.append({"task": key, "value": value})
        key = task.next_after(value)
    return walk


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
    p = post.probabilities
    # Normalised to [0, 1] by log K so questions with different answer counts compare.
    return float(-(p * np.log(np.clip(p, 1e-12, 1))).sum() / np.log(len(p)))


def detector_train(*, workflow_id: int, min_views: int = 3) -> ModelVersion | None:
    """Train the clump detector on the engine's consensus boxes, weighted by p_real.

    Images seen by at least ``min_views`` volunteers count, so a galaxy where the
    crowd agreed there is nothing teaches the detector what background looks like.
    The backbone starts from the serving classifier's galaxy-trained encoder.
    """
    workflow = Workflow.objects.get(pk=workflow_id)
    subjects = [s for s in Subject.objects.filter(workflow=workflow, box_risk__isnull=False)
                .prefetch_related("frames", "consensus_boxes").order_by("id")
                if _n_box_views(s) >= min_views]
    if len(subjects) < MIN_TRAINING_SUBJECTS:
        return None
    rows = [{"task": i, "x_min": b.x_min, "y_min": b.y_min, "x_max": b.x_max, "y_max": b.y_max, "p_real": b.p_real}
            for i, s in enumerate(subjects) for b in s.consensus_boxes.all()]
    classifier = ModelVersion.objects.filter(workflow=workflow, kind="classifier", serving=True).first()
    number = (ModelVersion.objects.filter(workflow=workflow, kind="detector").aggregate(n=Max("number"))["n"] or 0) + 1
    out_dir = Path(settings.ZOOLOOP_MODEL_DIR) / f"workflow-{workflow.pk}" / f"detector-v{number}"
    cfg = DetectorConfig(out_dir=str(out_dir), epochs=settings.ZOOLOOP_DETECTOR_EPOCHS,
                         backbone="classifier" if classifier else "scratch")
    result = train_detector(cfg, images=[Path(s.frames.all()[0].image.path) for s in subjects],
                            boxes=pd.DataFrame(rows, columns=["task", "x_min", "y_min", "x_max", "y_max", "p_real"]),
                            classifier_checkpoint=Path(classifier.file) if classifier else None, progress=False)
    version = ModelVersion.objects.create(workflow=workflow, kind="detector", number=number,
                                          file=str(result["checkpoint"]), n_train=result["n_train"],
                                          n_val=result["n_val"], metrics=_finite(result["metrics"]),
                                          device=runtime().device.type)
    best = ModelVersion.objects.filter(workflow=workflow, kind="detector", serving=True).first()
    if best is None or (version.metrics.get("val_f1") or 0.0) >= (best.metrics.get("val_f1") or 0.0):
        detector_serve(model_version_id=version.pk)
    return version


def detector_serve(*, model_version_id: int) -> None:
    """Serve a detector: detect on every active subject and add its boxes to the box consensus as an agent."""
    from zooapp.services.aggregation import subject_boxes_aggregate

    version = ModelVersion.objects.select_related("workflow").get(pk=model_version_id)
    workflow = version.workflow
    subjects = list(Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE)
                    .prefetch_related("frames").order_by("id"))
    found = detect(Path(version.file), images=[Path(s.frames.all()[0].image.path) for s in subjects])
    by_subject: dict[int, list] = {}
    for row in found.itertuples():
        by_subject.setdefault(int(row.task), []).append(
            [float(row.x_min), float(row.y_min), float(row.x_max), float(row.y_max), float(row.score)])
    with transaction.atomic():
        ModelVersion.objects.filter(workflow=workflow, kind="detector", serving=True).update(serving=False)
        ModelVersion.objects.filter(pk=version.pk).update(serving=True)
        Prediction.objects.bulk_create([
            Prediction(model_version=version, subject=s, task="boxes", probs=[], boxes=by_subject.get(i, []))
            for i, s in enumerate(subjects)], ignore_conflicts=True)
        if workflow.machine_agent:
            for subject in subjects:
                subject_boxes_aggregate(subject_id=subject.pk)


def _n_box_views(subject: Subject) -> int:
    boxes = subject.consensus_boxes.all()
    return max((b.n_seen for b in boxes), default=subject.n_classifications)


def _finite(metrics: dict) -> dict:
    """JSON has no NaN: a metric that could not be computed (say, no validation boxes) is stored as null."""
    return {k: (float(v) if np.isfinite(v) else None) if isinstance(v, (int, float)) else v
            for k, v in metrics.items()}
