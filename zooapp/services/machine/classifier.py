"""Training a classifier version, and judging it on the common held-out set before it serves."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from django.conf import settings

from aggregation.metrics import binomial_interval
from aggregation.schema import TaskTree
from ml.classifier import ClassifierConfig, evaluate_checkpoint, train_classifier
from zooapp.models import ModelVersion, Subject, SubjectPosterior, Workflow
from zooapp.services.machine.calibration import calibration_fit
from zooapp.services.machine.holdout import holdout_grow, holdout_labels, trainable_subjects
from zooapp.services.machine.serving import model_version_serve
from zooapp.services.machine.versions import (at_least_as_good, paired_difference, training_lock, version_next,
                                              version_record, version_serving)
from zooapp.services.schedule import FIRST_MODEL_SUBJECTS

log = logging.getLogger(__name__)
MIN_TRAINING_SUBJECTS = FIRST_MODEL_SUBJECTS
MIN_HOLDOUT = 10  # held-out galaxies with a known answer before a version's confusion and calibration count
CLASSIFIER = ModelVersion.Kind.CLASSIFIER


def _training_set(workflow: Workflow, tree: TaskTree) -> tuple[list[Path], dict[str, np.ndarray]]:
    """Images and per-question vote counts of trainable subjects; retired ones contribute the engine's posterior."""
    subjects = trainable_subjects(workflow=workflow)
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
    """Train a new classifier version; it serves only if at least as good as the serving one on the held-out set."""
    with training_lock(workflow_id=workflow_id, kind=CLASSIFIER) as acquired:
        if not acquired:
            return None  # another worker is already training this workflow
        workflow = Workflow.objects.get(pk=workflow_id)
        holdout_grow(workflow=workflow)  # before the training set: a galaxy joining now is not trained on
        version = _train(workflow)
        if version is not None:
            model_version_judge(model_version_id=version.pk)
        return version


def _train(workflow: Workflow) -> ModelVersion | None:
    tree = TaskTree.from_dict(workflow.current_version.tree)
    images, counts = _training_set(workflow, tree)
    if len(images) < MIN_TRAINING_SUBJECTS:
        log.info("workflow %s: %d trainable subjects with votes, need %d", workflow.pk, len(images),
                 MIN_TRAINING_SUBJECTS)
        return None
    number, out_dir = version_next(workflow=workflow, kind=CLASSIFIER)
    serving = version_serving(workflow=workflow, kind=CLASSIFIER)
    # Warm start from the serving version: each retrain fine-tunes (the short finetune_steps schedule).
    cfg = ClassifierConfig(out_dir=str(out_dir), steps=settings.ZOOLOOP_CLASSIFIER_STEPS,
                           min_steps=settings.ZOOLOOP_CLASSIFIER_MIN_STEPS,
                           finetune_steps=settings.ZOOLOOP_CLASSIFIER_FINETUNE_STEPS,
                           init_checkpoint=serving.file if serving and Path(serving.file).exists() else None,
                           generated_dir=settings.ZOOLOOP_GENERATED_DIR or None,
                           generated_ratio=settings.ZOOLOOP_GENERATED_RATIO)
    # Nothing is split off for validation: versions are judged on the common held-out set instead.
    result = train_classifier(cfg, images=images, vote_counts=counts, tree=tree, val_fraction=0.0, progress=False)
    generated = {"n_generated": result.get("n_generated", 0), "generated_dir": cfg.generated_dir or "",
                 "generated_ratio": cfg.generated_ratio if cfg.generated_dir else None}  # issue #18
    return version_record(workflow=workflow, kind=CLASSIFIER, number=number, result=result,
                          n_human_classifications=workflow.n_human_classifications, **generated)


def model_version_judge(*, model_version_id: int) -> bool:
    """Score a classifier version on the common held-out set; serve it if at least as good as the serving one.

    Both versions are scored now, on the same galaxies (the set only grows, so an old score
    covered fewer), and compared per galaxy by `versions.at_least_as_good`. The version's
    accuracy with its Wilson interval, confusion counts and ECE per question, the paired
    comparison, and its calibration are stored on the row. Returns whether it serves.
    """
    version = ModelVersion.objects.select_related("workflow").get(pk=model_version_id, kind=CLASSIFIER)
    workflow = version.workflow
    tree = TaskTree.from_dict(workflow.current_version.tree)
    subjects, labels = holdout_labels(workflow=workflow, tree=tree)
    task = workflow.rules.task
    scored = _evaluate(version, subjects, labels)
    serving = version_serving(workflow=workflow, kind=CLASSIFIER)
    rival = _evaluate(serving, subjects, labels) if serving and serving.pk != version.pk else None
    hits = _hits(scored, labels, task)
    rival_hits = _hits(rival, labels, task) if serving and serving.pk != version.pk else None
    _record(version, scored, labels, rival_hits=rival_hits, hits=hits, serving=serving)
    if at_least_as_good(hits, rival_hits):
        model_version_serve(model_version_id=version.pk)
        return True
    return False


def _evaluate(version: ModelVersion, subjects: list[Subject], labels: dict[str, np.ndarray]) -> dict | None:
    """``ml.classifier.evaluate_checkpoint`` on the held-out images; None when nothing is held out yet."""
    if not subjects:
        return None
    return evaluate_checkpoint(Path(version.file), images=[Path(s.frames.all()[0].image.path) for s in subjects],
                               labels=labels, views=settings.ZOOLOOP_PREDICT_VIEWS)


def _hits(scored: dict | None, labels: dict[str, np.ndarray], task: str) -> np.ndarray:
    """``(n,)`` 1.0 where the version's top answer equals the known answer, on held-out galaxies with one."""
    if scored is None or task not in scored:
        return np.zeros(0)
    known = labels[task] >= 0
    return (np.asarray(scored[task]["probs"])[known].argmax(axis=1) == labels[task][known]).astype(float)


def _record(version: ModelVersion, scored: dict | None, labels: dict[str, np.ndarray], *, hits: np.ndarray,
            rival_hits: np.ndarray | None, serving: ModelVersion | None) -> None:
    holdout, calibration = {}, {}
    for key, result in (scored or {}).items():
        known = labels[key] >= 0
        n = int(known.sum())
        accuracy = result["accuracy"]
        holdout[key] = {"accuracy": accuracy, "interval": list(result["interval"]), "n": n,
                        "confusion": np.asarray(result["confusion"]).astype(int).tolist(), "ece": result["ece"]}
        if n >= MIN_HOLDOUT:
            calibration[key] = calibration_fit(np.asarray(result["probs"])[known], labels[key][known])
    version.metrics = {**version.metrics, "holdout": holdout}
    if rival_hits is not None and len(hits):
        version.metrics["holdout_comparison"] = {"serving": serving.number, **paired_difference(hits, rival_hits),
                                                 "serving_interval": list(binomial_interval(int(rival_hits.sum()),
                                                                                            len(rival_hits)))}
    task = version.workflow.rules.task
    version.calibration = calibration if task in calibration else None
    version.save(update_fields=["metrics", "calibration"])
