"""Shared pieces of the machine tests: a crowd that labels galaxies, and one tiny checkpoint trained once."""
from __future__ import annotations

import uuid

import numpy as np
import pytest

from aggregation.schema import TaskTree
from tests.conftest import DEMO_TREE, annotations_for, png_bytes
from zooapp.models import ModelVersion, Volunteer, Workflow
from zooapp.services.classifications import classification_create


def tiny_training(settings) -> None:
    """Five optimizer steps for every trainer and one predicted view: these tests check the plumbing, not learning."""
    settings.ZOOLOOP_CLASSIFIER_STEPS = settings.ZOOLOOP_CLASSIFIER_MIN_STEPS = 5
    settings.ZOOLOOP_CLASSIFIER_FINETUNE_STEPS = settings.ZOOLOOP_DETECTOR_STEPS = 5
    settings.ZOOLOOP_PREDICT_VIEWS = 1


def crowd_classify(workflow: Workflow, subjects, answer, n: int = 3, prefix: str = "v", boxes=None) -> None:
    """``n`` volunteers give ``answer`` (a label, or a callable of the index), and draw ``boxes``, on each subject."""
    crowd = [Volunteer.objects.get_or_create(name=f"{prefix}{i}")[0] for i in range(n)]
    for i, subject in enumerate(subjects):
        label = answer(i) if callable(answer) else answer
        for v in crowd:
            classification_create(volunteer=v, subject_id=subject.pk, workflow_version_id=workflow.current_version.pk,
                                  annotations=annotations_for(label, boxes or []), idempotency_key=uuid.uuid4())


@pytest.fixture(scope="session")
def smooth_checkpoint(tmp_path_factory):
    """A classifier trained in a few steps on votes that are all 'smooth': its top answer is 'smooth'."""
    from ml.classifier import ClassifierConfig, train_classifier

    folder = tmp_path_factory.mktemp("smooth")
    images = []
    for i in range(8):
        images.append(folder / f"g{i}.png")
        images[-1].write_bytes(png_bytes(size=32, seed=i))
    tree = TaskTree.from_dict(DEMO_TREE)
    counts = {"T0": np.tile([5.0, 0.0, 0.0], (8, 1))}  # answers: smooth, featured, artifact
    cfg = ClassifierConfig(out_dir=str(folder / "model"), image_size=32, steps=5, min_steps=5, finetune_steps=5,
                           checkpoint_every=5, batch_size=8, n_ensemble=1, mc_samples=2)
    return str(train_classifier(cfg, images=images, vote_counts=counts, tree=tree, val_fraction=0.0,
                                progress=False)["checkpoint"])


def classifier_row(workflow: Workflow, checkpoint: str, number: int) -> ModelVersion:
    return ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=number,
                                       file=checkpoint, n_train=8)
