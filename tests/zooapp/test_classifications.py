import uuid

import pytest
from django.urls import reverse

from tests.conftest import annotations_for
from zooapp.models import Classification, Subject, SubjectPosterior, SubjectView

pytestmark = pytest.mark.django_db(transaction=True)


def post(client, workflow, subject, annotations, key=None):
    body = {"subject": subject.pk, "workflow_version": workflow.current_version.pk,
            "idempotency_key": str(key or uuid.uuid4()), "annotations": annotations}
    return client.post(reverse("api-classifications"), body, content_type="application/json")


def test_it_stores_a_valid_classification_and_aggregates_it(client, demo_workflow):
    subject = demo_workflow.subjects.filter(is_gold=False).first()
    response = post(client, demo_workflow, subject, annotations_for("featured", [
        {"tool": "clump", "x_min": 10, "y_min": 10, "x_max": 20, "y_max": 22}]))
    assert response.status_code == 201, response.json()
    stored = Classification.objects.get(pk=response.json()["id"])
    assert stored.annotations[2]["value"][0]["x_max"] == 20.0
    assert stored.is_aggregated
    assert Subject.objects.get(pk=subject.pk).n_classifications == 1
    assert SubjectPosterior.objects.get(subject=subject, task="T0").vote_counts == [0, 1, 0]


def test_it_counts_a_retried_submission_once(client, demo_workflow):
    subject = demo_workflow.subjects.filter(is_gold=False).first()
    key = uuid.uuid4()
    first = post(client, demo_workflow, subject, annotations_for(), key=key)
    second = post(client, demo_workflow, subject, annotations_for(), key=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Classification.objects.count() == 1
    assert Subject.objects.get(pk=subject.pk).n_classifications == 1


@pytest.mark.parametrize("annotations, fragment", [
    ([{"task": "T1", "value": "round"}], "expects 'T0'"),
    ([{"task": "T0", "value": "elliptical"}], "not one of"),
    ([{"task": "T0", "value": "smooth"}], "stops before task 'T1'"),
    (annotations_for("featured", [{"tool": "clump", "x_min": 10, "y_min": 10, "x_max": 90, "y_max": 20}]),
     "outside"),
    (annotations_for("featured", [{"tool": "clump", "x_min": 10, "y_min": 10, "x_max": 10, "y_max": 20}]),
     "positive width"),
    (annotations_for("featured", [{"tool": "clump", "x_min": "a", "y_min": 1, "x_max": 3, "y_max": 4}]),
     "finite number"),
    (annotations_for("featured", [{"tool": "clump", "x_min": 1, "y_min": 1, "x_max": 3, "y_max": 4}] * 21),
     "between 0 and 20"),
])
def test_it_rejects_bad_annotations_with_a_clear_message_and_stores_nothing(client, demo_workflow, annotations,
                                                                            fragment):
    subject = demo_workflow.subjects.first()
    response = post(client, demo_workflow, subject, annotations)
    assert response.status_code == 400
    assert fragment in response.json()["detail"]
    assert Classification.objects.count() == 0


def test_it_rejects_malformed_json_and_unknown_subjects(client, demo_workflow):
    bad = client.post(reverse("api-classifications"), "{not json", content_type="application/json")
    assert bad.status_code == 400 and "JSON" in bad.json()["detail"]
    subject = demo_workflow.subjects.first()
    subject.pk = 999_999
    missing = post(client, demo_workflow, subject, annotations_for())
    assert missing.status_code == 400 and "does not exist" in missing.json()["detail"]
    assert Classification.objects.count() == 0


def test_it_refuses_a_second_classification_of_the_same_subject(client, demo_workflow):
    subject = demo_workflow.subjects.filter(is_gold=False).first()
    assert post(client, demo_workflow, subject, annotations_for()).status_code == 201
    again = post(client, demo_workflow, subject, annotations_for("featured"))
    assert again.status_code == 400 and "already classified" in again.json()["detail"]


def test_gold_feedback_is_given_only_after_the_classification_is_saved(client, demo_workflow):
    gold = demo_workflow.subjects.get(is_gold=True)
    page = client.get(reverse("classify", args=[demo_workflow.pk]))
    assert b"GoldAnswer" not in page.content
    response = post(client, demo_workflow, gold, annotations_for("featured"))
    assert response.json()["gold"] is True
    feedback = client.get(reverse("api-classification-feedback", args=[response.json()["id"]])).json()
    assert feedback == {"gold": True, "expected": {"T0": "smooth"}, "given": {"T0": "featured"}, "correct": False}


def test_feedback_of_someone_elses_classification_is_not_found(client, demo_workflow):
    subject = demo_workflow.subjects.filter(is_gold=False).first()
    cid = post(client, demo_workflow, subject, annotations_for()).json()["id"]
    other = client.__class__()
    assert other.get(reverse("api-classification-feedback", args=[cid])).status_code == 404


def test_listing_own_classifications_supports_since(client, demo_workflow):
    subjects = list(demo_workflow.subjects.filter(is_gold=False)[:3])
    ids = [post(client, demo_workflow, s, annotations_for()).json()["id"] for s in subjects]
    listed = client.get(reverse("api-classifications"), {"since": ids[0]}).json()
    assert [c["id"] for c in listed["results"]] == ids[1:]
    assert client.get(reverse("api-classifications"), {"since": "x"}).status_code == 400


@pytest.mark.parametrize("url_name, params, fragment", [
    ("api-classifications", {"since": "x"}, "since: must be a classification id (a whole number)"),
    ("api-classifications", {"since": "9" * 30}, "since: must be a classification id"),
    ("api-workflow-queue", {"n": "11"}, "n: must be a whole number from 1 to 10"),
    ("api-workflow-queue", {"n": "two"}, "n: must be a whole number from 1 to 10"),
    ("aggregation-list", {"subject": "-3"}, "subject: must be a subject id"),
])
def test_a_bad_query_parameter_is_a_400_naming_it_and_claims_nothing(client, demo_workflow, url_name, params,
                                                                      fragment):
    args = [demo_workflow.pk] if url_name == "api-workflow-queue" else []
    response = client.get(reverse(url_name, args=args), params)
    assert response.status_code == 400 and fragment in response.json()["detail"], response.content
    assert not SubjectView.objects.exists()


def test_the_queue_serves_as_many_subjects_as_asked_and_one_by_default(client, demo_workflow):
    url = reverse("api-workflow-queue", args=[demo_workflow.pk])
    assert len(client.get(url).json()["subjects"]) == 1
    assert len(client.get(url, {"n": 3}).json()["subjects"]) == 3


def test_an_inactive_workflow_is_not_served_to_volunteers(client, demo_workflow):
    demo_workflow.active = False
    demo_workflow.save(update_fields=["active"])
    assert client.get(reverse("api-workflow-queue", args=[demo_workflow.pk])).status_code == 404
    assert client.get(reverse("classify", args=[demo_workflow.pk])).status_code == 404
    assert demo_workflow.name not in client.get(reverse("home")).content.decode()


def test_an_anonymous_session_write_without_the_csrf_token_is_refused_and_stores_nothing(demo_workflow):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.get(reverse("api-workflow-queue", args=[demo_workflow.pk]))  # sets the session and the CSRF cookie
    subject = demo_workflow.subjects.filter(is_gold=False).first()
    body = {"subject": subject.pk, "workflow_version": demo_workflow.current_version.pk,
            "idempotency_key": str(uuid.uuid4()), "annotations": annotations_for()}
    forged = client.post(reverse("api-classifications"), body, content_type="application/json")
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    assert Classification.objects.count() == 0
    token = client.cookies["csrftoken"].value
    honest = client.post(reverse("api-classifications"), body, content_type="application/json",
                         HTTP_X_CSRFTOKEN=token)
    assert honest.status_code == 201


def test_a_closed_workflow_refuses_a_classification_and_stores_nothing(client, demo_workflow):
    from zooapp.services.workflows import workflow_status_set

    subject = demo_workflow.subjects.filter(is_gold=False).first()
    workflow_status_set(workflow=demo_workflow, status="paused")
    response = post(client, demo_workflow, subject, annotations_for("smooth"))
    assert response.status_code == 400
    assert "is paused, so it takes no classifications" in response.json()["detail"]
    assert not Classification.objects.filter(subject=subject).exists()


def test_a_retry_after_the_workflow_closed_gets_its_stored_classification_and_a_new_key_is_refused(
        client, demo_workflow):
    from zooapp.services.workflows import workflow_status_set

    subject = demo_workflow.subjects.filter(is_gold=False).first()
    key = uuid.uuid4()
    first = post(client, demo_workflow, subject, annotations_for("smooth"), key=key)
    workflow_status_set(workflow=demo_workflow, status="paused")
    retry = post(client, demo_workflow, subject, annotations_for("smooth"), key=key)
    other = demo_workflow.subjects.filter(is_gold=False).exclude(pk=subject.pk).first()
    fresh = post(client, demo_workflow, other, annotations_for("smooth"))
    assert (first.status_code, retry.status_code, fresh.status_code) == (201, 200, 400)
    assert retry.json()["id"] == first.json()["id"]
    assert Classification.objects.count() == 1
