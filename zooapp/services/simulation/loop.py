"""One policy, one crowd: simulated volunteers use the real queue, classification and aggregation services.

Volunteers work side by side: ``concurrency`` of them are active at once and take
turns, one classification each per round. A volunteer leaves after their
lifetime (see :mod:`aggregation.crowd`) or when the queue has nothing left for them,
and the next one of the stream arrives. Time is counted in simulated human classifications.

Each classification goes through ``classification_create``. Its commit hook asks for an
aggregation run as on the live site, but finds one already queued: the loop holds the
platform's "run queued" marker for the whole round, as a busy queue would, and runs the
platform's ``aggregate_workflow`` task once after the round, in process (Celery's eager
mode, switched on only for the duration of the run). So a round is aggregated as one batch,
as a worker batches what arrived while it was busy: the engine update, retirement and, when
the workflow is due, the classifier's retraining happen exactly as a worker would run them.
(One run per vote cost 40 ms of the 58 per classification, mostly box consensus rebuilt per vote.)
The queue's priorities are the platform's own too: each aggregation batch refreshes those of the
galaxies it changed, and a classifier version refreshes the whole survey when it starts serving.
"""
from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from django.core.cache import cache

from zooapp import tasks
from zooapp.celery import app as celery_app
from zooapp.models import Retirement, Subject, Workflow
from zooapp.services.aggregation import QUEUED_KEY
from zooapp.services.classifications import classification_create
from zooapp.services.simulation.people import ReplayedCrowd, SimulatedCrowd, Slot
from zooapp.services.simulation.policies import Policy


@dataclass(frozen=True)
class LoopLimits:
    concurrency: int
    max_steps: int
    batch: int = 1  # volunteers whose classifications one aggregation run takes (see the module docstring)
    progress: bool = True
    bar_position: int = 0


@contextlib.contextmanager
def tasks_in_process() -> Iterator[None]:
    """Run the platform's Celery tasks inline, in this process, for the duration of the block."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@contextlib.contextmanager
def _run_queued(workflow: Workflow) -> Iterator[None]:
    """Hold the marker that says an aggregation run is queued: the round's commit hooks queue no run of their own."""
    cache.set(QUEUED_KEY.format(workflow.pk), 1, timeout=None)
    try:
        yield
    finally:
        cache.delete(QUEUED_KEY.format(workflow.pk))


@dataclass
class _RetiredCounter:
    """Survey galaxies retired, kept from the new Retirement rows only: no COUNT over the survey per round."""

    workflow: Workflow
    last_id: int = 0
    retired: int = 0

    def update(self) -> int:
        rows = list(Retirement.objects.filter(subject__workflow=self.workflow, subject__is_gold=False,
                                              pk__gt=self.last_id).order_by("pk").values_list("pk", "action"))
        for pk, action in rows:
            self.retired += 1 if action == Retirement.Action.RETIRE else -1
            self.last_id = pk
        return self.retired


def policy_run(*, workflow: Workflow, policy: Policy, seed: int, people: SimulatedCrowd | ReplayedCrowd,
               limits: LoopLimits) -> dict:
    """Simulate volunteers on ``workflow`` until every survey galaxy retires, ``max_steps`` are spent or the
    stream runs dry (a replay).

    Returns the timeline: ``steps`` (human classifications made) and ``retired``
    (survey galaxies retired) after every round, and ``volunteers`` (how many arrived).
    """
    n_targets = Subject.objects.filter(workflow=workflow, is_gold=False).count()
    slots = [slot for slot in (people.arrive() for _ in range(limits.concurrency)) if slot is not None]
    rng, counter = random.Random(seed), _RetiredCounter(workflow=workflow)
    steps, idle = 0, 0
    patience = 3 if isinstance(people, SimulatedCrowd) else 10**9  # three rounds of newcomers finding nothing
    timeline = {"steps": [0], "retired": [0]}
    bar = tqdm(total=n_targets, desc=policy.name, disable=not limits.progress, unit="galaxy", dynamic_ncols=True,
               position=limits.bar_position)
    with tasks_in_process():
        while slots and steps < limits.max_steps and counter.retired < n_targets and idle < patience:
            made, slots = _round(workflow, people, slots, rng, batch=limits.batch)
            steps, idle = steps + made, 0 if made else idle + 1
            before = counter.retired
            bar.update(counter.update() - before)
            bar.set_postfix(steps=steps, refresh=False)
            timeline["steps"].append(steps)
            timeline["retired"].append(counter.retired)
    bar.close()
    return {**timeline, "volunteers": people.next_index}


def _round(workflow: Workflow, people, slots: list[Slot], rng: random.Random, *,
           batch: int) -> tuple[int, list[Slot]]:
    """Every active volunteer classifies once, ``batch`` at a time with one aggregation run after each
    group; those who are done or find nothing leave and are replaced."""
    made, kept, version_id = 0, [], workflow.current_version.pk
    for start in range(0, len(slots), batch):
        with _run_queued(workflow):
            for slot in slots[start:start + batch]:
                slot, classified = _turn(workflow, version_id, people, slot, rng)
                made += classified
                if slot is not None:
                    kept.append(slot)
        tasks.aggregate_workflow.delay(workflow.pk)  # the group's one batch (eager: runs here, now)
    return made, kept


def _turn(workflow: Workflow, version_id: int, people, slot: Slot, rng: random.Random) -> tuple[Slot | None, int]:
    """One volunteer's turn: classify what the queue offers, or leave (and the next of the stream arrives)."""
    served = people.serve(workflow=workflow, slot=slot, rng=rng)
    if served is not None:
        subject, annotations = served
        classification_create(volunteer=slot.volunteer, subject_id=subject.pk,
                              workflow_version_id=version_id, annotations=annotations,
                              idempotency_key=uuid.uuid4())
        slot.done += 1
    if served is None or slot.done >= slot.lifetime:
        return people.arrive(), int(served is not None)
    return slot, 1


def priorities_random(*, workflow: Workflow, seed: int) -> None:
    """A random queue: fixed random priorities, the same for one galaxy under every policy of a seed."""
    subjects = list(Subject.objects.filter(workflow=workflow))
    for subject in subjects:
        index = int(subject.external_id.rsplit("-", 1)[-1])
        subject.priority = float(np.random.default_rng([seed, index, 2]).random())
    Subject.objects.bulk_update(subjects, ["priority"])
