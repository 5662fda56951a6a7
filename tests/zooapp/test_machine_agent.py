import pytest

from tests.conftest import make_workflow
from tests.zooapp.machine_fixtures import classifier_row, crowd_classify, smooth_checkpoint  # noqa: F401
from zooapp.models import Classification, Retirement, Subject, Volunteer
from zooapp.services.aggregation import workflow_recompute
from zooapp.services.machine.agent import MACHINE_AGENT
from zooapp.services.machine.classifier import model_version_judge

pytestmark = pytest.mark.django_db(transaction=True)
EXACT = {"reliabilities": [], "posteriors": [], "counts": []}


@pytest.fixture
def workflow(admin_user, settings):
    settings.ZOOLOOP_PREDICT_VIEWS = 1
    workflow = make_workflow(owner=admin_user, n_subjects=20, n_gold=12,  # 12 gold 'smooth': the held-out set
                             rules={"posterior_threshold": 0.999, "min_classifications": 2})
    Subject.objects.filter(workflow=workflow, is_gold=True).update(holdout=True)
    return workflow


def _machine_votes(workflow):
    return Classification.objects.filter(workflow=workflow, volunteer__kind=Volunteer.Kind.MACHINE,
                                         volunteer__name=MACHINE_AGENT)


def test_a_new_version_replaces_the_machine_vote_and_a_recompute_still_equals_the_online_state(
        workflow, smooth_checkpoint):
    active = list(Subject.objects.filter(workflow=workflow, is_gold=False).order_by("id"))
    crowd_classify(workflow, active[:4], "featured", n=1, prefix="early")
    first = classifier_row(workflow, smooth_checkpoint, 1)
    assert model_version_judge(model_version_id=first.pk)
    assert _machine_votes(workflow).count() == len(active)
    crowd_classify(workflow, active, "featured", n=1, prefix="late")  # votes after the first machine vote
    second = classifier_row(workflow, smooth_checkpoint, 2)
    assert model_version_judge(model_version_id=second.pk)  # as good as the first: a tie serves
    votes = _machine_votes(workflow)
    assert votes.count() == len(active) and set(votes.values_list("model_version", flat=True)) == {second.pk}
    assert not votes.filter(aggregation_seq__isnull=True).exists()
    # Each later human vote was consumed after the first machine vote; the replay without it lands on the same state.
    assert workflow_recompute(workflow_id=workflow.pk) == EXACT


def test_the_machine_retires_on_its_calibrated_probability_and_the_retirement_names_the_version(
        workflow, smooth_checkpoint):
    workflow.retirement_rules = {**workflow.retirement_rules, "machine_threshold": 0.9}
    workflow.save(update_fields=["retirement_rules"])
    version = classifier_row(workflow, smooth_checkpoint, 1)
    model_version_judge(model_version_id=version.pk)
    version.refresh_from_db()
    counts, hits = version.calibration["T0"]["counts"], version.calibration["T0"]["hits"]
    assert sum(counts) == 12 and hits == counts  # right on every held-out galaxy
    assert version.metrics["holdout"]["T0"]["confusion"][0][0] == 12
    retired = Retirement.objects.filter(subject__workflow=workflow, reason="machine_threshold")
    assert retired.count() == 8 and set(retired.values_list("model_version", flat=True)) == {version.pk}
    assert all(r.agent == "machine" for r in retired)


def test_an_uncalibrated_version_serves_the_queue_but_neither_votes_nor_retires(workflow, smooth_checkpoint):
    workflow.retirement_rules = {**workflow.retirement_rules, "machine_threshold": 0.01}
    workflow.save(update_fields=["retirement_rules"])
    Subject.objects.filter(workflow=workflow, is_gold=True, pk__in=list(
        Subject.objects.filter(workflow=workflow, is_gold=True).values_list("pk", flat=True)[:5])).update(holdout=False)
    version = classifier_row(workflow, smooth_checkpoint, 1)
    assert model_version_judge(model_version_id=version.pk)
    version.refresh_from_db()
    assert version.serving and version.calibration is None  # 7 held-out galaxies are too few to calibrate on
    assert not _machine_votes(workflow).exists()
    assert not Retirement.objects.filter(subject__workflow=workflow).exists()
