"""Hardening probed from outside: rate limits that cannot be dodged, throttled logins, reads that
write nothing, bad bodies answered well, gold that cannot be farmed, CSP, media and public results."""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from tests.conftest import annotations_for, make_workflow
from zooapp import tasks
from zooapp.models import Classification, Subject, SubjectPosterior, Volunteer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_limits")]
BALANCER = "10.0.0.2"


@pytest.fixture
def workflow(admin_user):
    return make_workflow(owner=admin_user, n_subjects=6, n_gold=2)


def _body(workflow, subject, **changes) -> dict:
    return {"subject": subject.pk, "workflow_version": workflow.current_version.pk,
            "idempotency_key": str(uuid.uuid4()), "annotations": annotations_for(), **changes}


def _classify(client, body, **headers):
    return client.post(reverse("api-classifications"), json.dumps(body), content_type="application/json", **headers)


def _rates(settings, **rates):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}}


def test_rewriting_x_forwarded_for_does_not_dodge_the_classification_limit(workflow, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "classify", "3/min")
    statuses = []
    for i, subject in enumerate(workflow.subjects.order_by("id")[:5]):
        client = Client()  # a fresh cookie-less client each time, as a script would be
        statuses.append(_classify(client, _body(workflow, subject), HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code)
    assert statuses == [201, 201, 201, 429, 429]


def test_behind_the_balancer_the_signup_limit_keys_on_each_client(client, settings):
    settings.ZOOLOOP_TRUSTED_PROXIES = 1
    _rates(settings, signup="2/hour")
    form = {"username": "", "password1": "x", "password2": "y"}

    def signup(forwarded):
        return client.post(reverse("signup"), form, REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=forwarded).status_code

    # The client may prepend anything; the balancer appends the address it saw, the rightmost entry.
    assert [signup(f"198.51.100.{i}, 192.0.2.7") for i in range(3)] == [400, 400, 429]
    assert signup("192.0.2.8") == 400  # another volunteer behind the same balancer is not blocked


def test_wrong_passwords_on_the_login_page_are_answered_429_per_address_and_per_user(client, settings):
    _rates(settings, login="100/hour", login_user="5/hour")
    get_user_model().objects.create_user("volunteer", password="the-right-passphrase-1")
    wrong = {"username": "volunteer", "password": "wrong"}
    statuses = [client.post(reverse("login"), wrong, REMOTE_ADDR="192.0.2.1").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    other_address = client.post(reverse("login"), {**wrong, "password": "the-right-passphrase-1"},
                                REMOTE_ADDR="192.0.2.99")
    assert other_address.status_code == 429 and "Too many sign-in attempts" in other_address.content.decode()
    assert "_auth_user_id" not in client.session
    _rates(settings, login="3/hour", login_user="100/hour")
    cache.clear()
    by_address = [client.post(reverse("login"), {"username": f"u{i}", "password": "x"}).status_code for i in range(4)]
    assert by_address == [200, 200, 200, 429]


def test_wrong_passwords_on_api_token_are_answered_429_with_a_message(client, settings):
    _rates(settings, login="100/hour", login_user="5/hour")
    get_user_model().objects.create_user("volunteer", password="the-right-passphrase-1")
    statuses = [client.post(reverse("api-token"), {"username": "volunteer", "password": "wrong"}).status_code
                for _ in range(6)]
    assert statuses == [400] * 5 + [429]
    again = client.post(reverse("api-token"), {"username": "volunteer", "password": "the-right-passphrase-1"})
    assert again.status_code == 429 and "Too many sign-in attempts" in again.json()["detail"]


def test_cookieless_reads_create_no_volunteer_and_no_session_until_the_first_classification(workflow):
    urls = [reverse("home"), reverse("classify", args=[workflow.pk]), reverse("me"),
            reverse("api-workflow-queue", args=[workflow.pk]), reverse("api-classifications")]
    for url in urls * 3:
        assert Client().get(url).status_code == 200, url
    assert not Volunteer.objects.exists() and not Session.objects.exists()
    client = Client()
    served = client.get(reverse("classify", args=[workflow.pk])).context["config"]["subject"]["id"]
    assert _classify(client, _body(workflow, Subject.objects.get(pk=served))).status_code == 201
    assert Volunteer.objects.count() == 1 and Session.objects.count() == 1
    queue = client.get(reverse("api-workflow-queue", args=[workflow.pk]), {"n": 10}).json()["subjects"]
    assert served not in [s["id"] for s in queue]  # the classified one is never served again


def test_expired_sessions_are_cleared_by_the_beat_task():
    now = timezone.now()
    Session.objects.create(session_key="old" * 10, session_data="", expire_date=now - dt.timedelta(days=1))
    Session.objects.create(session_key="new" * 10, session_data="", expire_date=now + dt.timedelta(days=1))
    from django.conf import settings

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "zooapp.tasks.sessions_clear" in scheduled
    assert tasks.sessions_clear.delay().get() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["new" * 10]


@pytest.mark.parametrize("depth", [30, 5000])
def test_a_deeply_nested_json_body_gets_a_400_and_stores_nothing(client, workflow, depth):
    body = json.dumps(_body(workflow, workflow.subjects.first()))
    nested = body[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}"
    response = client.post(reverse("api-classifications"), nested, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than" in response.json()["detail"]
    assert not Classification.objects.exists()


def test_an_idempotency_key_reused_with_another_body_gets_422_and_the_same_body_the_stored_row(client, workflow):
    subject = workflow.subjects.filter(is_gold=False).first()
    body = _body(workflow, subject)
    first = _classify(client, body)
    assert first.status_code == 201
    changed = _classify(client, {**body, "annotations": annotations_for("artifact")})
    assert changed.status_code == 422 and "idempotency key" in changed.json()["detail"]
    other_subject = _classify(client, {**body, "subject": workflow.subjects.exclude(pk=subject.pk).first().pk})
    assert other_subject.status_code == 422
    retry = _classify(client, body)
    assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
    assert Classification.objects.get().annotations[0]["value"] == "smooth"


def test_gold_leaves_the_queue_after_its_share_and_is_reported_retired_like_any_subject(client, workflow):
    gold = workflow.subjects.filter(is_gold=True).first()
    workflow.gold_rate_start = workflow.gold_rate_end = 1.0
    workflow.save(update_fields=["gold_rate_start", "gold_rate_end"])
    Subject.objects.filter(pk=gold.pk).update(n_classifications=workflow.rules.max_classifications)
    queue = client.get(reverse("api-workflow-queue", args=[workflow.pk]), {"n": 10}).json()["subjects"]
    assert gold.pk not in [s["id"] for s in queue] and len(queue) == 5
    saved = _classify(client, _body(workflow, gold))
    assert saved.status_code == 201 and saved.json()["subject_retired"] is True


def test_synthesized_gold_subjects_are_not_the_first_ids(admin_user, tmp_path):
    from zooapp.models import SubjectSet
    from zooapp.services.subjects import subject_set_synthesize

    workflow = make_workflow(owner=admin_user, n_subjects=0, n_gold=0)
    subject_set_synthesize(workflow=workflow, name="synth", n=12, seed=3, out_dir=tmp_path, n_gold=3, progress=False)
    ids = list(SubjectSet.objects.get(name="synth").subjects.order_by("id").values_list("is_gold", flat=True))
    assert sum(ids) == 3 and ids[:3] != [True, True, True]


def test_gold_feedback_is_rate_limited_per_address(client, workflow, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "feedback", "1/hour")
    golds = list(workflow.subjects.filter(is_gold=True))
    ids = [_classify(client, _body(workflow, g)).json()["id"] for g in golds]
    first = client.get(reverse("api-classification-feedback", args=[ids[0]]))
    assert first.status_code == 200 and first.json()["gold"] is True
    second = Client().get(reverse("api-classification-feedback", args=[ids[1]]))  # a new session, same address
    assert second.status_code == 429


def test_feedback_is_only_for_ones_own_stored_classification(client, workflow):
    gold = workflow.subjects.filter(is_gold=True).first()
    saved = _classify(client, _body(workflow, gold)).json()["id"]
    assert Client().get(reverse("api-classification-feedback", args=[saved])).status_code == 404
    assert not Volunteer.objects.filter(classifications__isnull=True).exists()  # the stranger left no row


def test_every_page_carries_a_content_security_policy_without_inline_scripts(client, workflow):
    for url in [reverse("home"), reverse("classify", args=[workflow.pk]), reverse("login"), reverse("signup")]:
        page = client.get(url)
        policy = page["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy and "object-src 'none'" in policy
        for attrs, text in re.findall(r"<script\b([^>]*)>(.*?)</script>", page.content.decode(), flags=re.S):
            # json_script blocks are data the browser never runs; every other script is a file
            assert "src=" in attrs or 'type="application/json"' in attrs, (url, attrs)


def test_media_is_served_through_the_storage_backend_with_debug_off(client, workflow, settings):
    settings.DEBUG = False
    frame = workflow.subjects.first().frames.first()
    response = client.get(frame.image.url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == frame.image.open("rb").read()
    assert "sandbox" in response["Content-Security-Policy"]
    assert client.get("/media/../zooapp/settings.py").status_code == 404
    assert client.get("/media/subjects/none.png").status_code == 404


def test_live_aggregations_are_for_staff_and_finished_ones_are_public(client, workflow, admin_user):
    live, done = workflow.subjects.filter(is_gold=False)[:2]
    gold = workflow.subjects.filter(is_gold=True).first()
    Subject.objects.filter(pk__in=[done.pk, gold.pk]).update(status=Subject.Status.RETIRED)
    for subject in (live, done, gold):
        SubjectPosterior.objects.create(subject=subject, task="T0", labels=["smooth"],
                                        log_posterior=[0.0], vote_counts=[1], weighted_counts=[1.0])

    def seen(c):
        return {row["subject"] for row in c.get(reverse("aggregation-list")).json()["results"]}

    assert seen(client) == {done.pk}
    volunteer = get_user_model().objects.create_user("someone", password="a-long-passphrase-9")
    client.force_login(volunteer)
    assert seen(client) == {done.pk}
    workflow.project.owner = volunteer  # the project's own staff follow the live results
    workflow.project.save(update_fields=["owner"])
    assert seen(client) == {live.pk, done.pk, gold.pk}
