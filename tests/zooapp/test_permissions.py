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
from zooapp.models import Classification, Export, Membership, Volunteer, Workflow
from zooapp.services.classifications import classification_create
from zooapp.services.projects import membership_set, project_create
from zooapp.services.tags import tag_add

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
    # The project builder: the index is anyone signed in's own list; the rest needs a role on the project.
    "favicon": "public", "media": "public",
    "builder-index": "login", "builder-project": "staff", "builder-workflow": "staff", "builder-preview": "staff",
    "api-builder-projects": "login", "api-builder-validate": "login", "api-builder-members": "staff",
    "api-builder-visibility": "staff", "api-builder-workflows": "staff", "api-builder-draft": "staff",
    "api-builder-import": "staff", "api-builder-diff": "staff", "api-builder-publish": "staff",
    "api-builder-status": "staff", "api-builder-preview-classifications": "staff",
    "api-builder-preview-queue": "staff",
    # Tags: a galaxy's page, its tags and the search are public (for open projects); deleting is the author's
    # own; moderation needs the moderate right (owners, collaborators, moderators).
    "subject-page": "public", "tag-search": "public", "api-subject-tags": "public", "api-subject-questions": "public", "api-tag": "own",
    "api-tag-search": "public", "moderation-index": "login", "tag-moderation": "staff",
    "api-tag-moderation": "staff", "expert-gold": "staff",
    # Learned representations (#13): more like this follows the subject's visibility; anomaly sessions are their
    # owner's; new questions need a role on the project.
    "research-similar": "public", "api-subject-similar": "public", "research-anomaly-index": "login",
    "research-anomaly": "own", "api-anomaly-sessions": "login", "api-anomaly-session": "own",
    "api-anomaly-labels": "own", "api-anomaly-export": "own", "api-workflow-questions": "staff",
    "api-question-labels": "staff", "api-question-fit": "staff", "api-question-export": "staff",
    "research-questions": "login", "research-question-volunteers": "staff",
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
    tag = tag_add(volunteer=mine, subject=subject, text="#ring")[0]
    return {"users": users, "workflow": workflow, "subject": subject, "classification": classification,
            "export": export, "media": frame.image.name, "tag": tag}


def url_for(name: str, route: str, pattern: URLPattern, world) -> str:
    pk_for = {"project": world["workflow"].project_id, "api-builder-members": world["workflow"].project_id,
              "api-builder-visibility": world["workflow"].project_id,
              "api-builder-workflows": world["workflow"].project_id, "workflow": world["workflow"].pk,
              "subjectset": world["subject"].subject_set_id, "subject": world["subject"].pk,
              "modelversion": 1, "export": world["export"].pk,
              "api-classification-feedback": world["classification"].pk,
              "api-subject-favourite": world["subject"].pk, "api-subject-tags": world["subject"].pk,
              "api-subject-questions": world["subject"].pk,
              "api-tag": world["tag"].pk, "api-tag-moderation": world["tag"].pk}
    values = {"workflow_id": world["workflow"].pk, "subject_id": world["subject"].pk, "project_id": world["workflow"].project_id, "export_id": world["export"].pk, "format": "json", "session_id": 1, "question_id": 1,
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


def test_the_dashboard_link_is_shown_only_to_people_who_run_a_project(world):
    for persona in PERSONAS:
        html = client_for(persona, world).get(reverse("home")).content.decode()
        assert ('href="/dashboard/"' in html) == (persona in STAFF), persona


@pytest.fixture
def two_projects(db):
    User = get_user_model()
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    a, b = make_workflow(owner=alice, n_subjects=1, n_gold=0), make_workflow(owner=bob, n_subjects=1, n_gold=0)
    carol = User.objects.create_user("carol")
    membership_set(project=a.project, username="carol", role="collaborator")
    return {"a": a, "b": b, "carol": carol, "alice": alice}


def _as(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_a_collaborator_on_project_a_has_no_rights_on_project_b(two_projects):
    carol = _as(two_projects["carol"])
    a, b = two_projects["a"], two_projects["b"]
    for name in ["builder-workflow", "dashboard", "dashboard-subjects"]:
        assert carol.get(reverse(name, args=[a.pk])).status_code == 200, name
        assert carol.get(reverse(name, args=[b.pk])).status_code in {403, 404}, name
    refused = carol.post(reverse("api-builder-status", args=[b.pk]), {"status": "paused"},
                         content_type="application/json")
    assert refused.status_code == 404 and Workflow.objects.get(pk=b.pk).status == "active"
    assert carol.post(reverse("api-builder-status", args=[a.pk]), {"status": "paused"},
                      content_type="application/json").status_code == 200


def test_a_collaborator_cannot_give_roles_but_the_owner_can(two_projects):
    a = two_projects["a"]
    url = reverse("api-builder-members", args=[a.project_id])
    body = {"username": "bob", "role": "expert"}
    assert _as(two_projects["carol"]).post(url, body, content_type="application/json").status_code == 403
    assert _as(two_projects["alice"]).post(url, body, content_type="application/json").status_code == 201
    assert Membership.objects.get(project=a.project, user__username="bob").role == "expert"


@pytest.mark.parametrize("role, builds, gold", [("expert", False, True), ("moderator", False, False)])
def test_experts_and_moderators_see_the_builder_but_cannot_build(two_projects, role, builds, gold):
    from zooapp.access import project_can
    a = two_projects["a"]
    membership_set(project=a.project, username="carol", role=role)
    carol = two_projects["carol"]
    assert project_can(carol, a.project, "build") is builds and project_can(carol, a.project, "gold") is gold
    assert _as(carol).get(reverse("builder-workflow", args=[a.pk])).status_code == 200
    assert _as(carol).put(reverse("api-builder-draft", args=[a.pk]), {"tree": {}},
                          content_type="application/json").status_code == 403


def test_an_unknown_role_is_refused_with_the_roles_named_and_nothing_stored(two_projects):
    a = two_projects["a"]
    response = _as(two_projects["alice"]).post(reverse("api-builder-members", args=[a.project_id]),
                                               {"username": "bob", "role": "boss"}, content_type="application/json")
    assert response.status_code == 400 and "owner, collaborator, expert, moderator" in response.json()["detail"]
    assert not Membership.objects.filter(user__username="bob").exists()


def test_a_new_project_is_private_so_its_workflows_stay_off_the_home_page(db):
    owner = get_user_model().objects.create_user("pia")
    project = project_create(owner=owner, name="Secret")
    workflow = make_workflow(owner=owner, n_subjects=1, n_gold=0)
    workflow.project = project
    workflow.save(update_fields=["project"])
    assert Client().get(reverse("classify", args=[workflow.pk])).status_code == 404


# The pages behind one project right each, with the URL argument they take (a workflow or a project id).
RIGHT_PAGES = {"expert-gold": ("gold", "workflow"), "api-gold-answers": ("gold", "workflow"),
               "tag-moderation": ("moderate", "project")}


@pytest.mark.parametrize("role", ["owner", "collaborator", "expert", "moderator"])
def test_each_role_reaches_exactly_the_pages_of_its_rights_and_none_on_another_project(two_projects, role):
    from zooapp.access import ROLE_RIGHTS
    a, b, carol = two_projects["a"], two_projects["b"], two_projects["carol"]
    if role == "owner":
        a.project.owner = carol
        a.project.save(update_fields=["owner"])
    else:
        membership_set(project=a.project, username="carol", role=role)
    client = _as(carol)
    for name, (right, arg) in RIGHT_PAGES.items():
        on_a, on_b = (a.pk, b.pk) if arg == "workflow" else (a.project_id, b.project_id)
        expected = 200 if right in ROLE_RIGHTS[role] else 403
        assert client.get(reverse(name, args=[on_a])).status_code == expected, (role, name)
        assert client.get(reverse(name, args=[on_b])).status_code in {403, 404}, (role, name)


def test_an_expert_stores_a_gold_answer_and_a_moderator_cannot(two_projects):
    from zooapp.models import GoldAnswer
    a = two_projects["a"]
    subject = a.subjects.get()
    membership_set(project=a.project, username="carol", role="expert")
    membership_set(project=a.project, username="bob", role="moderator")
    url = reverse("expert-gold", args=[a.pk])
    body = {"external_id": subject.external_id, "answer": "T0:featured"}
    assert _as(get_user_model().objects.get(username="bob")).post(url, body).status_code == 403
    assert not GoldAnswer.objects.exists()
    response = _as(two_projects["carol"]).post(url, body, follow=True)
    assert "Gold answer stored" in response.content.decode()
    assert GoldAnswer.objects.get().value == "featured" and a.subjects.get().is_gold


def test_a_moderator_hides_a_tag_but_an_expert_cannot(two_projects):
    from zooapp.services.tags import tag_add
    a = two_projects["a"]
    subject = a.subjects.get()
    volunteer = Volunteer.objects.create(name="vera")
    classification_create(volunteer=volunteer, subject_id=subject.pk, workflow_version_id=a.current_version.pk,
                          annotations=annotations_for(), idempotency_key=uuid.uuid4())
    tag = tag_add(volunteer=volunteer, subject=subject, text="#spam")[0]
    membership_set(project=a.project, username="carol", role="expert")
    membership_set(project=a.project, username="bob", role="moderator")
    url = reverse("api-tag-moderation", args=[tag.pk])
    assert _as(two_projects["carol"]).post(url, {"action": "hide"}, content_type="application/json").status_code == 403
    bob = _as(get_user_model().objects.get(username="bob"))
    assert bob.post(url, {"action": "hide"}, content_type="application/json").status_code == 200


@pytest.fixture
def three_visibilities(db):
    """One workflow (with a retired galaxy) in a public, a beta and a private project, all owned by olga."""
    from zooapp.models import Project, Subject, SubjectPosterior

    olga = get_user_model().objects.create_user("olga")
    made = {}
    for visibility in ["public", "beta", "private"]:
        workflow = make_workflow(owner=olga, n_subjects=1, n_gold=0)
        Project.objects.filter(pk=workflow.project_id).update(visibility=visibility)
        subject = Subject.objects.get(workflow=workflow)
        Subject.objects.filter(pk=subject.pk).update(status="retired")
        SubjectPosterior.objects.create(subject=subject, task="T0", labels=["a", "b"], vote_counts=[1, 0],
                                        log_posterior=[0.0, -5.0], weighted_counts=[1.0, 0.0])
        made[visibility] = workflow
    return olga, made


def _listed(client, name: str) -> set[int]:
    body = client.get(reverse(name)).json()
    return {row["id"] for row in (body["results"] if isinstance(body, dict) else body)}


def test_the_read_api_lists_public_projects_reaches_beta_ones_by_id_and_hides_private_ones(three_visibilities):
    olga, made = three_visibilities
    public, beta, private = made["public"], made["beta"], made["private"]
    for client in [Client(), _as(get_user_model().objects.create_user("stranger"))]:
        assert public.pk in _listed(client, "workflow-list")
        assert not {beta.pk, private.pk} & _listed(client, "workflow-list")
        assert public.project_id in _listed(client, "project-list")
        assert not {beta.project_id, private.project_id} & _listed(client, "project-list")
        private_subjects = set(private.subjects.values_list("id", flat=True))
        assert not private_subjects & _listed(client, "subject-list")
        assert client.get(reverse("workflow-detail", args=[beta.pk])).status_code == 200
        for name, pk in [("workflow-detail", private.pk), ("project-detail", private.project_id),
                         ("subject-detail", min(private_subjects))]:
            assert client.get(reverse(name, args=[pk])).status_code == 404, name
        posteriors = client.get(reverse("aggregation-list")).json()
        rows = posteriors["results"] if isinstance(posteriors, dict) else posteriors
        assert min(private_subjects) not in {row["subject"] for row in rows}
    team = _as(olga)
    assert {public.pk, beta.pk, private.pk} <= _listed(team, "workflow-list")
    assert team.get(reverse("subject-detail", args=[private.subjects.first().pk])).status_code == 200
