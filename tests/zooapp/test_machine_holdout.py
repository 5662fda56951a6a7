import numpy as np
import pytest

from tests.conftest import make_workflow
from tests.zooapp.machine_fixtures import crowd_classify
from zooapp.models import Subject, SubjectPosterior, Workflow
from zooapp.services.machine.calibration import calibration_apply, calibration_fit
from zooapp.services.machine.holdout import holdout_grow, subject_reserved, trainable_subjects
from zooapp.services.machine.versions import at_least_as_good, paired_difference

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def retired_workflow(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=60, n_gold=3,
                             rules={"posterior_threshold": 0.9, "min_classifications": 2})
    # No model trains while the crowd votes: not the machine's early first model, nor a retraining at 200 votes.
    Workflow.objects.filter(pk=workflow.pk).update(machine_agent=False, retrain_every=10**6)
    crowd_classify(workflow, list(workflow.subjects.filter(is_gold=False).order_by("id")), "smooth", n=5)
    return workflow


def test_the_held_out_set_takes_gold_and_confident_reserved_galaxies_and_only_ever_grows(retired_workflow):
    workflow = retired_workflow
    holdout_grow(workflow=workflow)
    held = set(Subject.objects.filter(workflow=workflow, holdout=True).values_list("pk", flat=True))
    gold = set(Subject.objects.filter(workflow=workflow, is_gold=True).values_list("pk", flat=True))
    reserved = {s.pk for s in Subject.objects.filter(workflow=workflow, is_gold=False) if subject_reserved(s.pk)}
    confident = {p.subject_id for p in SubjectPosterior.objects.filter(subject_id__in=reserved, task="T0",
                                                                        subject__status="retired")
                 if p.probabilities.max() >= 0.99}
    assert confident and held == gold | confident
    Subject.objects.filter(pk__in=held).update(status="active")  # un-retired later: still held out
    holdout_grow(workflow=workflow)
    assert held <= set(Subject.objects.filter(workflow=workflow, holdout=True).values_list("pk", flat=True))


def test_a_training_set_never_holds_gold_held_out_or_reserved_galaxies(retired_workflow):
    holdout_grow(workflow=retired_workflow)
    trained = trainable_subjects(workflow=retired_workflow)
    assert trained and all(not s.is_gold and not s.holdout and not subject_reserved(s.pk) for s in trained)


def test_calibration_gives_the_top_answer_its_bins_held_out_accuracy_and_keeps_the_vote():
    probs = np.array([[0.55, 0.30, 0.15]] * 10)
    fitted = calibration_fit(probs, np.zeros(10, dtype=int))
    out = calibration_apply(np.array([[0.52, 0.28, 0.20], [0.2, 0.1, 0.7]]), fitted)
    assert np.isclose(out[0, 0], 11 / 12) and np.allclose(out.sum(axis=1), 1.0)
    assert np.isclose(out[1, 2], 0.5) and out[1].argmax() == 2  # an empty bin says nothing: Beta(1, 1) mean
    with pytest.raises(ValueError, match="probs must be"):
        calibration_fit(probs, np.zeros(3, dtype=int))


def test_versions_are_compared_per_galaxy_and_a_tie_serves():
    serving = np.array([1.0] * 40)
    assert at_least_as_good(serving, serving)
    assert at_least_as_good(np.r_[np.zeros(1), np.ones(39)], serving)  # one slip is within the uncertainty
    assert not at_least_as_good(np.r_[np.zeros(8), np.ones(32)], serving)
    assert at_least_as_good(np.zeros(0), serving) and at_least_as_good(serving, None)
    assert paired_difference([0.5], [0.4])["lower"] == pytest.approx(0.1)
