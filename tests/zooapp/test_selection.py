import datetime as dt
import random
import threading
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import annotations_for, make_workflow
from zooapp.models import Subject, SubjectView, Volunteer
from zooapp.selection import FINISHED, IN_FLIGHT_SECONDS, gold_rate, queue_next, subjects_in_flight
from zooapp.services.aggregation import QUEUED_KEY, workflow_aggregate_pending
from zooapp.services.classifications import classification_create

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


def _ranked_workflow(admin_user, *, min_classifications: int, n_subjects: int = 4):
    """Subjects S0 > S1 > ... by priority, no gold, so the queue's order is known."""
    workflow = make_workflow(owner=admin_user, n_subjects=n_subjects, n_gold=0,
                             rules={"min_classifications": min_classifications})
    for i, subject in enumerate(workflow.subjects.order_by("id")):
        Subject.objects.filter(pk=subject.pk).update(priority=1 - i / 10)
    return workflow


def _first(workflow, volunteer):
    return queue_next(workflow=workflow, volunteer=volunteer).subjects[0].external_id


def test_concurrent_volunteers_get_the_next_subject_once_the_top_one_has_all_the_volunteers_it_needs(admin_user):
    workflow = _ranked_workflow(admin_user, min_classifications=2)
    served = [_first(workflow, Volunteer.objects.create()) for _ in range(5)]
    # S0 and S1 each still need two classifications: two volunteers each, then S2, and so on.
    assert served == ["S0", "S0", "S1", "S1", "S2"]
    assert subjects_in_flight(subject_ids=list(workflow.subjects.values_list("pk", flat=True))) == {
        pk: n for pk, n in zip(workflow.subjects.order_by("id").values_list("pk", flat=True), [2, 2, 1])}


def test_a_classification_waiting_for_its_batch_still_holds_its_subject_and_an_aggregated_one_frees_it(admin_user):
    workflow = _ranked_workflow(admin_user, min_classifications=1)
    first = Volunteer.objects.create()
    top = queue_next(workflow=workflow, volunteer=first).subjects[0]
    cache.set(QUEUED_KEY.format(workflow.pk), 1)  # an aggregation run is already queued: this vote waits for it
    try:
        classification_create(volunteer=first, subject_id=top.pk, workflow_version_id=workflow.current_version.pk,
                              annotations=annotations_for("smooth"), idempotency_key=uuid.uuid4())
        assert _first(workflow, Volunteer.objects.create()) == "S1"
        workflow_aggregate_pending(workflow_id=workflow.pk)
    finally:
        cache.delete(QUEUED_KEY.format(workflow.pk))
    assert Subject.objects.get(pk=top.pk).status == Subject.Status.ACTIVE
    assert _first(workflow, Volunteer.objects.create()) == "S0"  # one vote aggregated, nothing else in flight


def test_a_view_left_open_longer_than_the_reservation_no_longer_holds_its_subject(admin_user):
    workflow = _ranked_workflow(admin_user, min_classifications=1)
    assert _first(workflow, Volunteer.objects.create()) == "S0"
    assert _first(workflow, Volunteer.objects.create()) == "S1"
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=IN_FLIGHT_SECONDS + 1)
    SubjectView.objects.filter(subject__external_id="S0").update(created_at=long_ago)
    assert _first(workflow, Volunteer.objects.create()) == "S0"


def test_when_every_subject_is_in_flight_the_least_loaded_is_still_served(admin_user):
    workflow = _ranked_workflow(admin_user, min_classifications=1, n_subjects=2)
    served = [_first(workflow, Volunteer.objects.create()) for _ in range(4)]
    assert served == ["S0", "S1", "S0", "S1"]


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


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the simulator's backend; PostgreSQL matches NOT is_gold itself")
def test_the_queue_reads_the_top_of_the_priority_index_and_never_sorts_the_survey(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=30, n_gold=5)
    workflow.gold_rate_start = workflow.gold_rate_end = 0.5
    workflow.save()
    volunteer = Volunteer.objects.create()
    with CaptureQueriesContext(connection) as captured:
        for _ in range(4):
            queue_next(workflow=workflow, volunteer=volunteer, rng=random.Random(0))
    reads = [q["sql"] for q in captured.captured_queries if 'FROM "zooapp_subject"' in q["sql"]]
    assert any("is_gold" in sql for sql in reads)
    with connection.cursor() as cursor:
        for sql in reads:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = " | ".join(row[-1] for row in cursor.fetchall())
            # A temporary B-tree means every active subject was read and sorted, as each request once did.
            assert "subject_queue" in plan and "is_gold=?" in plan and "TEMP B-TREE" not in plan, plan


def test_a_subject_another_request_already_served_this_volunteer_is_passed_over_for_the_next(admin_user):
    from zooapp.selection import _claim

    workflow = make_workflow(owner=admin_user, n_subjects=3, n_gold=0)
    volunteer = Volunteer.objects.create()
    first, second, _ = workflow.subjects.order_by("id")
    SubjectView.objects.create(volunteer=volunteer, subject=first)  # the concurrent request's claim
    assert [s.pk for s in _claim(volunteer, [first, second], 1)] == [second.pk]
    assert SubjectView.objects.filter(volunteer=volunteer).count() == 2


def test_served_subjects_come_with_their_frames_in_one_query_whether_one_or_several(admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=4, n_gold=0)
    for n in (1, 3):
        subjects = queue_next(workflow=workflow, volunteer=Volunteer.objects.create(), n=n).subjects
        with CaptureQueriesContext(connection) as queries:
            frames = [list(s.frames.all()) for s in subjects]
        assert len(subjects) == n and all(frames) and len(queries) == (1 if n == 1 else 0)
