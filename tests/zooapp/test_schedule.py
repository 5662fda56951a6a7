import pytest

from tests.conftest import make_workflow
from zooapp.models import ModelVersion, Subject
from zooapp.services.schedule import retraining_step, workflow_needs_retraining

pytestmark = pytest.mark.django_db


def test_the_retraining_step_grows_with_the_survey():
    assert retraining_step(retrain_every=200, n_at_last_version=0) == 200
    assert retraining_step(retrain_every=200, n_at_last_version=4000) == 1000
    assert retraining_step(retrain_every=200, n_at_last_version=40_000) == 10_000


def test_the_first_model_waits_for_twenty_galaxies_with_votes_then_the_cadence_reads_the_counter(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=22, n_gold=1)
    workflow.__class__.objects.filter(pk=workflow.pk).update(n_human_classifications=60)
    Subject.objects.filter(workflow=workflow, is_gold=False, external_id__in=[f"S{i}" for i in range(1, 20)]) \
        .update(n_classifications=3)
    assert not workflow_needs_retraining(workflow_id=workflow.pk)  # 19 galaxies with votes
    Subject.objects.filter(workflow=workflow, external_id="S20").update(n_classifications=3)
    assert workflow_needs_retraining(workflow_id=workflow.pk)
    ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=1, file="m.pt",
                                n_train=20, n_human_classifications=4000)
    workflow.__class__.objects.filter(pk=workflow.pk).update(n_human_classifications=4999)
    assert not workflow_needs_retraining(workflow_id=workflow.pk)  # 999 new: the step is now 1,000
    workflow.__class__.objects.filter(pk=workflow.pk).update(n_human_classifications=5000)
    assert workflow_needs_retraining(workflow_id=workflow.pk)


def test_a_workflow_where_the_machine_does_not_vote_waits_for_retrain_every_before_its_first_model(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=22, n_gold=1)
    workflow.__class__.objects.filter(pk=workflow.pk).update(machine_agent=False, retrain_every=200,
                                                             n_human_classifications=199)
    Subject.objects.filter(workflow=workflow, is_gold=False).update(n_classifications=9)
    assert not workflow_needs_retraining(workflow_id=workflow.pk)
    workflow.__class__.objects.filter(pk=workflow.pk).update(n_human_classifications=200)
    assert workflow_needs_retraining(workflow_id=workflow.pk)
