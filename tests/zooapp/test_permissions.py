"""Who may reach what: every URL the resolver knows, for five personas.

The URL list comes from the resolver itself, so a new endpoint fails
`test_every_endpoint_has_an_access_rule` until someone writes down who may use it.
"""
from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import annotations_for, make_workflow
from zooapp.models import Classification, Export, Volunteer
from zooapp.services.classifications import classification_create

pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "volunteer", "other_volunteer", "project_staff", "admin"]
STAFF = {"project_staff", "admin"}

# name -> who may use it. public: everyone; login: anyone signed in; staff: the project's staff and admins;
# admin: Django admins only; own: everyone, but each sees only their own rows.
ACCESS = {
    "home": "public", "classify": "public", "me": "public", "signup": "public", "login": "public",
    "logout": "public", "api-classifications": "own", "api-classification-feedback": "own",
    "api-workflow-queue": "public", "api-subject-favourite": "public", "api-token": "public",
    "admin:login": "public", "api-schema": "public", "api-docs": "public", "api-root": "public", "unnamed": "public",
    "project-list": "public", "project-detail": "public", "workflow-list": "public", "workflow-detail": "public",
    "subjectset-list": "public", "subjectset-detail": "public", "subject-list": "public",
    "subject-detail": "public", "aggregation-list": "public", "modelversion-list": "public",
    "modelversion-detail": "public",
    "dashboard-index": "login", "dashboard": "staff", "dashboard-counts": "staff", "dashboard-rules": "staff",
    "dashboard-reapply": "staff", "dashboard-export": "staff", "dashboard-subjects": "staff",
    "dashboard-gold": "staff", "dashboard-whatif": "staff", "dashboard-export-download": "staff",
    "api-subject-uploads": "staff",
    "api-gold-answers": "staff", "api-truth": "staff", "export-list": "own", "export-detail": "staff",
    "export-download": "staff",
}
DENIED = {302, 403, 404, 405}  # 302: to the login page; 405: a write-only URL refuses a GET before anything else


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), (f"{namespace}:" if namespace else "") + (p.name or "unnamed"), p


def endpoints():
    return list(_walk(get_resolver().url_patterns))


def rule_for(name: str) -> str:
    return ACCESS.get(name) or ("admin" if name.startswith("admin:") else "unclassified")


@pytest.fixture
def world(db):
    User = get_user_model()
    users = {
        "volunteer": User.objects.create_user("vera"), "other_volunteer": User.objects.create_user("otto"),
        "project_staff": User.objects.create_user("stella"),
        "admin": User.objects.create_superuser("ada", "ada@example.org", None),
    }
    owner = User.objects.create_user("owen")
    workflow = make_workflow(owner=owner, n_subjects=3, n_gold=1)
    workflow.project.staff.add(users["project_staff"])
    mine = Volunteer.objects.create(user=users["volunteer"], name="vera")
    subject = workflow.subjects.filter(is_gold=False).first()
    classification = classification_create(
        volunteer=mine, subject_id=subject.pk, workflow_version_id=workflow.current_version.pk,
        annotations=annotations_for(), idempotency_key=uuid.uuid4()).classification
    export = Export.objects.create(workflow=workflow, kind="catalogue", format="csv", requested_by=owner)
    frame = subject.frames.get()
    return {"users": users, "workflow": workflow, "subject": subject, "classification": classification,
            "export": export, "media": frame.image.name}


def url_for(name: str, route: str, pattern: URLPattern, world) -> str:
    pk_for = {"project": world["workflow"].project_id, "workflow": world["workflow"].pk,
              "subjectset": world["subject"].subject_set_id, "subject": world["subject"].pk,
              "modelversion": 1, "export": world["export"].pk,
              "api-classification-feedback": world["classification"].pk,
              "api-subject-favourite": world["subject"].pk}
    values = {"workflow_id": world["workflow"].pk, "export_id": world["export"].pk, "format": "json",
              "path": world["media"], "object_id": "1", "app_label": "zooapp", "content_type_id": 1,
              "url": "nowhere/"}
    if pattern.name is None:  # unnamed: fill the route in by hand
        filled = re.sub(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m[1] or m[2]]), route)
        return "/" + filled.replace("^", "").replace("$", "")
    params = list(pattern.pattern.regex.groupindex) or list(getattr(pattern.pattern, "converters", {}))
    kwargs = {p: values.get(p) for p in params}
    if "pk" in params:
        kwargs["pk"] = pk_for.get(name) or pk_for.get(name.split("-")[0]) or world["workflow"].pk
    return reverse(name, kwargs=kwargs)


def client_for(persona: str, world) -> Client:
    client = Client(raise_request_exception=False)  # a 500 is a finding to list, not a crash
    if persona != "anonymous":
        client.force_login(world["users"][persona])
    return client


def test_every_endpoint_has_an_access_rule():
    unclassified = sorted({name for _, name, _ in endpoints() if rule_for(name) == "unclassified"})
    assert not unclassified, f"add these URL names to ACCESS in {__file__}: {unclassified}"


def test_the_matrix_of_personas_and_endpoints_holds(world):
    clients = {persona: client_for(persona, world) for persona in PERSONAS}
    failures = []
    for route, name, pattern in endpoints():
        url = url_for(name, route, pattern, world)
        for persona, client in clients.items():
            status = client.get(url).status_code
            problem = _check(rule_for(name), persona, status)
            if problem:
                failures.append(f"GET {url} ({name}) as {persona}: {status}, {problem}")
    assert not failures, "\n".join(failures)


def _check(rule: str, persona: str, status: int) -> str | None:
    if status >= 500:
        return "server error"
    allowed = {"public": True, "own": True, "login": persona != "anonymous", "staff": persona in STAFF,
               "admin": persona == "admin"}[rule]
    if not allowed and status not in DENIED:
        return "should be refused"
    if not allowed and status == 302 and persona != "anonymous" and rule != "admin":
        return "a signed-in user should get 403 or 404, not a login redirect"
    return None


@pytest.mark.parametrize("name", ["dashboard-rules", "dashboard-reapply", "dashboard-export", "dashboard-gold",
                                  "api-subject-uploads", "api-gold-answers"])
def test_staff_only_writes_are_refused_to_everyone_else(world, name):
    url = reverse(name, args=[world["workflow"].pk])
    for persona in ["anonymous", "volunteer", "other_volunteer"]:
        response = client_for(persona, world).post(url, {})
        assert response.status_code in {302, 403, 404}, (persona, response.status_code)


def test_a_volunteer_sees_only_their_own_classifications_and_feedback(world):
    url = reverse("api-classification-feedback", args=[world["classification"].pk])
    assert client_for("volunteer", world).get(url).status_code == 200
    assert client_for("other_volunteer", world).get(url).status_code == 404
    assert client_for("anonymous", world).get(url).status_code == 404
    listed = client_for("other_volunteer", world).get(reverse("api-classifications")).json()
    assert listed["results"] == []
    assert Classification.objects.count() == 1


def test_exports_are_listed_only_to_the_projects_staff(world):
    for persona, expected in [("volunteer", 0), ("project_staff", 1), ("admin", 1)]:
        listed = client_for(persona, world).get(reverse("export-list")).json()
        assert listed["count"] == expected, persona
