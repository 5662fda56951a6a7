import uuid

import numpy as np
import pytest

from tests.conftest import annotations_for, make_workflow
from zooapp.models import Classification, Reliability, Retirement, Subject, Volunteer
from zooapp.services.aggregation import (workflow_aggregate_all, workflow_recompute,
                                         workflow_state_snapshot)
from zooapp.services.classifications import classification_create
from zooapp.services.retirement import workflow_rules_reapply, workflow_rules_update

pytestmark = pytest.mark.django_db(transaction=True)


def classify(workflow, subject, volunteer, answer="smooth", boxes=None):
    return classification_create(volunteer=volunteer, subject_id=subject.pk,
                                 workflow_version_id=workflow.current_version.pk,
                                 annotations=annotations_for(answer, boxes), idempotency_key=uuid.uuid4())


def volunteers(n):
    return [Volunteer.objects.create(name=f"v{i}") for i in range(n)]


def test_it_retires_a_subject_once_the_posterior_crosses_the_threshold(admin_user):
    workflow = make_workflow(owner=admin_user, n_gold=0, rules={"posterior_threshold": 0.9, "min_classifications": 3})
    subject = workflow.subjects.first()
    crowd = volunteers(6)
    for v in crowd[:2]:
        classify(workflow, subject, v)
    assert Subject.objects.get(pk=subject.pk).status == "active"  # below the minimum count
    for v in crowd[2:]:
        classify(workflow, subject, v)
        if Subject.objects.get(pk=subject.pk).is_retired:
            break
    subject.refresh_from_db()
    assert subject.is_retired
    retirement = Retirement.objects.get(subject=subject)
    assert retirement.reason == "posterior_threshold" and retirement.n_classifications >= 3
    assert max(retirement.posterior) >= 0.9


def test_it_retires_at_the_maximum_count_when_the_crowd_disagrees(admin_user):
    workflow = make_workflow(owner=admin_user, n_gold=0, rules={"posterior_threshold": 0.9999,
                                                                "min_classifications": 1, "max_classifications": 4})
    subject = workflow.subjects.first()
    for v, answer in zip(volunteers(4), ["smooth", "featured", "smooth", "featured"]):
        classify(workflow, subject, v, answer)
    assert Retirement.objects.get(subject=subject).reason == "max_classifications"


def test_gold_subjects_train_the_volunteers_confusion_matrix_and_never_retire(admin_user):
    workflow = make_workflow(owner=admin_user, n_gold=1, rules={"min_classifications": 1,
                                                                "posterior_threshold": 0.5})
    gold = workflow.subjects.get(is_gold=True)
    right, wrong = volunteers(2)
    classify(workflow, gold, right, "smooth")
    classify(workflow, gold, wrong, "featured")
    alpha_right = np.asarray(Reliability.objects.get(volunteer=right, task="T0").alpha)
    alpha_wrong = np.asarray(Reliability.objects.get(volunteer=wrong, task="T0").alpha)
    smooth, featured = 0, 1
    assert alpha_right[smooth, smooth] - alpha_wrong[smooth, smooth] == pytest.approx(1.0)
    assert alpha_wrong[smooth, featured] - alpha_right[smooth, featured] == pytest.approx(1.0)
    assert not Subject.objects.get(pk=gold.pk).is_retired


def test_the_online_state_equals_a_recompute_from_the_stored_classifications(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=6, n_gold=2,
                             rules={"posterior_threshold": 0.999, "min_classifications": 10})
    rng = np.random.default_rng(0)
    subjects = list(workflow.subjects.all())
    for v in volunteers(5):
        for s in subjects:
            classify(workflow, s, v, rng.choice(["smooth", "featured", "artifact"]))
    before = workflow_state_snapshot(workflow_id=workflow.pk)
    diff = workflow_recompute(workflow_id=workflow.pk)
    assert diff == {"reliabilities": [], "posteriors": [], "counts": []}
    assert workflow_state_snapshot(workflow_id=workflow.pk) == before
    assert len(before["reliabilities"]) >= 5 and len(before["posteriors"]) >= 6


def test_classifications_left_pending_are_aggregated_exactly_once(admin_user, settings):
    from zooapp.celery import app

    workflow = make_workflow(owner=admin_user, n_gold=0, rules={"min_classifications": 50, "max_classifications": 100})
    subject = workflow.subjects.first()
    app.conf.task_always_eager = False  # as if the broker lost the messages
    try:
        app.conf.broker_url = "memory://"
        for v in volunteers(3):
            classify(workflow, subject, v)
    finally:
        app.conf.task_always_eager = True
    assert Classification.objects.filter(aggregation_seq__isnull=True).count() == 3
    assert workflow_aggregate_all(workflow_id=workflow.pk) == 3
    assert workflow_aggregate_all(workflow_id=workflow.pk) == 0
    assert Subject.objects.get(pk=subject.pk).n_classifications == 3


def test_changing_rules_is_audited_and_reapplying_them_unretires(admin_user):
    workflow = make_workflow(owner=admin_user, n_gold=0, rules={"posterior_threshold": 0.6, "min_classifications": 1})
    subject = workflow.subjects.first()
    classify(workflow, subject, volunteers(1)[0])
    assert Subject.objects.get(pk=subject.pk).is_retired
    workflow = workflow_rules_update(workflow=workflow, user=admin_user,
                                     rules={**workflow.retirement_rules, "min_classifications": 5})
    change = workflow.rule_changes.get()
    assert (change.old["min_classifications"], change.new["min_classifications"]) == (1, 5)
    assert workflow_rules_reapply(workflow_id=workflow.pk) == {"retired": 0, "unretired": 1}
    assert not Subject.objects.get(pk=subject.pk).is_retired
    assert Retirement.objects.filter(subject=subject).values_list("action", flat=True).last() == "unretire"


def test_bad_rules_are_refused_and_leave_the_workflow_as_it_was(admin_user):
    from zooapp.services.retirement import RulesRejected

    workflow = make_workflow(owner=admin_user)
    before = dict(workflow.retirement_rules)
    with pytest.raises(RulesRejected):
        workflow_rules_update(workflow=workflow, user=admin_user, rules={**before, "posterior_threshold": 7})
    workflow.refresh_from_db()
    assert workflow.retirement_rules == before and not workflow.rule_changes.exists()


def test_boxes_become_consensus_boxes_with_p_real(admin_user):
    workflow = make_workflow(owner=admin_user, n_gold=0, rules={"min_classifications": 50, "max_classifications": 100})
    subject = workflow.subjects.first()
    box = {"tool": "clump", "x_min": 10, "y_min": 10, "x_max": 20, "y_max": 20}
    for i, v in enumerate(volunteers(3)):
        classify(workflow, subject, v, "featured", [{**box, "x_min": 10 + i * 0.5}])
    consensus = list(subject.consensus_boxes.all())
    assert len(consensus) == 1
    assert consensus[0].n_workers == 3 and consensus[0].n_seen == 3
    assert 10 <= consensus[0].x_min <= 11 and consensus[0].p_real > 0.5
    assert subject.posteriors.get(task="T0").probabilities[1] > 0.5


def test_the_refit_feeds_the_population_prior_to_new_volunteers_and_stays_reproducible(admin_user):
    from zooapp.services.engine_refit import workflow_engine_refit

    workflow = make_workflow(owner=admin_user, n_subjects=10, n_gold=3,
                             rules={"posterior_threshold": 0.9999, "min_classifications": 50,
                                    "max_classifications": 100})
    rng = np.random.default_rng(1)
    truth = {s.pk: "smooth" if s.is_gold else rng.choice(["smooth", "featured"]) for s in workflow.subjects.all()}
    for v in volunteers(4):
        for s in workflow.subjects.all():
            answer = truth[s.pk] if rng.random() < 0.9 else ("featured" if truth[s.pk] == "smooth" else "smooth")
            classify(workflow, s, v, answer, [{"tool": "clump", "x_min": 5, "y_min": 5, "x_max": 15, "y_max": 15}]
                     if answer == "featured" else None)
    summary = workflow_engine_refit(workflow_id=workflow.pk, n_iter=500)
    workflow.refresh_from_db()
    prior = np.asarray(workflow.engine_state["agent_prior"]["T0"])
    assert "T0" in summary["prior_tasks"] and prior.shape == (3, 3)
    assert prior[0, 0] > prior[0, 1] and prior[1, 1] > prior[1, 0]  # the crowd is mostly right
    assert summary["box_workers"] == 4
    newcomer = Volunteer.objects.create(name="new")
    classify(workflow, workflow.subjects.filter(is_gold=False).first(), newcomer)
    assert np.allclose(Reliability.objects.get(volunteer=newcomer, task="T0").alpha[1], prior[1], atol=1.01)
    assert workflow_recompute(workflow_id=workflow.pk) == {"reliabilities": [], "posteriors": [], "counts": []}


def test_the_workflow_counts_human_classifications_and_a_recompute_rebuilds_the_count(admin_user):
    from zooapp.models import Workflow

    workflow = make_workflow(owner=admin_user, n_gold=0, rules={"min_classifications": 50, "max_classifications": 100})
    subjects = list(workflow.subjects.all())
    for v in volunteers(3):
        classify(workflow, subjects[0], v)
    machine = Volunteer.objects.create(kind=Volunteer.Kind.MACHINE, name="classifier")
    Classification.objects.create(workflow=workflow, workflow_version=workflow.current_version, subject=subjects[1],
                                  volunteer=machine, annotations=[{"task": "T0", "value": "smooth"}])
    workflow_aggregate_all(workflow_id=workflow.pk)
    assert Workflow.objects.get(pk=workflow.pk).n_human_classifications == 3  # the machine's vote is not counted
    Workflow.objects.filter(pk=workflow.pk).update(n_human_classifications=99)
    workflow_recompute(workflow_id=workflow.pk)
    assert Workflow.objects.get(pk=workflow.pk).n_human_classifications == 3


def test_a_batch_rebuilds_the_boxes_only_of_subjects_drawn_on_in_it(admin_user):
    from zooapp.models import ConsensusBox

    workflow = make_workflow(owner=admin_user, n_gold=0, rules={"min_classifications": 50, "max_classifications": 100})
    first, second = list(workflow.subjects.all())[:2]
    box = {"tool": "clump", "x_min": 10, "y_min": 10, "x_max": 20, "y_max": 20}
    crowd = volunteers(3)
    for subject in (first, second):
        classify(workflow, subject, crowd[0], "featured", [box])
    kept = set(ConsensusBox.objects.filter(subject=second).values_list("id", flat=True))
    rebuilt = set(ConsensusBox.objects.filter(subject=first).values_list("id", flat=True))
    classify(workflow, first, crowd[1], "featured", [box])
    classify(workflow, second, crowd[2], "artifact")  # a walk that never reaches the drawing question
    assert set(ConsensusBox.objects.filter(subject=second).values_list("id", flat=True)) == kept
    assert ConsensusBox.objects.get(subject=first).n_seen == 2
    assert not rebuilt & set(ConsensusBox.objects.filter(subject=first).values_list("id", flat=True))


def test_a_batch_costs_the_same_number_of_queries_whatever_its_size(admin_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from zooapp.celery import app

    def queries_for(workflow, subjects):
        app.conf.task_always_eager = False  # leave the classifications pending, to aggregate as one batch
        try:
            app.conf.broker_url = "memory://"
            for s, v in zip(subjects, volunteers(len(subjects))):
                classify(workflow, s, v, "featured", [{"tool": "clump", "x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9}])
        finally:
            app.conf.task_always_eager = True
        with CaptureQueriesContext(connection) as captured:
            workflow_aggregate_all(workflow_id=workflow.pk)
        return len(captured)

    rules = {"min_classifications": 50, "max_classifications": 100}
    small = make_workflow(owner=admin_user, n_subjects=2, n_gold=0, rules=rules)
    large = make_workflow(owner=admin_user, n_subjects=8, n_gold=0, rules=rules)
    assert queries_for(small, list(small.subjects.all())) == queries_for(large, list(large.subjects.all()))


def test_a_new_workflow_takes_the_dataclass_defaults_and_reads_them_typed(admin_user):
    from aggregation.contracts import EngineState
    from aggregation.retirement import RetirementRules

    workflow = make_workflow(owner=admin_user)
    assert workflow.retirement_rules == RetirementRules().to_dict()
    assert workflow.rules == RetirementRules() and workflow.rules.task == "T0"
    assert workflow.engine == EngineState() and workflow.engine.unsupervised_weight == 0.5


def test_each_batch_refreshes_the_queue_priority_of_the_galaxies_it_changed_and_only_theirs(admin_user):
    from zooapp.models import SubjectPosterior
    from zooapp.services.priorities import _normalised_entropy

    workflow = make_workflow(owner=admin_user, n_subjects=3, n_gold=0, rules={"min_classifications": 5})
    first, second, untouched = workflow.subjects.order_by("id")
    assert {s.priority for s in (first, second, untouched)} == {1.0}  # nobody has classified them
    for v in volunteers(2):
        classify(workflow, first, v)
    classify(workflow, second, volunteers(1)[0], "featured")
    for subject in (first, second):
        post = SubjectPosterior.objects.get(subject=subject, task="T0")
        assert Subject.objects.get(pk=subject.pk).priority == pytest.approx(_normalised_entropy(post))
    assert Subject.objects.get(pk=first.pk).priority < Subject.objects.get(pk=second.pk).priority < 1.0
    assert Subject.objects.get(pk=untouched.pk).priority == 1.0
