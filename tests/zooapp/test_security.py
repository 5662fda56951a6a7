"""Security: no answers before answering, CSRF everywhere a session writes, rate limits,
production settings that pass `check --deploy`, secrets from the environment, hashed passwords."""
from __future__ import annotations

import ast
import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework.throttling import ScopedRateThrottle

from tests.conftest import annotations_for, make_workflow
from zooapp.models import Classification, GoldAnswer, SubjectTruth

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_limits")]
ROOT = Path(__file__).resolve().parents[2]
GOLD_CANARY = "canary-gold-answer-7f3e"
TRUTH_CANARY = "canary-simulated-truth-91c2"


@pytest.fixture
def canaried(admin_user):
    """A workflow whose gold answers and simulated truth carry strings that must never reach a volunteer."""
    workflow = make_workflow(owner=admin_user, n_subjects=4, n_gold=2)
    workflow.gold_rate_start = workflow.gold_rate_end = 1.0  # serve the gold subjects first
    workflow.save(update_fields=["gold_rate_start", "gold_rate_end"])
    GoldAnswer.objects.filter(subject__workflow=workflow).update(value=GOLD_CANARY)
    for subject in workflow.subjects.all():
        SubjectTruth.objects.create(subject=subject, values={"T0": TRUTH_CANARY})
    return workflow


def _assert_clean(body: bytes | str, where: str) -> None:
    text = body.decode() if isinstance(body, bytes) else body
    for canary in (GOLD_CANARY, TRUTH_CANARY, "#hidden", "secret"):
        assert canary not in text, f"{canary!r} leaked in {where}"


def test_gold_answers_and_truth_never_reach_a_volunteer_before_they_answer(client, canaried):
    page = client.get(reverse("classify", args=[canaried.pk]))
    assert page.status_code == 200
    _assert_clean(page.content, "the classify page")
    queue = client.get(reverse("api-workflow-queue", args=[canaried.pk]), {"n": 10})
    assert len(queue.json()["subjects"]) == 4  # a visitor who never wrote is not recorded: every subject
    _assert_clean(queue.content, "the queue API")
    subjects = [s.pk for s in canaried.subjects.all()]
    for url in [reverse("subject-list"), reverse("workflow-list"), reverse("workflow-detail", args=[canaried.pk]),
                reverse("aggregation-list"), reverse("api-classifications"), reverse("project-list")]:
        _assert_clean(client.get(url).content, url)
    for pk in subjects:
        _assert_clean(client.get(reverse("subject-detail", args=[pk])).content, f"subject {pk}")
    for url in [reverse("api-gold-answers", args=[canaried.pk]), reverse("api-truth", args=[canaried.pk])]:
        assert client.get(url).status_code in (403, 404)


def test_gold_feedback_arrives_only_with_the_volunteers_own_answer(client, canaried):
    gold = canaried.subjects.filter(is_gold=True).first()
    body = {"subject": gold.pk, "workflow_version": canaried.current_version.pk,
            "idempotency_key": str(uuid.uuid4()), "annotations": annotations_for()}
    saved = client.post(reverse("api-classifications"), body, content_type="application/json")
    assert saved.status_code == 201
    _assert_clean(saved.content, "the classification response")
    feedback = client.get(reverse("api-classification-feedback", args=[saved.json()["id"]])).json()
    assert feedback["expected"] == {"T0": GOLD_CANARY}


def _forms(html: str) -> list[str]:
    return re.findall(r"<form\b[^>]*method=\"post\"[^>]*>.*?</form>", html, flags=re.S | re.I)


def test_every_post_form_on_every_page_carries_a_csrf_token(client, canaried, admin_user):
    pages = [reverse("signup"), reverse("login"), reverse("home"), reverse("classify", args=[canaried.pk])]
    staff_pages = [reverse("dashboard", args=[canaried.pk]), reverse("dashboard-subjects", args=[canaried.pk]),
                   reverse("dashboard-whatif", args=[canaried.pk]), reverse("me")]
    forms = [(url, form) for url in pages for form in _forms(client.get(url).content.decode())]
    client.force_login(admin_user)
    forms += [(url, form) for url in staff_pages for form in _forms(client.get(url).content.decode())]
    assert len(forms) >= 6
    for url, form in forms:
        assert "csrfmiddlewaretoken" in form, f"a form on {url} has no CSRF token"


def _writes(workflow, subject) -> list[tuple[str, dict, str]]:
    classification = {"subject": subject.pk, "workflow_version": workflow.current_version.pk,
                      "idempotency_key": str(uuid.uuid4()), "annotations": annotations_for()}
    return [
        (reverse("api-classifications"), classification, "application/json"),
        (reverse("api-subject-favourite", args=[subject.pk]), {}, "application/json"),
        (reverse("export-list"), {"workflow": workflow.pk, "kind": "catalogue", "format": "csv"}, "application/json"),
        (reverse("dashboard-rules", args=[workflow.pk]), {"task": "T0"}, "application/x-www-form-urlencoded"),
        (reverse("dashboard-reapply", args=[workflow.pk]), {}, "application/x-www-form-urlencoded"),
        (reverse("dashboard-export", args=[workflow.pk]), {"kind": "catalogue", "format": "csv"},
         "application/x-www-form-urlencoded"),
        (reverse("logout"), {}, "application/x-www-form-urlencoded"),
    ]


def _post(client: Client, url: str, data: dict, content_type: str, **headers):
    if content_type == "application/json":
        return client.post(url, json.dumps(data), content_type=content_type, **headers)
    return client.post(url, data, **headers)


def test_session_writes_without_a_csrf_token_are_refused_and_store_nothing(canaried, admin_user):
    subject = canaried.subjects.filter(is_gold=False).first()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    for url, data, content_type in _writes(canaried, subject):
        response = _post(client, url, data, content_type)
        assert response.status_code == 403, (url, response.status_code)
        assert "CSRF" in response.content.decode(), url
    assert not Classification.objects.exists() and not canaried.exports.exists()
    assert client.get(reverse("me")).context["user"].is_authenticated  # the logout was refused too


def test_the_same_writes_pass_with_the_token_the_page_handed_out(canaried, admin_user):
    subject = canaried.subjects.filter(is_gold=False).first()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    client.get(reverse("classify", args=[canaried.pk]))  # sets the csrftoken cookie, as for a browser
    token = client.cookies["csrftoken"].value
    url, data, content_type = _writes(canaried, subject)[0]
    assert _post(client, url, data, content_type, HTTP_X_CSRFTOKEN=token).status_code == 201


def test_classifying_too_fast_is_answered_429_with_a_message(client, canaried, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "classify", "3/min")
    subjects = list(canaried.subjects.order_by("id"))
    statuses = []
    for subject in subjects:
        body = {"subject": subject.pk, "workflow_version": canaried.current_version.pk,
                "idempotency_key": str(uuid.uuid4()), "annotations": annotations_for()}
        response = client.post(reverse("api-classifications"), body, content_type="application/json")
        statuses.append(response.status_code)
    assert statuses == [201, 201, 201, 429]
    assert "throttled" in response.json()["detail"].lower() and "available in" in response.json()["detail"]
    assert Classification.objects.count() == 3


def test_signing_up_too_often_is_answered_429_with_a_message(client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "signup": "2/hour"}}
    form = {"username": "", "password1": "x", "password2": "y"}  # invalid: counted, but nothing is hashed
    statuses = [client.post(reverse("signup"), form).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    assert "Too many sign-ups" in client.post(reverse("signup"), form).content.decode()
    assert not get_user_model().objects.exists()


def test_passwords_are_stored_hashed_by_django(client):
    password = "a-long-volunteer-passphrase-42"
    response = client.post(reverse("signup"), {"username": "galaxyfan", "password1": password,
                                               "password2": password})
    assert response.status_code == 302
    user = get_user_model().objects.get(username="galaxyfan")
    assert user.password.split("$")[0] in {"pbkdf2_sha256", "argon2", "bcrypt_sha256", "scrypt"}
    assert password not in user.password and user.check_password(password)


def _production_env(**extra: str) -> dict:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {**keep, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "zooloop.example.org",
            "ZOOLOOP_VAR_DIR": "/tmp/zooloop-deploy-check", **extra}


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings():
    out = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                         env=_production_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


@pytest.mark.parametrize("env, fragment", [
    ({}, "SECRET_KEY must be set"),
    ({"SECRET_KEY_FILE": "/nonexistent/secret"}, "SECRET_KEY_FILE"),
    ({"SECRET_KEY": secrets.token_urlsafe(50), "DEBUG": "maybe"}, "is not a boolean"),
])
def test_production_settings_fail_loudly_without_a_usable_secret(env, fragment):
    base = _production_env()
    base.pop("SECRET_KEY")
    out = subprocess.run([sys.executable, "-c", "import zooapp.settings"], cwd=ROOT, env={**base, **env},
                         capture_output=True, text=True)
    assert out.returncode != 0 and fragment in out.stderr, out.stderr[-500:]


def test_a_secret_can_come_from_a_file(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("from-a-file-" + secrets.token_urlsafe(40))
    env = _production_env(SECRET_KEY_FILE=str(path))
    out = subprocess.run([sys.executable, "-c", "import zooapp.settings as s; print(s.SECRET_KEY)"], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    assert out.stdout.strip() == path.read_text()


def _names_read_in_settings() -> set[str]:
    tree = ast.parse((ROOT / "zooapp" / "settings.py").read_text())
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("env_")
            and node.args and isinstance(node.args[0], ast.Constant)}


def test_env_example_lists_every_variable_the_settings_read():
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))
    read = _names_read_in_settings()
    assert len(read) > 20
    assert not read - listed, f"add to .env.example: {sorted(read - listed)}"
    assert not listed - read - {"SECRET_KEY_FILE"}, f"not read by settings.py: {sorted(listed - read)}"


def test_only_the_settings_module_reads_the_environment():
    # Handing a child process the environment (``{**os.environ, ...}``) passes it on without reading a setting.
    readers = [str(path.relative_to(ROOT)) for folder in ("zooapp", "aggregation")
               for path in (ROOT / folder).rglob("*.py")
               if re.search(r"(?<!\*\*)os\.environ\b(?!\.setdefault\(\"DJANGO_SETTINGS_MODULE\")|os\.getenv",
                            path.read_text())
               and path.name != "settings.py"]
    assert readers == []


def test_secrets_in_settings_come_from_the_environment():
    source = (ROOT / "zooapp" / "settings.py").read_text()
    assert re.search(r"^SECRET_KEY = env_secret\(\"SECRET_KEY\"", source, flags=re.M)
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        assert name in _names_read_in_settings()
    assert not re.search(r"(postgres(ql)?|redis|amqp)://[^\"'/]*:[^\"'@]+@", source), "a password in settings.py"
