import copy

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from aggregation.schema import TaskTree
from tests.conftest import DEMO_TREE, make_workflow
from zooapp.models import Classification, ConsensusBox, Project, Subject, SubjectPosterior, Volunteer
from aggregation.crowd import DEFAULT_CROWD, annotations_walk, crowd_load, member_draw, recording_load
from zooapp.services.simulation import SimulationConfig, simulation_run
from zooapp.services.simulation import whatif as whatif_services
from zooapp.services.simulation.metrics import box_scores, majority_scores
from zooapp.services.simulation.run import project_delete

pytestmark = pytest.mark.django_db(transaction=True)

# The first question and the clump drawing only: the same loop, a quarter of the work.
SMALL_TREE = copy.deepcopy(DEMO_TREE)
SMALL_TREE["tasks"] = {key: SMALL_TREE["tasks"][key] for key in ("T0", "T5")}
for answer in SMALL_TREE["tasks"]["T0"]["answers"]:
    answer["next"] = None if answer["label"] == "artifact" else "T5"


def small_config(**overrides) -> SimulationConfig:
    settings = {"n_galaxies": 12, "n_gold": 2, "seed": 3, "policies": ("fixed_n", "platform"), "tree": SMALL_TREE,
                "fixed_n": 3, "concurrency": 4, "max_steps_per_galaxy": 15, "progress": False}
    return SimulationConfig(**{**settings, **overrides})


@pytest.fixture(autouse=True)
def _survey_cache(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"


def without_ids(report: dict) -> dict:
    clean = copy.deepcopy(report)
    clean.pop("project_id")
    for policy in clean["policies"].values():
        policy.pop("workflow_id")
        policy.pop("seconds")
        policy.pop("cpu_seconds")
    return clean


def test_it_reports_counts_that_add_up_and_accuracy_that_matches_the_database():
    report = simulation_run(config=small_config(), keep=True)
    try:
        for name, policy in report["policies"].items():
            workflow_id = policy["workflow_id"]
            human = Classification.objects.filter(workflow_id=workflow_id, volunteer__kind=Volunteer.Kind.HUMAN)
            counts = policy["classifications"]
            assert counts["human"] == human.count() == policy["timeline"]["steps"][-1]
            assert counts["human_on_gold"] + counts["human_on_survey"] == counts["human"]
            retired = Subject.objects.filter(workflow_id=workflow_id, is_gold=False, status="retired")
            assert policy["n_retired"] == retired.count() == policy["timeline"]["retired"][-1]
            assert sum(policy["retired_by"].values()) == policy["n_retired"]
            assert policy["n_survey"] == 12
            assert policy["human_per_retired"] == pytest.approx(np.mean([s.n_classifications for s in retired]))
            # Accuracy by hand: the label of each retired galaxy against its stored truth.
            hits = []
            for subject in retired:
                post = SubjectPosterior.objects.get(subject=subject, task="T0")
                scores = post.vote_counts if name == "fixed_n" else post.log_posterior
                hits.append(post.labels[int(np.argmax(scores))] == subject.truth.values["T0"])
            assert policy["questions"]["T0"]["n"] == len(hits)
            assert policy["questions"]["T0"]["accuracy"] == pytest.approx(np.mean(hits))
            assert sum(b["n"] for b in policy["calibration"]["bins"]) == len(hits)
            if name == "fixed_n":  # its labels are the majority of the same votes
                against = policy["against_majority"]["T0"]
                assert against["accuracy"] == against["majority_accuracy"] == pytest.approx(np.mean(hits))
        assert report["policies"]["fixed_n"]["human_per_retired"] == 3  # min = max = N
    finally:
        project_delete(project_id=report["project_id"])
    assert not Project.objects.filter(pk=report["project_id"]).exists()


def test_it_gives_the_same_report_for_the_same_seed():
    config = small_config(policies=("platform",))
    first = simulation_run(config=config)
    second = simulation_run(config=config)
    assert without_ids(first) == without_ids(second)
    assert not Project.objects.filter(pk__in=[first["project_id"], second["project_id"]]).exists()


def test_a_volunteer_answers_the_same_galaxy_the_same_way_every_time():
    tree = TaskTree.from_dict(DEMO_TREE)
    crowd = crowd_load(DEFAULT_CROWD)
    member = member_draw(spec=crowd, seed=1, index=4)
    truth = {"T0": "featured", "T2": "no", "T3": "bar", "T4": "spiral", "clumps": [[10, 10, 16, 16]]}
    walks = [annotations_walk(spec=crowd, tree=tree, truth=truth, member=member, n_done=0, galaxy=7,
                              difficulty=0.3, size=(64, 64)) for _ in range(2)]
    assert walks[0] == walks[1]
    tree.validate(walks[0], image_width=64, image_height=64)


def test_box_f1_matches_a_consensus_box_to_a_clump_at_iou_0_3_and_counts_the_rest(admin_user):
    subject = make_workflow(owner=admin_user, n_subjects=1, n_gold=0).subjects.get()
    ConsensusBox.objects.create(subject=subject, x_min=11, y_min=11, x_max=21, y_max=21, p_real=0.9, n_workers=3,
                                n_seen=4)  # IoU 0.68 with the first clump
    ConsensusBox.objects.create(subject=subject, x_min=50, y_min=2, x_max=56, y_max=8, p_real=0.6, n_workers=2,
                                n_seen=4)  # far from both
    truths = {subject.pk: {"clumps": [[10, 10, 20, 20], [40, 40, 46, 46]]}}
    scores = box_scores(subjects=[subject], truths=truths, drawn={subject.pk})
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 1, 1)
    assert scores["f1"] == pytest.approx(0.5)


def test_each_question_is_scored_beside_the_majority_of_the_same_votes_on_the_galaxies_that_have_votes():
    tree = TaskTree.from_dict(SMALL_TREE)  # T0: smooth, featured, artifact
    truths = {1: {"T0": "smooth"}, 2: {"T0": "featured"}, 3: {"T0": "artifact"}, 4: {"T0": "smooth"}}
    probs = {(1, "T0"): [0.9, 0.1, 0.0], (2, "T0"): [0.2, 0.8, 0.0], (3, "T0"): [0.6, 0.3, 0.1],
             (4, "T0"): [0.1, 0.9, 0.0]}
    # Galaxy 2's majority is a tie (1-1) and goes to the first answer; galaxy 4 has no human vote (machine-retired).
    counts = {(1, "T0"): [3, 1, 0], (2, "T0"): [1, 1, 0], (3, "T0"): [0, 0, 2], (4, "T0"): [0, 0, 0]}
    scores = majority_scores(tree=tree, truths=truths, probs=probs, counts=counts)
    assert scores == {"T0": {"n": 3, "accuracy": pytest.approx(2 / 3), "majority_accuracy": pytest.approx(2 / 3)}}


def test_the_whatif_page_is_for_project_staff_only(client, admin_user):
    workflow = make_workflow(owner=admin_user)
    stranger = get_user_model().objects.create_user("stranger", "s@example.org", "stranger-pass-123")
    client.force_login(stranger)
    assert client.get(f"/dashboard/{workflow.pk}/whatif/").status_code == 403
    assert client.post(f"/dashboard/{workflow.pk}/whatif/").status_code == 403


def test_the_whatif_simulates_the_workflows_rules_and_shows_effort_and_accuracy(client, admin_user, monkeypatch):
    monkeypatch.setattr(whatif_services, "WHATIF_GALAXIES", 8)
    workflow = make_workflow(owner=admin_user, tree=SMALL_TREE, rules={"min_classifications": 2})
    client.force_login(admin_user)
    response = client.post(f"/dashboard/{workflow.pk}/whatif/")  # Celery runs eagerly in the tests
    assert response.status_code == 302
    result = whatif_services.workflow_whatif_result(workflow_id=workflow.pk)
    assert result["status"] == "done" and result["n_galaxies"] == 8
    assert result["rules"]["min_classifications"] == 2
    assert result["human_per_retired"] >= 2 and 0 <= result["first_question_accuracy"] <= 1
    page = client.get(f"/dashboard/{workflow.pk}/whatif/").content.decode()
    assert "Human classifications per retired galaxy" in page and 'id="whatif-data"' in page
    assert Project.objects.count() == 1  # the simulation's throwaway project is gone


def test_a_replay_reveals_only_the_recorded_votes_in_the_order_the_queue_asks(tmp_path):
    rng = np.random.default_rng(0)
    truth = {t: int(rng.integers(2)) for t in range(8)}
    rows = [(t, w, truth[t] if rng.random() < 0.8 else 1 - truth[t]) for t in range(8) for w in "abcdef"
            if rng.random() < 0.6]
    (tmp_path / "votes.csv").write_text("task,worker,label\n" + "".join(f"{t},{w},{lab}\n" for t, w, lab in rows))
    (tmp_path / "truth.csv").write_text("task,truth\n" + "".join(f"{t},{v}\n" for t, v in truth.items()))
    recording = recording_load(votes=tmp_path / "votes.csv", truth=tmp_path / "truth.csv")
    report = simulation_run(config=small_config(n_galaxies=6, n_gold=2, policies=("platform",), replay=recording,
                                                tree=None), keep=True)
    try:
        workflow_id = report["policies"]["platform"]["workflow_id"]
        task_of = dict(zip(Subject.objects.filter(workflow_id=workflow_id).order_by("id").values_list("pk", flat=True),
                           recording.tasks))
        given = {(c.volunteer.name.removeprefix("sim-replay-"), task_of[c.subject_id], c.annotations[0]["value"])
                 for c in Classification.objects.filter(workflow_id=workflow_id).select_related("volunteer")}
        recorded = {(w, str(t), str(lab)) for t, w, lab in rows}
        assert given and given <= recorded  # nothing invented
        assert len(given) == Classification.objects.filter(workflow_id=workflow_id).count()  # none twice
    finally:
        project_delete(project_id=report["project_id"])


def test_a_replay_asking_for_more_galaxies_than_it_recorded_is_refused(tmp_path):
    (tmp_path / "votes.csv").write_text("task,worker,label\n1,a,0\n")
    (tmp_path / "truth.csv").write_text("task,truth\n1,0\n")
    with pytest.raises(ValueError, match="the recording has 1 tasks with a truth"):
        small_config(replay=recording_load(votes=tmp_path / "votes.csv", truth=tmp_path / "truth.csv"))


def test_the_command_refuses_a_bad_crowd_file_before_anything_runs(tmp_path):
    from django.core.management import CommandError, call_command

    bad = tmp_path / "crowd.toml"
    bad.write_text('[[populations]]\nname = "a"\nshare = 1.0\nkind = "troll"\n')
    with pytest.raises(CommandError, match="populations\\[0\\].kind must be one of skilled"):
        call_command("simulate", crowd=str(bad), galaxies=3, out=str(tmp_path / "out"))
    assert not Project.objects.exists() and not (tmp_path / "out").exists()


def test_a_trained_machine_in_the_loop_retires_galaxies_and_each_retirement_names_its_version(settings):
    from zooapp.models import Retirement

    # A short but real training budget, two minutes of CPU rather than ten. At 60 and 30 steps the versions
    # reached only 40-89 % on the held-out set and whether any retired a galaxy turned on the run's order.
    settings.ZOOLOOP_CLASSIFIER_STEPS = settings.ZOOLOOP_CLASSIFIER_MIN_STEPS = 200
    settings.ZOOLOOP_CLASSIFIER_FINETUNE_STEPS = 100
    settings.ZOOLOOP_PREDICT_VIEWS = 2
    # Many gold galaxies give the common held-out set enough members to calibrate the machine early.
    config = small_config(n_galaxies=60, n_gold=30, policies=("machine",), retrain_every=40,
                          machine_threshold=0.9, concurrency=6, max_steps_per_galaxy=12)
    report = simulation_run(config=config, keep=True)
    try:
        policy = report["policies"]["machine"]
        assert policy["retired_by"].get("machine_threshold", 0) > 0, policy["retired_by"]
        by_machine = Retirement.objects.filter(subject__workflow_id=policy["workflow_id"], reason="machine_threshold")
        assert by_machine.exists() and not by_machine.filter(model_version__isnull=True).exists()
        assert policy["questions"]["T0"]["accuracy"] >= 0.9  # against the synthetic truth, not the crowd
    finally:
        project_delete(project_id=report["project_id"])
