"""A new question opened to volunteers: asked about a galaxy they classified, answered through the API (one
answer per volunteer, the last one kept), and fitted with members' labels deciding the galaxies they labelled."""
from __future__ import annotations

import uuid

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.conftest import annotations_for, make_workflow
from zooapp.models import ModelVersion, NewQuestion, QuestionLabel, SubjectEmbedding, Volunteer
from zooapp.services.classifications import classification_create
from zooapp.services.questions import new_question_create, question_head_fit, question_label_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(admin_user, fresh_rate_limits):
    workflow = make_workflow(owner=admin_user, n_subjects=3, n_gold=0)
    ring = new_question_create(workflow=workflow, key="ring", text="Is there a ring?", answers=["ring", "no ring"],
                               volunteers=True)
    new_question_create(workflow=workflow, key="bar", text="A bar?", answers=["bar", "no"])  # not for volunteers
    return workflow, list(workflow.subjects.order_by("id")), ring


def volunteer_client(workflow, subject) -> Client:
    """A visitor's browser after classifying ``subject`` through the API (so its session is the volunteer's)."""
    client = Client()
    client.get(reverse("classify", args=[workflow.pk]))
    response = client.post(reverse("api-classifications"), {
        "subject": subject.pk, "workflow_version": workflow.current_version.pk, "idempotency_key": str(uuid.uuid4()),
        "annotations": annotations_for()}, content_type="application/json")
    assert response.status_code == 201, response.content
    return client


def answer(client, subject, question, text):
    return client.post(reverse("api-subject-questions", args=[subject.pk]), {"question": question.pk, "answer": text},
                       content_type="application/json")


def test_a_volunteer_is_asked_only_the_questions_opened_to_volunteers(client, world):
    workflow, subjects, ring = world
    body = client.get(reverse("api-subject-questions", args=[subjects[0].pk])).json()
    assert body == {"subject": subjects[0].pk, "questions": [
        {"id": ring.pk, "text": "Is there a ring?", "answers": ["ring", "no ring"], "mine": None}]}
    assert not Volunteer.objects.exists(), "a read makes no volunteer"


def test_a_volunteer_answers_about_a_galaxy_they_classified_and_a_second_answer_replaces_the_first(world):
    workflow, subjects, ring = world
    client = volunteer_client(workflow, subjects[0])
    assert answer(client, subjects[0], ring, "ring").status_code == 201
    response = answer(client, subjects[0], ring, "no ring")
    assert response.status_code == 201 and response.json()["questions"][0]["mine"] == "no ring"
    [label] = QuestionLabel.objects.all()
    assert (label.answer, label.user, label.subject_id) == (1, None, subjects[0].pk)
    assert label.volunteer == Volunteer.objects.get()


@pytest.mark.parametrize("case, status, fault", [
    ("not classified", 403, "classify this galaxy first"), ("bad answer", 400, "answer must be one of"),
    ("closed question", 404, "no question"), ("other workflow", 404, "no question")])
def test_a_refused_answer_says_why_and_stores_nothing(world, admin_user, case, status, fault):
    workflow, subjects, ring = world
    client = volunteer_client(workflow, subjects[0])
    subject, question, text = subjects[0], ring, "ring"
    if case == "not classified":
        subject = subjects[1]
    elif case == "bad answer":
        text = "maybe"
    elif case == "closed question":
        question = NewQuestion.objects.get(key="bar")
    else:
        other = make_workflow(owner=admin_user, n_subjects=1, n_gold=0)
        question = new_question_create(workflow=other, key="ring", text="Ring?", answers=["a", "b"], volunteers=True)
    response = answer(client, subject, question, text)
    assert response.status_code == status and fault in response.json()["detail"]
    assert not QuestionLabel.objects.exists()


def test_an_anonymous_post_with_no_classification_is_refused(client, world):
    _, subjects, ring = world
    client.get(reverse("classify", args=[world[0].pk]))
    response = client.post(reverse("api-subject-questions", args=[subjects[0].pk]),
                           {"question": ring.pk, "answer": "ring"}, content_type="application/json")
    assert response.status_code == 403 and not QuestionLabel.objects.exists()


def test_members_labels_decide_the_galaxies_they_labelled_and_volunteers_majority_the_rest(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=12, n_gold=0)
    version = ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=1,
                                          file="unused.pt", n_train=12, serving=True)
    subjects = list(workflow.subjects.order_by("id"))
    for i, s in enumerate(subjects):  # 0..5 near +x ("ring"), 6..11 near -x
        v = np.array([1.0 if i < 6 else -1.0, 0.0, 0.0]) + np.random.default_rng(i).normal(0, 0.1, 3)
        SubjectEmbedding.objects.create(model_version=version, subject=s, vector=v.astype("<f4").tobytes())
    ring = new_question_create(workflow=workflow, key="ring", text="Ring?", answers=["ring", "no"], volunteers=True)
    crowd = [Volunteer.objects.create(name=f"v{i}") for i in range(3)]
    for i, s in enumerate(subjects):
        for v in crowd:
            QuestionLabel.objects.create(question=ring, subject=s, volunteer=v, answer=0 if i < 6 else 1)
    question_label_set(question=ring, subject_id=subjects[0].pk, answer="no", user=admin_user)  # 1 member vs 3
    head = question_head_fit(question=ring)
    assert head.n_labels == 12
    assert head.metrics["label_counts"] == [5, 7], "the member's 'no' outweighs three volunteers' 'ring'"


def test_a_label_loaded_without_a_user_leaves_a_volunteers_answer_alone(world):
    workflow, subjects, ring = world
    mine = QuestionLabel.objects.create(question=ring, subject=subjects[0], volunteer=Volunteer.objects.create(),
                                        answer=0)
    question_label_set(question=ring, subject_id=subjects[0].pk, answer="no ring")
    mine.refresh_from_db()
    assert mine.answer == 0 and QuestionLabel.objects.count() == 2


def test_the_command_opens_and_closes_a_question_to_volunteers(world, capsys):
    _, _, ring = world
    bar = NewQuestion.objects.get(key="bar")
    call_command("new_question", question=bar.pk, volunteers="on")
    assert NewQuestion.objects.get(pk=bar.pk).volunteers and "now asked" in capsys.readouterr().out
    call_command("new_question", question=ring.pk, volunteers="off")
    assert not NewQuestion.objects.get(pk=ring.pk).volunteers


def test_the_api_creates_a_question_open_to_volunteers(admin_user, world):
    workflow = world[0]
    client = Client()
    client.force_login(admin_user)
    response = client.post(reverse("api-workflow-questions", args=[workflow.pk]), {
        "key": "merger", "text": "Is it merging?", "answers": ["yes", "no"], "volunteers": True},
        content_type="application/json")
    assert response.status_code == 201 and response.json()["volunteers"] is True
    assert NewQuestion.objects.get(key="merger").volunteers


def test_the_researchers_list_counts_the_volunteers_answers_apart(admin_user, world):
    workflow, subjects, ring = world
    answer(volunteer_client(workflow, subjects[0]), subjects[0], ring, "ring")
    question_label_set(question=ring, subject_id=subjects[1].pk, answer="no ring", user=admin_user)
    client = Client()
    client.force_login(admin_user)
    listed = client.get(reverse("api-workflow-questions", args=[workflow.pk])).json()["questions"]
    row = next(q for q in listed if q["key"] == "ring")
    assert (row["n_labels"], row["n_volunteer_labels"], row["volunteers"]) == (2, 1, True)


def test_answers_have_their_own_rate_limit_apart_from_tags(world, monkeypatch):
    from zooapp.throttle import QuestionRateThrottle
    workflow, subjects, ring = world
    monkeypatch.setattr(QuestionRateThrottle, "THROTTLE_RATES",
                        {**QuestionRateThrottle.THROTTLE_RATES, "question": "2/hour", "tag": "1/hour"})
    client = volunteer_client(workflow, subjects[0])
    codes = [answer(client, subjects[0], ring, a).status_code for a in ("ring", "no ring", "ring")]
    assert codes == [201, 201, 429]
    assert QuestionLabel.objects.get().answer == 1, "the refused third answer changed nothing"
