"""The representation API and pages: more like this, anomaly sessions, new questions; who may do what."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.conftest import arc_vectors, embeddings_store, make_workflow
from zooapp.models import AnomalyLabel, NewQuestion, Project, QuestionPrediction, Subject

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(admin_user):
    User = get_user_model()
    owner, stranger = User.objects.create_user("owen"), User.objects.create_user("sam")
    workflow = make_workflow(owner=owner, n_subjects=12, n_gold=0)
    _, subjects = embeddings_store(workflow, arc_vectors(12, 10))  # each one's nearest neighbours are i +- 1
    return {"owner": owner, "stranger": stranger, "workflow": workflow, "subjects": subjects}


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_more_like_this_answers_the_nearest_galaxies_with_images(world):
    s = world["subjects"]
    body = _client().get(reverse("api-subject-similar", args=[s[5].pk]), {"k": 2}).json()
    assert {x["id"] for x in body["similar"]} == {s[4].pk, s[6].pk}
    assert body["similar"][0]["frames"][0]["url"] and "similarity" in body["similar"][0]
    page = _client().get(reverse("research-similar", args=[s[5].pk]), {"k": 3}).content.decode()
    assert page.count('class="meta">similarity') == 3


def test_more_like_this_filters_by_retirement_and_refuses_junk(world):
    s = world["subjects"]
    Subject.objects.filter(pk=s[9].pk).update(status=Subject.Status.RETIRED)
    body = _client().get(reverse("api-subject-similar", args=[s[5].pk]), {"status": "retired"}).json()
    assert [x["id"] for x in body["similar"]] == [s[9].pk]
    bad = _client().get(reverse("api-subject-similar", args=[s[5].pk]), {"k": 0})
    assert bad.status_code == 400 and "k" in bad.json()["detail"]
    assert _client().get(reverse("research-similar", args=[s[5].pk]), {"k": "lots"}).status_code == 400


def test_a_private_projects_galaxies_are_not_shown_to_strangers(world):
    Project.objects.filter(pk=world["workflow"].project_id).update(visibility=Project.Visibility.PRIVATE)
    url = reverse("api-subject-similar", args=[world["subjects"][0].pk])
    assert _client(world["stranger"]).get(url).status_code == 404
    assert _client(world["owner"]).get(url).status_code == 200


def test_the_anomaly_loop_over_the_api_reranks_saves_and_exports(world):
    s, owner = world["subjects"], world["owner"]
    client = _client(owner)
    created = client.post(reverse("api-anomaly-sessions"), {"workflow": world["workflow"].pk, "name": "odd"},
                          content_type="application/json")
    assert created.status_code == 201
    pk = created.json()["id"]
    before = client.get(reverse("api-anomaly-session", args=[pk])).json()
    after = client.post(reverse("api-anomaly-labels", args=[pk]), {"subject": s[5].pk, "interesting": True},
                        content_type="application/json").json()
    # The middle of the arc is the least anomalous; once one of it is judged interesting, its neighbours rise.
    assert after["n_labels"] == 1 and after["top"][0]["id"] == s[5].pk
    rank = (lambda body, subject: [x["id"] for x in body["top"]].index(subject.pk))
    assert rank(after, s[4]) < rank(before, s[4]) and rank(after, s[6]) < rank(before, s[6])
    assert {x["id"] for x in after["top"][1:3]} == {s[4].pk, s[6].pk}
    csv_text = client.get(reverse("api-anomaly-export", args=[pk]), {"n": 3}).content.decode()
    assert csv_text.splitlines()[1].startswith(f"1,{s[5].pk},")
    assert len(csv_text.splitlines()) == 4


def test_anomaly_sessions_are_their_owners_alone(world):
    owner, stranger = world["owner"], world["stranger"]
    assert _client(stranger).post(reverse("api-anomaly-sessions"), {"workflow": world["workflow"].pk},
                                  content_type="application/json").status_code == 404
    pk = _client(owner).post(reverse("api-anomaly-sessions"), {"workflow": world["workflow"].pk},
                             content_type="application/json").json()["id"]
    for name in ("api-anomaly-session", "api-anomaly-export", "research-anomaly"):
        assert _client(stranger).get(reverse(name, args=[pk])).status_code == 404, name
    label = _client(stranger).post(reverse("api-anomaly-labels", args=[pk]),
                                   {"subject": world["subjects"][0].pk, "interesting": True},
                                   content_type="application/json")
    assert label.status_code == 404 and not AnomalyLabel.objects.exists()


def test_a_new_question_is_added_labelled_fitted_and_exported_by_its_project(world):
    s, client = world["subjects"], _client(world["owner"])
    url = reverse("api-workflow-questions", args=[world["workflow"].pk])
    made = client.post(url, {"key": "ring", "text": "Is there a ring?", "answers": ["ring", "none"]},
                       content_type="application/json")
    assert made.status_code == 201
    pk = made.json()["id"]
    labels = [{"subject": x.pk, "answer": "ring" if i < 6 else "none"} for i, x in enumerate(s) if i % 2 == 0]
    assert client.post(reverse("api-question-labels", args=[pk]), {"labels": labels},
                       content_type="application/json").json()["n_labels"] == 6
    too_few = client.post(reverse("api-question-fit", args=[pk]))
    assert too_few.status_code == 400 and "at least 10" in too_few.json()["detail"]
    more = [{"subject": x.pk, "answer": "ring" if i < 6 else "none"} for i, x in enumerate(s) if i % 2 == 1]
    client.post(reverse("api-question-labels", args=[pk]), {"labels": more}, content_type="application/json")
    fitted = client.post(reverse("api-question-fit", args=[pk])).json()
    assert fitted["head"]["n_labels"] == 12 and QuestionPrediction.objects.count() == 12
    rows = client.get(reverse("api-question-export", args=[pk])).content.decode().splitlines()
    assert rows[0].startswith("subject_id,external_id,answer,p_ring,p_none,std,entropy") and len(rows) == 13


def test_strangers_cannot_add_label_or_fit_questions(world):
    stranger = _client(world["stranger"])
    url = reverse("api-workflow-questions", args=[world["workflow"].pk])
    assert stranger.post(url, {"key": "ring", "text": "Ring?", "answers": ["y", "n"]},
                         content_type="application/json").status_code == 404
    question = NewQuestion.objects.create(workflow=world["workflow"], key="bar", text="Bar?", answers=["y", "n"])
    bad = stranger.post(reverse("api-question-labels", args=[question.pk]),
                        {"labels": [{"subject": world["subjects"][0].pk, "answer": "y"}]}, content_type="application/json")
    assert bad.status_code == 404 and not question.labels.exists()
    assert stranger.post(reverse("api-question-fit", args=[question.pk])).status_code == 404
