import csv
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from zooapp.models import Classification, ConsensusBox, Subject, SubjectPosterior, Volunteer, Workflow
from zooapp.services.imports import ImportRejected, zooniverse_import

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "zooniverse"
SLSN_CLASSIFICATIONS = SAMPLES / "panoptes_classification_export_question_tasks.csv"
SLSN_WORKFLOWS = SAMPLES / "panoptes_workflow_export.csv"
DECALS_CLASSIFICATIONS = SAMPLES / "gz_decals_classifications_sample.csv"
DECALS_WORKFLOW = SAMPLES / "gz_decals_workflow_version_28.30.json"


@pytest.fixture
def project(demo_workflow):
    return demo_workflow.project


def test_it_imports_the_real_question_task_export_and_aggregates_it(project):
    report = zooniverse_import(project_id=project.pk, classifications_path=SLSN_CLASSIFICATIONS,
                               workflows_path=SLSN_WORKFLOWS, zooniverse_workflow_id=10, version="16.55")
    workflow = report.workflow
    assert (report.n_subjects, report.n_classifications, report.n_dropped_answers) == (7, 7, 0)
    tree = workflow.current_version.tree
    assert [a["label"] for a in tree["tasks"]["T0"]["answers"]] == ["yes", "no"]
    assert tree["tasks"]["T0"]["answers"][0]["next"] == "T1"
    # Zooniverse's own rule (retire at 10 classifications) becomes the cap.
    assert workflow.retirement_rules["max_classifications"] == 10
    subject = Subject.objects.get(workflow=workflow, external_id="96588114")
    assert subject.ra == pytest.approx(123.7681641625) and subject.dec == pytest.approx(57.182124325)
    assert (subject.width, subject.height) == (1200, 900)  # placeholder sized from subject_dimensions
    assert subject.n_classifications == 1
    assert SubjectPosterior.objects.get(subject=subject, task="T0").vote_counts == [1.0, 0.0]
    assert Classification.objects.filter(workflow=workflow, aggregation_seq__isnull=True).count() == 0
    first = Classification.objects.filter(subject=subject).get()
    assert first.created_at.isoformat().startswith("2024-02-23T16:17:42")
    assert Volunteer.objects.filter(name="zooniverse:not-logged-in-b644753d0e3948f81dc2").count() == 1


def test_it_imports_the_galaxy_zoo_decals_sample_with_its_workflow_version_json(project):
    report = zooniverse_import(project_id=project.pk, classifications_path=DECALS_CLASSIFICATIONS,
                               workflows_path=DECALS_WORKFLOW)
    assert (report.n_subjects, report.n_classifications) == (9, 9)
    labels = [a["label"] for a in report.workflow.current_version.tree["tasks"]["T0"]["answers"]]
    assert labels == ["smooth", "features_or_disk", "star_or_artefact"]
    post = SubjectPosterior.objects.get(subject__workflow=report.workflow, subject__external_id="15715879", task="T0")
    assert post.vote_counts == [0.0, 1.0, 0.0]
    ring = Classification.objects.get(workflow=report.workflow, subject__external_id="15715895")
    assert {"task": "T10", "value": ["ring"]} in ring.annotations
    # Answers that later workflow versions added are counted, not silently lost.
    assert report.n_dropped_answers == sum(report.dropped.values()) > 0


def test_it_keeps_only_the_chosen_version_when_asked(project):
    report = zooniverse_import(project_id=project.pk, classifications_path=DECALS_CLASSIFICATIONS,
                               workflows_path=DECALS_WORKFLOW, version="28.30")
    assert report.n_classifications == 2
    assert report.n_dropped_answers == 0


def _write_export(path: Path, marks: list[dict]) -> None:
    tasks = {"T0": {"type": "single", "question": "T0.question",
                    "answers": [{"label": "T0.answers.0.label", "next": "T1"}, {"label": "T0.answers.1.label"}]},
             "T1": {"type": "drawing", "instruction": "T1.instruction",
                    "tools": [{"type": "rectangle", "label": "T1.tools.0.label", "max": 10},
                              {"type": "point", "label": "T1.tools.1.label"}]}}
    strings = {"T0.question": "Clumpy?", "T0.answers.0.label": "Yes", "T0.answers.1.label": "No",
               "T1.instruction": "Box the clumps", "T1.tools.0.label": "Clump", "T1.tools.1.label": "Centre"}
    with (path / "workflows.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["workflow_id", "display_name", "version", "minor_version", "first_task",
                                     "tasks", "strings", "retirement"])
        writer.writeheader()
        writer.writerow({"workflow_id": 7, "display_name": "Clumps", "version": 3, "minor_version": 1,
                         "first_task": "T0", "tasks": json.dumps(tasks), "strings": json.dumps(strings),
                         "retirement": "{}"})
    with (path / "classifications.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["classification_id", "user_name", "workflow_id", "workflow_version",
                                     "created_at", "metadata", "annotations", "subject_data", "subject_ids"])
        writer.writeheader()
        for i, user in enumerate(["ann", "bob", "ann"]):
            writer.writerow({
                "classification_id": i + 1, "user_name": user, "workflow_id": 7, "workflow_version": "3.1",
                "created_at": "2024-01-01 10:00:00 UTC", "metadata": json.dumps({}), "subject_ids": "55",
                "annotations": json.dumps([{"task": "T0", "value": "Yes"}, {"task": "T1", "value": marks}]),
                "subject_data": json.dumps({"55": {"retired": None}})})


@pytest.mark.parametrize("marks, convention", [
    ([{"tool": 0, "x": 100, "y": 50, "width": 40, "height": 20}], "auto"),
    ([{"toolIndex": 0, "x_center": 120, "y_center": 60, "width": 40, "height": 20}], "auto"),
    ([{"tool": 0, "x": 120, "y": 60, "width": 40, "height": 20}], "centre"),
])
def test_it_reads_rectangles_in_either_convention_and_builds_consensus_boxes(project, tmp_path, marks, convention):
    _write_export(tmp_path, marks + [{"tool": 1, "x": 3, "y": 4}])
    report = zooniverse_import(project_id=project.pk, classifications_path=tmp_path / "classifications.csv",
                               workflows_path=tmp_path / "workflows.csv", box_convention=convention)
    assert report.n_classifications == 2 and report.n_duplicates == 1  # "ann" twice on one subject
    subject = Subject.objects.get(workflow=report.workflow)
    assert (subject.width, subject.height) == (424, 424)  # no subject_dimensions: the default size
    stored = Classification.objects.filter(subject=subject).first().annotations[1]["value"]
    assert stored == [{"tool": "clump", "x_min": 100.0, "y_min": 50.0, "x_max": 140.0, "y_max": 70.0}]
    box = ConsensusBox.objects.get(subject=subject)
    assert (box.x_min, box.y_min, box.x_max, box.y_max) == pytest.approx((100, 50, 140, 70))
    assert box.n_workers == 2


def test_it_rejects_a_file_that_is_not_a_zooniverse_export_and_stores_nothing(project, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    workflows_before = Workflow.objects.count()
    with pytest.raises(ImportRejected, match="not a Zooniverse workflow export"):
        zooniverse_import(project_id=project.pk, classifications_path=bad, workflows_path=bad)
    _write_export(tmp_path, [])
    with pytest.raises(ImportRejected, match="not a Zooniverse classification export"):
        zooniverse_import(project_id=project.pk, classifications_path=bad, workflows_path=tmp_path / "workflows.csv")
    assert Workflow.objects.count() == workflows_before


def test_the_command_imports_into_a_new_project(admin_user, capsys):
    call_command("import_zooniverse", "--classifications", str(SLSN_CLASSIFICATIONS), "--workflows",
                 str(SLSN_WORKFLOWS), "--workflow-id", "10", "--version", "16", "--project", "slsn")
    assert "7 subjects, 7 classifications" in capsys.readouterr().out
    assert Workflow.objects.filter(project__slug="slsn", project__owner=admin_user).count() == 1
    with pytest.raises(CommandError, match="no workflow 10 version 99"):
        call_command("import_zooniverse", "--classifications", str(SLSN_CLASSIFICATIONS), "--workflows",
                     str(SLSN_WORKFLOWS), "--workflow-id", "10", "--version", "99")


def test_the_command_can_queue_the_import_as_a_background_task(admin_user, capsys):
    call_command("import_zooniverse", "--classifications", str(SLSN_CLASSIFICATIONS), "--workflows",
                 str(SLSN_WORKFLOWS), "--background")
    assert "queued" in capsys.readouterr().out
    workflow = Workflow.objects.get(project__slug="zooniverse-import")  # eager Celery ran it in-process
    assert Classification.objects.filter(workflow=workflow, aggregation_seq__isnull=False).count() == 7


def test_it_reads_back_the_platforms_own_zooniverse_format_export(admin_user, tmp_path):
    import uuid

    from tests.conftest import annotations_for, make_workflow
    from zooapp.services.classifications import classification_create
    from zooapp.services.exports import export_file_write

    source = make_workflow(owner=admin_user, n_subjects=3, n_gold=0)
    box = {"tool": "clump", "x_min": 10, "y_min": 12, "x_max": 30, "y_max": 20}
    for i, answer in enumerate(["featured", "featured", "smooth"]):
        volunteer = Volunteer.objects.create(name=f"v{i}")
        for subject in source.subjects.order_by("id")[:2]:
            classification_create(volunteer=volunteer, subject_id=subject.pk,
                                  workflow_version_id=source.current_version.pk, idempotency_key=uuid.uuid4(),
                                  annotations=annotations_for(answer, [box] if answer == "featured" else []))
    export_file_write(workflow=source, kind="classifications", fmt="csv", path=tmp_path / "c.csv")
    export_file_write(workflow=source, kind="workflow", fmt="json", path=tmp_path / "w.json")
    report = zooniverse_import(project_id=source.project_id, classifications_path=tmp_path / "c.csv",
                               workflows_path=tmp_path / "w.json")
    assert (report.n_subjects, report.n_classifications, report.n_dropped_answers) == (2, 6, 0)
    assert report.workflow.name.startswith(source.name)
    for original in source.subjects.order_by("id")[:2]:
        copy = Subject.objects.get(workflow=report.workflow, external_id=str(original.pk))
        assert (copy.width, copy.height, copy.ra) == (64, 64, original.ra)
        votes = [SubjectPosterior.objects.get(subject=s, task="T0").vote_counts for s in (original, copy)]
        assert votes[0] == votes[1] == [1.0, 2.0, 0.0]
        boxes = [list(ConsensusBox.objects.filter(subject=s).values_list("x_min", "y_min", "x_max", "y_max"))
                 for s in (original, copy)]
        assert boxes[0] == boxes[1] == [(10.0, 12.0, 30.0, 20.0)]
