"""Workflow building: tree checks, imports, drafts, diffs, versioned publishing and the life cycle."""
from __future__ import annotations

import copy
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.conftest import annotations_for, make_workflow
from zooapp.access import volunteer_workflows
from zooapp.errors import Conflict, ValidationFailed
from zooapp.models import Project, Volunteer, Workflow, WorkflowVersion
from zooapp.services.classifications import ClassificationRejected, classification_create
from zooapp.services.projects import project_create
from zooapp.services.workflows import (tree_check, tree_from_zooniverse, tree_load, tree_parse_json, tree_problems,
                                       workflow_diff, workflow_draft_create, workflow_draft_save, workflow_import,
                                       workflow_publish, workflow_status_set)

pytestmark = pytest.mark.django_db
DATA = Path("/work/shared/data")
GZ2 = DATA / "gz2_decision_tree" / "gz2_tree.json"
ZOONIVERSE_CSV = DATA / "zooniverse-export-examples" / "panoptes_workflow_export.csv"
THREE = {"first_task": "T0", "tasks": [
    {"key": "T0", "type": "single", "question": "Smooth?", "answers": [
        {"label": "smooth", "text": "Smooth", "next": "T1"}, {"label": "featured", "text": "Featured", "next": "T2"}]},
    {"key": "T1", "type": "multiple", "question": "Which?", "answers": [
        {"label": "round", "text": "Round"}, {"label": "cigar", "text": "Cigar"}], "next": None},
    {"key": "T2", "type": "drawing", "question": "Box the clumps",
     "tools": [{"label": "clump", "type": "rectangle", "min": 0, "max": 4}], "next": None}]}


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("rhea")


@pytest.fixture
def project(owner):
    return project_create(owner=owner, name="Clumpy galaxies")


def _problems_of(change) -> list[str]:
    tree = copy.deepcopy(THREE)
    change(tree)
    return tree_problems(tree)


def test_a_three_question_tree_with_branching_and_drawing_is_valid():
    assert tree_problems(THREE) == []
    assert set(tree_check(THREE)["tasks"]) == {"T0", "T1", "T2"}


@pytest.mark.parametrize("change, words", [
    (lambda t: t["tasks"][0]["answers"][1].update(next=None), "'T2' cannot be reached"),
    (lambda t: t["tasks"][1].update(next="T0"), "cycle"),
    (lambda t: t["tasks"][0]["answers"][0].update(label=""), "answer 1 of task 'T0' has no label"),
    (lambda t: t["tasks"][2].update(key="T1"), "two tasks have the key 'T1'"),
    (lambda t: t["tasks"][0]["answers"][1].update(label="smooth"), "repeats an answer label"),
    (lambda t: t["tasks"][0]["answers"][0].update(next="T9"), "unknown task 'T9'"),
])
def test_a_bad_tree_gets_a_message_naming_the_fault(change, words):
    problems = _problems_of(change)
    assert any(words in p for p in problems), problems


def test_json_with_a_repeated_key_is_refused():
    with pytest.raises(ValidationFailed, match="repeats the key 'T0'"):
        tree_parse_json('{"first_task": "T0", "tasks": {"T0": {}, "T0": {}}}')


def test_the_gz2_tree_imports_with_its_eleven_tasks():
    tree = tree_load(path=GZ2)
    assert len(tree["tasks"]) == 11 and tree["first_task"] == "T01"
    assert sum(len(t["answers"]) for t in tree["tasks"].values()) == 37


def test_a_zooniverse_workflows_csv_imports_as_a_tree():
    tree = tree_from_zooniverse(path=ZOONIVERSE_CSV, workflow_id=10)
    assert tree["first_task"] == "T0" and tree["tasks"]["T0"]["answers"][0]["next"] == "T1"


def test_a_new_project_is_private_and_its_creator_owns_it(project, owner):
    assert project.visibility == Project.Visibility.PRIVATE and project.owner == owner
    assert project.memberships.get().role == "owner"


def test_a_draft_is_not_offered_to_volunteers_until_published_and_launched(project):
    workflow = workflow_draft_create(project=project, name="Clumps", tree=THREE)
    assert workflow.versions.count() == 0 and workflow.status == "draft"
    with pytest.raises(Conflict, match="publish the tree before launching"):
        workflow_status_set(workflow=workflow, status="active")
    assert workflow_publish(workflow=workflow).number == 1
    assert not volunteer_workflows().filter(pk=workflow.pk).exists()


def test_an_invalid_draft_is_refused_and_the_old_one_kept(project):
    workflow = workflow_draft_create(project=project, name="Clumps", tree=THREE)
    bad = copy.deepcopy(THREE)
    bad["tasks"][1]["next"] = "T0"
    with pytest.raises(ValidationFailed, match="cycle"):
        workflow_draft_save(workflow=workflow, tree=bad)
    assert Workflow.objects.get(pk=workflow.pk).draft_tree["tasks"]["T1"]["next"] is None


def _voted_workflow(owner) -> Workflow:
    workflow = make_workflow(owner=owner, n_subjects=2, n_gold=0)
    volunteer = Volunteer.objects.create(name="v")
    classification_create(volunteer=volunteer, subject_id=workflow.subjects.first().pk,
                          workflow_version_id=workflow.current_version.pk, annotations=annotations_for("artifact"),
                          idempotency_key=uuid.uuid4())
    return workflow


def test_removing_an_answer_with_votes_asks_for_confirmation_and_stores_nothing(owner):
    workflow = _voted_workflow(owner)
    tree = copy.deepcopy(workflow.current_version.tree)
    tree["tasks"]["T0"]["answers"] = [a for a in tree["tasks"]["T0"]["answers"] if a["label"] != "artifact"]
    workflow_draft_save(workflow=workflow, tree=tree)
    diff = workflow_diff(workflow=workflow)
    assert diff["breaking"] and any("'artifact' (1 votes)" in c["message"] for c in diff["changes"])
    with pytest.raises(Conflict, match="stay with the earlier versions"):
        workflow_publish(workflow=workflow)
    assert workflow.versions.count() == 1


def test_a_confirmed_break_publishes_the_changed_question_under_a_new_key(owner):
    workflow = _voted_workflow(owner)
    old = workflow.current_version
    tree = copy.deepcopy(old.tree)
    tree["tasks"]["T0"]["answers"] = [a for a in tree["tasks"]["T0"]["answers"] if a["label"] != "artifact"]
    workflow_draft_save(workflow=workflow, tree=tree)
    version = workflow_publish(workflow=workflow, confirm=True)
    assert version.number == 2 and version.tree["first_task"] == "T0_v2" and "T0" not in version.tree["tasks"]
    assert old.classifications.count() == 1  # the old vote keeps its version
    assert Workflow.objects.get(pk=workflow.pk).draft_tree is None


def test_a_text_change_is_not_breaking_and_publishes_straight_away(owner):
    workflow = _voted_workflow(owner)
    tree = copy.deepcopy(workflow.current_version.tree)
    tree["tasks"]["T0"]["question"] = "Is it smooth?"
    workflow_draft_save(workflow=workflow, tree=tree)
    assert not workflow_diff(workflow=workflow)["breaking"]
    assert workflow_publish(workflow=workflow).tree["tasks"]["T0"]["question"] == "Is it smooth?"


def test_a_paused_or_finished_workflow_refuses_classifications_and_finished_is_for_good(owner):
    workflow = make_workflow(owner=owner, n_subjects=2, n_gold=0)
    volunteer = Volunteer.objects.create(name="v")
    for status in ("paused", "finished"):
        workflow_status_set(workflow=workflow, status=status)
        with pytest.raises(ClassificationRejected, match=f"is {status}, so it takes no classifications"):
            classification_create(volunteer=volunteer, subject_id=workflow.subjects.first().pk,
                                  workflow_version_id=workflow.current_version.pk, annotations=annotations_for(),
                                  idempotency_key=uuid.uuid4())
    with pytest.raises(Conflict, match="cannot become active"):
        workflow_status_set(workflow=workflow, status="active")


def test_a_private_projects_active_workflow_is_hidden_from_volunteers(owner):
    workflow = make_workflow(owner=owner, n_subjects=1, n_gold=0)
    assert volunteer_workflows().filter(pk=workflow.pk).exists()
    Project.objects.filter(pk=workflow.project_id).update(visibility="private")
    assert not volunteer_workflows().filter(pk=workflow.pk).exists()


def test_the_workflow_create_command_imports_the_gz2_tree(project, capsys):
    call_command("workflow_create", "--project", project.slug, "--tree", str(GZ2), "--name", "GZ2")
    workflow = Workflow.objects.get(name="GZ2")
    assert len(workflow.current_version.tree["tasks"]) == 11 and workflow.status == "draft"


def test_the_workflow_create_command_refuses_a_bad_tree_and_stores_nothing(project, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"first_task": "T0", "tasks": {"T0": {"type": "single", "question": "Q", "answers": []}}}')
    with pytest.raises(CommandError, match="needs at least two answers"):
        call_command("workflow_create", "--project", project.slug, "--tree", str(bad))
    assert not WorkflowVersion.objects.exists()


def test_workflow_import_launches_only_with_subjects(project):
    with pytest.raises(Conflict, match="upload subjects"):
        workflow_import(project=project, name="x", tree=THREE, launch=True)
    assert not Workflow.objects.filter(name="x").exists()
