import numpy as np
import pytest

from tests.conftest import make_workflow
from zooapp.models import ModelVersion, Prediction, Subject, SubjectPosterior, Workflow
from zooapp.services.priorities import workflow_priorities_refresh

pytestmark = pytest.mark.django_db

LABELS = ["smooth", "featured", "artifact"]
H_UNSURE = -(0.4 * np.log(0.4) + 0.35 * np.log(0.35) + 0.25 * np.log(0.25)) / np.log(3)  # 0.98
H_SURE = -(0.98 * np.log(0.98) + 2 * 0.01 * np.log(0.01)) / np.log(3)  # 0.10


def posterior(subject, probs):
    SubjectPosterior.objects.create(subject=subject, task="T0", labels=LABELS, log_posterior=np.log(probs).tolist(),
                                    vote_counts=[0, 0, 0], weighted_counts=[0, 0, 0])


def survey(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=5, n_gold=1)
    gold, unseen, unsure, sure, retired = workflow.subjects.order_by("id")
    posterior(unsure, [0.4, 0.35, 0.25])
    posterior(sure, [0.98, 0.01, 0.01])
    Subject.objects.filter(pk=retired.pk).update(status=Subject.Status.RETIRED, priority=0.123)
    return workflow, gold, unseen, unsure, sure, retired


def priority(subject) -> float:
    return Subject.objects.get(pk=subject.pk).priority


def test_without_a_model_the_most_uncertain_active_galaxy_comes_first_and_gold_and_retired_are_untouched(admin_user):
    workflow, gold, unseen, unsure, sure, retired = survey(admin_user)
    Subject.objects.filter(pk=gold.pk).update(priority=0.777)
    assert workflow_priorities_refresh(workflow=workflow) == 3
    # The normalised entropy itself (unseen counts as 1.0): the order its rank would give, and a galaxy's own.
    assert (priority(unseen), priority(unsure), priority(sure)) == pytest.approx((1.0, H_UNSURE, H_SURE))
    assert priority(gold) == 0.777 and priority(retired) == 0.123


def serve_with_ranks(workflow, ranks: dict) -> ModelVersion:
    """A serving classifier version whose predictions carry these BALD ranks, and an older one that must not count."""
    old = ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=1, file="a",
                                      n_train=1)
    serving = ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=2, file="b",
                                          n_train=1, serving=True)
    for subject, rank in ranks.items():
        Prediction.objects.create(model_version=serving, subject=subject, task="T0", probs=[1, 0, 0], bald=rank,
                                  bald_rank=rank)
        Prediction.objects.create(model_version=old, subject=subject, task="T0", probs=[1, 0, 0], bald=1 - rank,
                                  bald_rank=1 - rank)
    return serving


def test_the_serving_classifiers_bald_rank_is_blended_half_and_half_with_each_galaxys_uncertainty(admin_user):
    workflow, _, unseen, unsure, sure, _ = survey(admin_user)
    serve_with_ranks(workflow, {unseen: 0.0, unsure: 0.5, sure: 1.0})
    workflow_priorities_refresh(workflow=workflow)
    expected = [0.5 * 0.0 + 0.5 * 1.0, 0.5 * 0.5 + 0.5 * H_UNSURE, 0.5 * 1.0 + 0.5 * H_SURE]  # the old version ignored
    assert [priority(s) for s in (unseen, unsure, sure)] == pytest.approx(expected)


def test_a_galaxy_the_serving_model_never_scored_counts_as_its_lowest_bald_rank(admin_user):
    workflow, _, unseen, unsure, sure, _ = survey(admin_user)
    serve_with_ranks(workflow, {unsure: 0.5, sure: 1.0})  # unseen was uploaded after the version started serving
    workflow_priorities_refresh(workflow=workflow, subject_ids=[unseen.pk])
    assert priority(unseen) == pytest.approx(0.5 * 1.0)


def test_it_refreshes_only_the_subjects_asked_for(admin_user):
    workflow, _, unseen, unsure, sure, _ = survey(admin_user)
    Subject.objects.filter(workflow=workflow).update(priority=0.3)
    assert workflow_priorities_refresh(workflow=workflow, subject_ids=[unsure.pk, sure.pk]) == 2
    assert (priority(unseen), priority(unsure), priority(sure)) == pytest.approx((0.3, H_UNSURE, H_SURE))


def test_without_a_model_refreshing_only_the_changed_galaxies_gives_what_a_full_refresh_would(admin_user):
    workflow, _, unseen, unsure, sure, _ = survey(admin_user)
    workflow_priorities_refresh(workflow=workflow)
    posterior(unseen, [0.6, 0.3, 0.1])  # new votes on one galaxy
    assert workflow_priorities_refresh(workflow=workflow, subject_ids=[unseen.pk]) == 1
    partial = [priority(s) for s in (unseen, unsure, sure)]
    workflow_priorities_refresh(workflow=workflow)
    assert partial == [priority(s) for s in (unseen, unsure, sure)]
    assert partial[1] > partial[0] > partial[2]


def test_with_a_serving_model_refreshing_only_the_changed_galaxies_gives_what_a_full_refresh_would(admin_user):
    workflow, _, unseen, unsure, sure, _ = survey(admin_user)
    serve_with_ranks(workflow, {unseen: 0.0, unsure: 0.5, sure: 1.0})
    workflow_priorities_refresh(workflow=workflow)
    posterior(unseen, [0.6, 0.3, 0.1])
    assert workflow_priorities_refresh(workflow=workflow, subject_ids=[unseen.pk]) == 1
    partial = [priority(s) for s in (unseen, unsure, sure)]
    workflow_priorities_refresh(workflow=workflow)
    assert partial == [priority(s) for s in (unseen, unsure, sure)]


def test_a_fixed_queue_keeps_the_priorities_it_was_given(admin_user):
    workflow, _, unseen, unsure, sure, _ = survey(admin_user)
    Subject.objects.filter(workflow=workflow).update(priority=0.3)
    workflow.queue_order = Workflow.QueueOrder.FIXED
    workflow.save(update_fields=["queue_order"])
    assert workflow_priorities_refresh(workflow=workflow) == 0
    assert workflow_priorities_refresh(workflow=workflow, subject_ids=[unseen.pk]) == 0
    assert {priority(s) for s in (unseen, unsure, sure)} == {0.3}


def test_an_empty_selection_changes_nothing(admin_user):
    workflow, *_ = survey(admin_user)
    assert workflow_priorities_refresh(workflow=workflow, subject_ids=[]) == 0
