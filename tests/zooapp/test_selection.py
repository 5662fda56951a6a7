import random
import threading

import pytest
from django.db import connection

from tests.conftest import make_workflow
from zooapp.models import Subject, SubjectView, Volunteer
from zooapp.selection import FINISHED, gold_rate, queue_next

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_serves_by_descending_priority_and_never_twice(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=6, n_gold=0)
    for i, subject in enumerate(workflow.subjects.order_by("id")):
        Subject.objects.filter(pk=subject.pk).update(priority=i / 10)
    volunteer = Volunteer.objects.create()
    served = [queue_next(workflow=workflow, volunteer=volunteer, n=2).subjects for _ in range(3)]
    priorities = [s.priority for batch in served for s in batch]
    assert priorities == sorted(priorities, reverse=True)
    assert len({s.pk for batch in served for s in batch}) == 6
    done = queue_next(workflow=workflow, volunteer=volunteer)
    assert done.finished and done.message == FINISHED


def test_it_never_serves_a_retired_subject(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=3, n_gold=0)
    Subject.objects.filter(workflow=workflow).exclude(external_id="S1").update(status="retired")
    result = queue_next(workflow=workflow, volunteer=Volunteer.objects.create(), n=3)
    assert [s.external_id for s in result.subjects] == ["S1"]


def test_the_gold_rate_falls_from_its_start_to_its_floor(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=1)
    assert gold_rate(workflow=workflow, n_done=0) == pytest.approx(0.4)
    assert gold_rate(workflow=workflow, n_done=workflow.gold_rate_halflife) == pytest.approx(0.25)
    assert gold_rate(workflow=workflow, n_done=10_000) == pytest.approx(0.1)


def test_gold_subjects_are_mixed_in_at_about_the_configured_rate(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=400, n_gold=200)
    workflow.gold_rate_start = workflow.gold_rate_end = 0.3
    workflow.save()
    volunteer = Volunteer.objects.create()
    served = queue_next(workflow=workflow, volunteer=volunteer, n=200, rng=random.Random(1)).subjects
    share = sum(s.is_gold for s in served) / len(served)
    assert 0.2 < share < 0.4




def test_concurrent_requests_never_hand_one_volunteer_the_same_subject(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=12, n_gold=0)
    volunteer = Volunteer.objects.create()
    results, errors = [], []

    def fetch():
        try:
            results.extend(s.pk for s in queue_next(workflow=workflow, volunteer=volunteer, n=2).subjects)
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == len(set(results)) == SubjectView.objects.filter(volunteer=volunteer).count()
