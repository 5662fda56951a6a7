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
                               workflows_path=DECALS_WORKFLOW, map_versions=("*",))
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


def test_rows_of_versions_not_mapped_to_the_definition_are_reported_and_left_out(project):
    report = zooniverse_import(project_id=project.pk, classifications_path=DECALS_CLASSIFICATIONS,
                               workflows_path=DECALS_WORKFLOW)
    assert report.versions == {"28.30": 2}
    assert report.unmapped_versions == {"39.61": 2, "44.73": 1, "46.73": 1, "46.77": 1, "55.121": 2}
    mapped = zooniverse_import(project_id=project.pk, classifications_path=DECALS_CLASSIFICATIONS,
                               workflows_path=DECALS_WORKFLOW, map_versions=("39",))
    assert mapped.workflow == report.workflow and mapped.n_classifications == 2 and mapped.n_already_imported == 2


def _database_state():
    return (Workflow.objects.count(), Subject.objects.count(),
            sorted(Classification.objects.values_list("external_id", "volunteer__name", "subject__external_id")),
            sorted((p.subject_id, p.task, tuple(p.log_posterior)) for p in SubjectPosterior.objects.all()))


@pytest.mark.parametrize("classifications, workflows, options", [
    (SLSN_CLASSIFICATIONS, SLSN_WORKFLOWS, {"zooniverse_workflow_id": 10}),
    (DECALS_CLASSIFICATIONS, DECALS_WORKFLOW, {"map_versions": ("*",)}),
])
def test_importing_a_real_sample_twice_leaves_the_database_unchanged_the_second_time(project, classifications,
                                                                                    workflows, options):
    first = zooniverse_import(project_id=project.pk, classifications_path=classifications, workflows_path=workflows,
                              **options)
    before = _database_state()
    again = zooniverse_import(project_id=project.pk, classifications_path=classifications, workflows_path=workflows,
                              **options)
    assert _database_state() == before
    assert again.workflow == first.workflow and not again.changed
    assert (again.n_subjects, again.n_classifications, again.n_already_imported) == (0, 0, first.n_classifications)
    ids = set(Classification.objects.filter(workflow=first.workflow).values_list("external_id", flat=True))
    with classifications.open(newline="") as fh:
        assert {r["classification_id"] for r in csv.DictReader(fh)} >= ids and len(ids) == first.n_classifications


def test_an_overlapping_file_adds_only_its_new_rows(project, tmp_path):
    with SLSN_CLASSIFICATIONS.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows, fields = list(reader), reader.fieldnames
    part = tmp_path / "part.csv"
    with part.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(rows[:4])
    first = zooniverse_import(project_id=project.pk, classifications_path=part, workflows_path=SLSN_WORKFLOWS)
    rest = zooniverse_import(project_id=project.pk, classifications_path=SLSN_CLASSIFICATIONS,
                             workflows_path=SLSN_WORKFLOWS)
    assert (first.n_classifications, rest.n_classifications, rest.n_already_imported) == (4, 3, 4)
    assert Classification.objects.filter(workflow=first.workflow).count() == 7


def _with_flags(tmp_path, flags: dict[int, dict[str, str]]) -> Path:
    with SLSN_CLASSIFICATIONS.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows, fields = list(reader), reader.fieldnames
    for i, values in flags.items():
        rows[i].update(values)
    path = tmp_path / "flagged.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_gold_standard_rows_become_gold_answers_not_votes(project, tmp_path):
    from zooapp.models import GoldAnswer

    path = _with_flags(tmp_path, {0: {"gold_standard": "true"}})
    report = zooniverse_import(project_id=project.pk, classifications_path=path, workflows_path=SLSN_WORKFLOWS)
    assert (report.n_gold_answers, report.n_classifications) == (2, 6)
    gold = GoldAnswer.objects.filter(subject__workflow=report.workflow)
    subject = gold.first().subject
    assert subject.is_gold and {g.task for g in gold} == {"T0", "T1"}
    assert not Classification.objects.filter(subject=subject).exists()


@pytest.mark.parametrize("mode", ["agent", "gold"])
def test_expert_rows_become_an_expert_agents_votes_or_gold_by_option(project, tmp_path, mode):
    from zooapp.models import GoldAnswer

    path = _with_flags(tmp_path, {1: {"expert": "true"}, 2: {"expert": "true"}})
    report = zooniverse_import(project_id=project.pk, classifications_path=path, workflows_path=SLSN_WORKFLOWS,
                               expert=mode)
    experts = Classification.objects.filter(workflow=report.workflow, volunteer__name__startswith="zooniverse-expert:")
    if mode == "agent":
        assert experts.count() == report.n_expert_votes == 2 and report.n_classifications == 7
        assert experts.values("volunteer").distinct().count() == 1
    else:
        assert not experts.exists() and report.n_classifications == 5
        assert GoldAnswer.objects.filter(subject__workflow=report.workflow).values("subject").distinct().count() == 2


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
    assert "7 new subjects, 7 new classifications" in capsys.readouterr().out
    call_command("import_zooniverse", "--classifications", str(SLSN_CLASSIFICATIONS), "--workflows",
                 str(SLSN_WORKFLOWS), "--workflow-id", "10", "--version", "16", "--project", "slsn")
    out = capsys.readouterr().out
    assert "7 already imported" in out and "nothing new: the database is unchanged" in out
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


def test_a_queued_import_keeps_the_expert_option(admin_user, tmp_path, capsys):
    from zooapp.models import GoldAnswer

    path = _with_flags(tmp_path, {1: {"expert": "true"}, 2: {"expert": "true"}})
    call_command("import_zooniverse", "--classifications", str(path), "--workflows", str(SLSN_WORKFLOWS),
                 "--expert", "gold", "--background")
    assert "queued" in capsys.readouterr().out
    workflow = Workflow.objects.get(project__slug="zooniverse-import")  # eager Celery ran it in-process
    assert not Classification.objects.filter(workflow=workflow, volunteer__name__startswith="zooniverse-expert:").exists()
    assert GoldAnswer.objects.filter(subject__workflow=workflow).values("subject").distinct().count() == 2
