"""Subject embeddings and "more like this": hand-checkable neighbours, filters, bad input, refresh."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_workflow
from tests.zooapp.machine_fixtures import classifier_row, smooth_checkpoint  # noqa: F401
from zooapp.errors import NotFound, ValidationFailed
from zooapp.models import ModelVersion, Subject, SubjectEmbedding
from zooapp.services.embeddings import embedding_version, embeddings_refresh, subjects_similar_to

pytestmark = pytest.mark.django_db

# Five galaxies on the unit circle at these angles (degrees): neighbours are read off by eye.
ANGLES = [0, 10, 30, 90, 180]


def _store(version: ModelVersion, subjects, angles) -> None:
    for s, a in zip(subjects, angles):
        v = np.array([np.cos(np.radians(a)), np.sin(np.radians(a))], dtype="<f4")
        SubjectEmbedding.objects.create(model_version=version, subject=s, vector=v.tobytes())


@pytest.fixture
def circle(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=5, n_gold=0)
    version = ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=1,
                                          file="unused.pt", n_train=5, serving=True)
    subjects = list(Subject.objects.filter(workflow=workflow).order_by("id"))
    _store(version, subjects, ANGLES)
    return workflow, version, subjects


def test_it_returns_the_nearest_galaxies_best_first_with_cosine_scores(circle):
    _, _, s = circle
    found = subjects_similar_to(subject_ids=[s[0].pk], k=3)
    assert [i for i, _ in found] == [s[1].pk, s[2].pk, s[3].pk]
    assert [round(score, 4) for _, score in found] == [round(np.cos(np.radians(a)), 4) for a in (10, 30, 90)]


def test_it_searches_from_the_mean_of_several_galaxies_and_never_returns_them(circle):
    _, _, s = circle
    # The mean of 0 and 90 degrees points at 45: 30 is nearest, then 10; 0 and 90 are the query.
    found = subjects_similar_to(subject_ids=[s[0].pk, s[3].pk], k=2)
    assert [i for i, _ in found] == [s[2].pk, s[1].pk]


def test_it_leaves_out_excluded_ids_and_filters_by_retirement(circle):
    _, _, s = circle
    Subject.objects.filter(pk__in=[s[2].pk, s[4].pk]).update(status=Subject.Status.RETIRED)
    assert [i for i, _ in subjects_similar_to(subject_ids=[s[0].pk], k=5, exclude_ids=[s[1].pk])] == \
        [s[2].pk, s[3].pk, s[4].pk]
    assert [i for i, _ in subjects_similar_to(subject_ids=[s[0].pk], k=5, status="retired")] == [s[2].pk, s[4].pk]


def test_it_answers_bad_input_with_one_clear_error(circle):
    workflow, _, s = circle
    with pytest.raises(NotFound, match="no subject with id 999999"):
        subjects_similar_to(subject_ids=[999999])
    with pytest.raises(ValidationFailed, match="at least one subject"):
        subjects_similar_to(subject_ids=[])
    with pytest.raises(ValidationFailed, match="k must lie"):
        subjects_similar_to(subject_ids=[s[0].pk], k=0)
    with pytest.raises(ValidationFailed, match="status must be one of"):
        subjects_similar_to(subject_ids=[s[0].pk], status="gone")


def test_it_returns_nothing_before_any_embedding_exists(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=3, n_gold=0)
    subject = Subject.objects.filter(workflow=workflow).first()
    assert subjects_similar_to(subject_ids=[subject.pk]) == []


def test_it_keeps_using_the_old_version_until_the_new_serving_one_has_embeddings(circle):
    workflow, old, s = circle
    ModelVersion.objects.filter(pk=old.pk).update(serving=False)
    new = ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=2,
                                      file="unused.pt", n_train=5, serving=True)
    assert embedding_version(workflow_id=workflow.pk) == old
    _store(new, s, [180, 90, 30, 10, 0])  # reversed: the nearest neighbour of s[0] is now s[1] at 90 deg away
    assert embedding_version(workflow_id=workflow.pk) == new
    assert subjects_similar_to(subject_ids=[s[0].pk], k=1)[0][0] == s[1].pk
    assert subjects_similar_to(subject_ids=[s[4].pk], k=1)[0][0] == s[3].pk


def test_refresh_embeds_every_subject_once_with_unit_vectors(admin_user, smooth_checkpoint):  # noqa: F811
    workflow = make_workflow(owner=admin_user, n_subjects=4, n_gold=1)
    version = classifier_row(workflow, smooth_checkpoint, 1)
    assert embeddings_refresh(model_version_id=version.pk) == 4
    assert embeddings_refresh(model_version_id=version.pk) == 0  # only missing ones
    vectors = [e.as_array() for e in SubjectEmbedding.objects.filter(model_version=version)]
    assert len(vectors) == 4 and all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in vectors)
    with pytest.raises(NotFound, match="no classifier version"):
        embeddings_refresh(model_version_id=version.pk + 100)


def test_a_version_that_starts_serving_embeds_the_project_on_the_ml_queue(admin_user, smooth_checkpoint,  # noqa: F811
                                                                          django_capture_on_commit_callbacks):
    from zooapp.services.machine.serving import model_version_serve

    workflow = make_workflow(owner=admin_user, n_subjects=3, n_gold=1)
    version = classifier_row(workflow, smooth_checkpoint, 1)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        model_version_serve(model_version_id=version.pk)
    assert callbacks  # the refresh waits for the serving transaction to commit
    assert SubjectEmbedding.objects.filter(model_version=version).count() == 3  # gold included: searchable too
    assert embedding_version(workflow_id=workflow.pk) == version
