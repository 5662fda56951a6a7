import uuid

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import annotations_for
from tests.zooapp.test_views import page_config
from zooapp.models import Classification, SubjectView, Volunteer
from zooapp.visitor import COOKIE

pytestmark = pytest.mark.django_db(transaction=True)


def _body(workflow, subject_id, key):
    return {"subject": subject_id, "workflow_version": workflow.current_version.pk,
            "idempotency_key": str(key), "annotations": annotations_for()}


def test_retries_of_a_first_write_without_a_session_yet_are_one_volunteer_and_one_classification(demo_workflow):
    reader = Client()
    subject = reader.get(reverse("api-workflow-queue", args=[demo_workflow.pk])).json()["subjects"][0]["id"]
    visitor = reader.cookies[COOKIE].value
    key = uuid.uuid4()
    answers = []
    for _ in range(2):  # two racing retries: each carries the read's cookie but neither has a session yet
        retry = Client()
        retry.cookies[COOKIE] = visitor
        answers.append(retry.post(reverse("api-classifications"), _body(demo_workflow, subject, key),
                                  content_type="application/json"))
    assert [a.status_code for a in answers] == [201, 200]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert Volunteer.objects.count() == 1 and Classification.objects.count() == 1


def test_a_tampered_visitor_cookie_is_ignored_and_resumes_nothing(client, demo_workflow):
    url = reverse("classify", args=[demo_workflow.pk])
    first = page_config(client.get(url))["subject"]["id"]
    other = demo_workflow.subjects.exclude(pk=first).filter(is_gold=False).first()
    # Last in the queue: the page shows it only if the forged cookie were believed.
    type(other).objects.filter(pk=other.pk).update(priority=-1e9)
    forged = client.cookies[COOKIE].value.replace(f'"{demo_workflow.pk}":{first}',
                                                  f'"{demo_workflow.pk}":{other.pk}')
    assert forged != client.cookies[COOKIE].value
    client.cookies[COOKIE] = forged
    assert page_config(client.get(url))["subject"]["id"] != other.pk
    assert not Volunteer.objects.exists()


def _skip(client, workflow, subject_id):
    return client.get(reverse("api-workflow-queue", args=[workflow.pk]), {"n": 1, "skip": subject_id}).json()


def test_a_visitor_who_skips_never_gets_a_skipped_galaxy_back_and_no_rows_are_made(client, demo_workflow):
    url = reverse("classify", args=[demo_workflow.pk])
    shown = [page_config(client.get(url))["subject"]["id"]]
    for _ in range(demo_workflow.subjects.count()):  # skip every galaxy in turn, until none is left
        body = _skip(client, demo_workflow, shown[-1])
        if body["finished"]:
            break
        shown.append(body["subjects"][0]["id"])
        assert page_config(client.get(url))["subject"]["id"] == shown[-1]  # a reload shows the new one
    assert len(shown) == len(set(shown)) == demo_workflow.subjects.count()
    assert page_config(client.get(url))["subject"] is None  # all skipped: a reload brings none of them back
    assert not Volunteer.objects.exists() and not SubjectView.objects.exists()


def test_a_visitor_remembers_only_the_last_skips_so_the_cookie_stays_small(client, demo_workflow):
    from django.test import RequestFactory

    from zooapp.visitor import SKIP_MEMORY, visitor_read
    for subject_id in range(1, SKIP_MEMORY + 20):
        _skip(client, demo_workflow, 10_000 + subject_id)
    request = RequestFactory().get("/")
    request.COOKIES[COOKIE] = client.cookies[COOKIE].value
    skipped = visitor_read(request).skipped[str(demo_workflow.pk)]
    assert len(skipped) == SKIP_MEMORY and skipped[-1] == 10_000 + SKIP_MEMORY + 19
    assert len(client.cookies[COOKIE].value) < 1000
