"""Accounts: work done before logging in belongs to the account afterwards (signing up: test_views.py)."""
from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.conftest import annotations_for
from zooapp.models import Classification, Favourite, Volunteer
from zooapp.services.classifications import classification_create

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-Passphrase-9"


@pytest.fixture
def vera(db):
    return get_user_model().objects.create_user("vera", password=PASSWORD)


def classify(client, workflow, subject, answer: str = "smooth"):
    response = client.post(reverse("api-classifications"), {
        "subject": subject.pk, "workflow_version": workflow.current_version.pk,
        "idempotency_key": str(uuid.uuid4()), "annotations": annotations_for(answer)},
        content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def log_in(client, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": "vera", "password": password})


def test_logging_into_an_existing_account_carries_anonymous_classifications_over(client, demo_workflow, vera):
    first, second = demo_workflow.subjects.filter(is_gold=False)[:2]
    ids = {classify(client, demo_workflow, first), classify(client, demo_workflow, second)}
    client.post(reverse("api-subject-favourite", args=[first.pk]))
    assert log_in(client).status_code == 302
    mine = Volunteer.objects.get(user=vera)
    assert set(Classification.objects.filter(volunteer=mine).values_list("id", flat=True)) == ids
    assert Favourite.objects.filter(volunteer=mine, subject=first).exists()
    assert b'data-stat="classifications">2<' in client.get(reverse("me")).content


def test_the_accounts_own_work_is_kept_and_joined_by_the_anonymous_work(client, demo_workflow, vera):
    shared, other = demo_workflow.subjects.filter(is_gold=False)[:2]
    account = Volunteer.objects.create(user=vera, name="vera")
    earlier = classification_create(volunteer=account, subject_id=shared.pk, annotations=annotations_for(),
                                    workflow_version_id=demo_workflow.current_version.pk,
                                    idempotency_key=uuid.uuid4()).classification
    classify(client, demo_workflow, shared, answer="featured")
    moved = classify(client, demo_workflow, other)
    assert log_in(client).status_code == 302
    kept = Classification.objects.filter(volunteer=account)
    assert set(kept.values_list("id", flat=True)) == {earlier.pk, moved}
    assert kept.get(subject=shared).annotations[0]["value"] == "smooth"  # the account's answer, not the later one
    assert Volunteer.objects.filter(user=vera).count() == 1


def test_a_failed_login_moves_nothing_and_keeps_the_anonymous_session(client, demo_workflow, vera):
    subject = demo_workflow.subjects.filter(is_gold=False).first()
    classification_id = classify(client, demo_workflow, subject)
    response = log_in(client, password="wrong-password")
    assert response.status_code == 200 and b"correct username and password" in response.content
    assert Classification.objects.get(pk=classification_id).volunteer.user is None
    assert not Volunteer.objects.filter(user=vera).exists()
    listed = client.get(reverse("api-classifications")).json()
    assert [c["id"] for c in listed["results"]] == [classification_id]
