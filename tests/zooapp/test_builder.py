"""The project builder's pages and API: projects, drafts, publishing, the preview and imports."""
from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.conftest import make_workflow
from tests.zooapp.test_workflows import GZ2, THREE, ZOONIVERSE_CSV
from zooapp.models import Project, Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(db):
    user = get_user_model().objects.create_user("rosa")
    client = Client()
    client.force_login(user)
    return client


def _json(client, method, url, body=None):
    return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json")


def _project(client) -> Project:
    response = _json(client, "post", reverse("api-builder-projects"), {"name": "Clumps"})
    assert response.status_code == 201
    return Project.objects.get(pk=response.json()["id"])


def test_a_researcher_creates_a_project_on_the_builder_page_and_owns_it(researcher):
    response = researcher.post(reverse("builder-index"), {"name": "Tidal tails", "visibility": "beta"})
    project = Project.objects.get(name="Tidal tails")
    assert response.status_code == 302 and project.owner.username == "rosa" and project.visibility == "beta"
    assert "Tidal tails" in researcher.get(reverse("builder-index")).content.decode()


def test_the_api_makes_a_workflow_from_a_valid_tree_and_refuses_a_bad_one(researcher):
    project = _project(researcher)
    url = reverse("api-builder-workflows", args=[project.pk])
    bad = {**THREE, "tasks": [{**THREE["tasks"][0], "answers": THREE["tasks"][0]["answers"][:1]}]}
    refused = _json(researcher, "post", url, {"name": "Bad", "tree": bad})
    assert refused.status_code == 400 and "needs at least two answers" in refused.json()["detail"]
    assert not Workflow.objects.exists()
    made = _json(researcher, "post", url, {"name": "Clumps", "tree": THREE, "publish": True})
    assert made.status_code == 201 and Workflow.objects.get(pk=made.json()["id"]).current_version.number == 1


def test_the_validate_endpoint_lists_problems_and_stores_nothing(researcher):
    tree = {"first_task": "T0", "tasks": [THREE["tasks"][0], {**THREE["tasks"][2], "key": "T0"}]}
    problems = _json(researcher, "post", reverse("api-builder-validate"), {"tree": tree}).json()["problems"]
    assert problems == ["two tasks have the key 'T0': each task needs its own key"]


def test_editing_publishing_and_launching_through_the_api(researcher):
    project = _project(researcher)
    workflow = Workflow.objects.get(pk=_json(researcher, "post", reverse("api-builder-workflows", args=[project.pk]),
                                             {"name": "Clumps", "tree": THREE}).json()["id"])
    assert _json(researcher, "put", reverse("api-builder-draft", args=[workflow.pk]), {"tree": THREE}).status_code == 200
    diff = researcher.get(reverse("api-builder-diff", args=[workflow.pk])).json()
    assert {c["task"] for c in diff["changes"]} == {"T0", "T1", "T2"} and diff["version"] == 0
    assert _json(researcher, "post", reverse("api-builder-publish", args=[workflow.pk])).json()["version"] == 1
    launch = _json(researcher, "post", reverse("api-builder-status", args=[workflow.pk]), {"status": "active"})
    assert launch.status_code == 409 and "upload subjects" in launch.json()["detail"]
    bad = _json(researcher, "post", reverse("api-builder-status", args=[workflow.pk]), {"status": "running"})
    assert bad.status_code == 400 and "draft, active, paused, finished" in bad.json()["detail"]


def _preview_config(client, workflow) -> dict:
    html = client.get(reverse("builder-preview", args=[workflow.pk])).content.decode()
    return json.loads(re.search(r'id="classify-config" type="application/json">(.*?)</script>', html, re.S)[1])


def test_the_preview_is_the_classify_page_rendering_the_draft_and_saves_nothing(researcher):
    project = _project(researcher)
    workflow = Workflow.objects.get(pk=_json(researcher, "post", reverse("api-builder-workflows", args=[project.pk]),
                                             {"name": "Clumps", "tree": THREE}).json()["id"])
    config = _preview_config(researcher, workflow)
    assert set(config["workflow"]["tree"]["tasks"]) == {"T0", "T1", "T2"} and config["subject"]["width"] == 192
    url = config["urls"]["classifications"]
    good = _json(researcher, "post", url, {"annotations": [{"task": "T0", "value": "featured"},
                                                           {"task": "T2", "value": []}]})
    wrong = _json(researcher, "post", url, {"annotations": [{"task": "T0", "value": "round"}]})
    assert good.status_code == 200 and wrong.status_code == 400 and "Preview" in wrong.json()["detail"]
    assert researcher.get(config["urls"]["queue"]).json()["finished"] is True
    assert not WorkflowVersion.objects.exists()


def test_the_gz2_tree_imported_in_the_builder_renders_all_eleven_tasks_on_the_classify_page(researcher):
    project = _project(researcher)
    workflow = Workflow.objects.get(pk=_json(researcher, "post", reverse("api-builder-workflows", args=[project.pk]),
                                             {"name": "GZ2"}).json()["id"])
    upload = SimpleUploadedFile("gz2_tree.json", GZ2.read_bytes(), content_type="application/json")
    imported = researcher.post(reverse("api-builder-import", args=[workflow.pk]), {"tree": upload})
    assert imported.status_code == 200 and imported.json()["n_tasks"] == 11
    assert len(_preview_config(researcher, workflow)["workflow"]["tree"]["tasks"]) == 11


def test_a_zooniverse_workflows_csv_imports_into_the_draft(researcher):
    project = _project(researcher)
    workflow = Workflow.objects.get(pk=_json(researcher, "post", reverse("api-builder-workflows", args=[project.pk]),
                                             {"name": "Zoo"}).json()["id"])
    upload = SimpleUploadedFile("workflows.csv", ZOONIVERSE_CSV.read_bytes(), content_type="text/csv")
    imported = researcher.post(reverse("api-builder-import", args=[workflow.pk]),
                               {"tree": upload, "zooniverse_workflow": "10"})
    assert imported.status_code == 200, imported.json()
    assert Workflow.objects.get(pk=workflow.pk).draft_tree["first_task"] == "T0"


def test_a_beta_project_is_reached_by_its_link_but_not_listed(db):
    owner = get_user_model().objects.create_user("bea")
    workflow = make_workflow(owner=owner, n_subjects=1, n_gold=0)
    Project.objects.filter(pk=workflow.project_id).update(visibility="beta")
    assert Client().get(reverse("classify", args=[workflow.pk])).status_code == 200
    assert f"/classify/{workflow.pk}/" not in Client().get(reverse("home")).content.decode()


def test_the_editor_page_carries_the_tree_and_the_api_urls(researcher):
    project = _project(researcher)
    workflow = Workflow.objects.get(pk=_json(researcher, "post", reverse("api-builder-workflows", args=[project.pk]),
                                             {"name": "Clumps", "tree": THREE}).json()["id"])
    html = researcher.get(reverse("builder-workflow", args=[workflow.pk])).content.decode()
    config = json.loads(re.search(r'id="builder-config" type="application/json">(.*?)</script>', html, re.S)[1])
    assert set(config["tree"]["tasks"]) == {"T0", "T1", "T2"}
    assert config["urls"]["publish"] == reverse("api-builder-publish", args=[workflow.pk])
