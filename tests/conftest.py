"""Shared fixtures: a demo workflow with real images, and personas for permission tests."""
from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from PIL import Image

from aggregation.schema import galaxy_zoo_tree
from zooapp.celery import app as celery_app

DEMO_TREE = galaxy_zoo_tree().to_dict()


def pytest_configure(config):
    from django.conf import settings

    # The SQLite test database and whitenoise's root live under var/, which a fresh clone lacks.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ZOOLOOP_MODEL_DIR = tmp_path / "models"
    settings.ZOOLOOP_EXPORT_DIR = tmp_path / "exports"


@pytest.fixture(autouse=True)
def _eager_celery():
    # Unit tests run tasks in-process; the integration tests start a real worker instead.
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


def png_bytes(size: int = 64, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    blob = np.exp(-((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / (2 * (size / 6) ** 2))
    pixels = np.clip(255 * blob + rng.normal(0, 8, blob.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def fresh_rate_limits():
    """Empty rate-limit counters before and after a test, for the tests that exercise the limits."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("admin", "admin@example.org", "admin-pass-123")


def make_workflow(*, owner, n_subjects: int = 5, n_gold: int = 1, tree: dict | None = None, rules: dict | None = None):
    from zooapp.models import GoldAnswer, Project, SubjectSet
    from zooapp.services.projects import workflow_create
    from zooapp.services.subjects import DisplayImage, subject_create

    project = Project.objects.create(name="Test project", slug=f"test-{uuid.uuid4().hex[:8]}", owner=owner)
    workflow = workflow_create(project=project, name="Morphology", tree=tree or DEMO_TREE)
    if rules:
        workflow.retirement_rules = {**workflow.retirement_rules, **rules}
        workflow.save(update_fields=["retirement_rules"])
    subject_set = SubjectSet.objects.create(project=project, workflow=workflow, name="set")
    for i in range(n_subjects):
        image = DisplayImage(png=png_bytes(seed=i), width=64, height=64, wcs_header=None, centre_radec=None)
        subject = subject_create(subject_set=subject_set, external_id=f"S{i}", image=image, ra=10.0 + i, dec=-1.0,
                                 metadata={"name": f"S{i}", "#hidden": "secret"}, is_gold=i < n_gold)
        if subject.is_gold:
            GoldAnswer.objects.create(subject=subject, task="T0", value="smooth")
    return workflow


def arc_vectors(n: int, step_degrees: float) -> np.ndarray:
    """``(n, 2)`` unit vectors ``step_degrees`` apart: each one's nearest neighbours are its arc neighbours."""
    angles = np.radians(step_degrees * np.arange(n))
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def embeddings_store(workflow, vectors: np.ndarray):
    """Hand-made embeddings under a new serving classifier version: row i for the i-th subject by id.

    Returns ``(version, subjects)``; the vectors are stored as given (float32), so normalise them first
    where a test needs unit length.
    """
    from zooapp.models import ModelVersion, Subject, SubjectEmbedding

    subjects = list(Subject.objects.filter(workflow=workflow).order_by("id"))
    version = ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=1,
                                          file="unused.pt", n_train=len(subjects), serving=True)
    SubjectEmbedding.objects.bulk_create(
        SubjectEmbedding(model_version=version, subject=s, vector=np.asarray(v, dtype="<f4").tobytes())
        for s, v in zip(subjects, vectors, strict=True))
    return version, subjects


@pytest.fixture
def demo_workflow(admin_user):
    return make_workflow(owner=admin_user)


def annotations_for(answer: str = "smooth", boxes: list | None = None) -> list[dict]:
    """A valid walk through the demo tree."""
    if answer == "smooth":
        walk = [{"task": "T0", "value": "smooth"}, {"task": "T1", "value": "round"}]
    elif answer == "featured":
        walk = [{"task": "T0", "value": "featured"}, {"task": "T2", "value": "yes"}]
    else:
        return [{"task": "T0", "value": "artifact"}]
    return walk + [{"task": "T5", "value": boxes or []}]
