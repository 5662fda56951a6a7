"""New questions from few labels: validation, majority labels, and predictions stored against the right version."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from tests.conftest import make_workflow
from zooapp.errors import Conflict, NotFound, ValidationFailed
from zooapp.models import ModelVersion, QuestionPrediction, Subject, SubjectEmbedding
from zooapp.services.questions import (new_question_create, question_head_fit, question_label_set,
                                       question_predictions_csv)

pytestmark = pytest.mark.django_db


def _embed(version, subjects, flip=False):
    # Subjects 0..9 lie near +x, 10..19 near -x (swapped when flip): a ring question splits them by x.
    rng = np.random.default_rng(1)
    for i, s in enumerate(subjects):
        sign = (1.0 if i < 10 else -1.0) * (-1.0 if flip else 1.0)
        v = np.array([sign, 0.0, 0.0]) + rng.normal(0, 0.1, 3)
        SubjectEmbedding.objects.create(model_version=version, subject=s, vector=v.astype("<f4").tobytes())


@pytest.fixture
def ring_question(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=20, n_gold=0)
    version = ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=1,
                                          file="unused.pt", n_train=20, serving=True)
    subjects = list(Subject.objects.filter(workflow=workflow).order_by("id"))
    _embed(version, subjects)
    question = new_question_create(workflow=workflow, key="ring", text="Is there a ring?", answers=["ring", "no"])
    return workflow, version, subjects, question


def _label_half(question, subjects, user=None):
    for i in list(range(0, 6)) + list(range(10, 16)):
        question_label_set(question=question, subject_id=subjects[i].pk, answer="ring" if i < 10 else "no", user=user)


def test_the_head_predicts_every_subject_from_a_few_labels(ring_question):
    _, version, subjects, question = ring_question
    _label_half(question, subjects)
    head = question_head_fit(question=question)
    assert head.model_version == version and head.n_labels == 12
    preds = {p.subject_id: p for p in QuestionPrediction.objects.filter(head=head)}
    assert len(preds) == 20
    assert all(np.argmax(preds[s.pk].probs) == (0 if i < 10 else 1) for i, s in enumerate(subjects))
    assert all(abs(sum(p.probs) - 1) < 1e-4 and p.std >= 0 and p.entropy >= 0 for p in preds.values())


def test_predictions_are_stored_against_the_serving_version_that_made_the_embeddings(ring_question):
    workflow, old, subjects, question = ring_question
    _label_half(question, subjects)
    first = question_head_fit(question=question)
    ModelVersion.objects.filter(pk=old.pk).update(serving=False)
    new = ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=2,
                                      file="unused.pt", n_train=20, serving=True)
    _embed(new, subjects, flip=True)  # the new encoder puts the rings on the other side
    second = question_head_fit(question=question)
    assert (first.model_version, second.model_version) == (old, new)
    assert QuestionPrediction.objects.filter(head=first).count() == 20  # the old version's predictions are kept
    rows = list(csv.DictReader(io.StringIO(question_predictions_csv(question=question))))
    assert {r["model_version_number"] for r in rows} == {"2"}
    assert [r["answer"] for r in rows[:10]] == ["ring"] * 10 and {"p_ring", "p_no", "std", "entropy"} <= set(rows[0])


def test_volunteers_labels_are_combined_by_majority(ring_question, admin_user):
    from django.contrib.auth import get_user_model

    _, _, subjects, question = ring_question
    _label_half(question, subjects)
    users = [get_user_model().objects.create_user(f"u{i}", password="pw-123456789") for i in range(2)]
    for u in users:  # two people say subject 0 has no ring; the researcher said it has one
        question_label_set(question=question, subject_id=subjects[0].pk, answer="no", user=u)
    assert question_head_fit(question=question).metrics["label_counts"] == [5, 7]


def test_bad_questions_and_labels_get_one_clear_error(ring_question):
    workflow, _, subjects, question = ring_question
    with pytest.raises(ValidationFailed, match="key"):
        new_question_create(workflow=workflow, key="Has Ring!", text="x", answers=["a", "b"])
    with pytest.raises(ValidationFailed, match="2 to 10 distinct"):
        new_question_create(workflow=workflow, key="bar", text="Bar?", answers=["a", "a"])
    with pytest.raises(Conflict):
        new_question_create(workflow=workflow, key="ring", text="Again?", answers=["a", "b"])
    with pytest.raises(ValidationFailed, match="one of ring, no"):
        question_label_set(question=question, subject_id=subjects[0].pk, answer="maybe")
    with pytest.raises(ValidationFailed, match="at least 10"):
        question_head_fit(question=question)
    with pytest.raises(NotFound, match="no predictions yet"):
        question_predictions_csv(question=question)
