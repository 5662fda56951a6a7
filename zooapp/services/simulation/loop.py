"""One policy, one crowd: simulated volunteers use the real queue, classification and aggregation services.

Volunteers work side by side: ``concurrency`` of them are active at once and take
turns, one classification each per round. A volunteer leaves after their
lifetime (see :mod:`.crowd`) or when the queue has nothing left for them, and the
next one of the stream arrives. Time is counted in simulated human classifications.

Each classification goes through ``classification_create``, whose commit hook runs the
platform's ``aggregate_workflow`` task in process (Celery's eager mode, switched on
only for the duration of the run): the engine update, retirement and, when the
workflow is due, the classifier's retraining happen exactly as a worker would run them.
"""
from __future__ import annotations

import contextlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from aggregation.schema import TaskTree
from ml.active import entropy, queue_priority
from zooapp.celery import app as celery_app
from zooapp.models import Prediction, Subject, SubjectPosterior, SubjectTruth, Volunteer, Workflow
from zooapp.selection import queue_next
from zooapp.services.aggregation import workflow_aggregate_all
from zooapp.services.classifications import classification_create
from zooapp.services.simulation.crowd import CrowdConfig, SimVolunteer, classify_walk, crowd_member
from zooapp.services.simulation.policies import Policy


@dataclass(frozen=True)
class LoopLimits:
    concurrency: int
    max_steps: int
    refresh_every: int
    progress: bool = True


@dataclass
class _Slot:
    member: SimVolunteer
    volunteer: Volunteer
    done: int = 0


@dataclass
class _Crowd:
    """The stream of volunteers of one seed and the ones active now."""

    seed: int
    config: CrowdConfig
    next_index: int = 0
    slots: list[_Slot] = field(default_factory=list)

    def arrive(self) -> _Slot:
        member = crowd_member(seed=self.seed, index=self.next_index, config=self.config)
        self.next_index += 1
        volunteer, _ = Volunteer.objects.get_or_create(name=f"sim-{self.seed}-{member.index}",
                                                       kind=Volunteer.Kind.HUMAN)
        return _Slot(member=member, volunteer=volunteer)


@contextlib.contextmanager
def tasks_in_process() -> Iterator[None]:
    """Run the platform's Celery tasks inline, in this process, for the duration of the block."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


def _truths(workflow: Workflow) -> dict[int, tuple[int, dict]]:
    """subject id -> (index of the galaxy in the survey, truth with parsed clump boxes)."""
    out = {}
    for row in SubjectTruth.objects.filter(subject__workflow=workflow).select_related("subject"):
        values = dict(row.values)
        clumps = values.get("clumps", "[]")
        values["clumps"] = json.loads(clumps) if isinstance(clumps, str) else clumps
        out[row.subject_id] = (int(row.subject.external_id.rsplit("-", 1)[-1]), values)
    return out


def policy_run(*, workflow: Workflow, policy: Policy, seed: int, crowd: CrowdConfig,
               limits: LoopLimits) -> dict:
    """Simulate volunteers on ``workflow`` until every survey galaxy retires or ``max_steps`` are spent.

    Returns the timeline: ``steps`` (human classifications made) and ``retired``
    (survey galaxies retired) after every round.
    """
    version = workflow.current_version
    tree = TaskTree.from_dict(version.tree)
    truths = _truths(workflow)
    targets = Subject.objects.filter(workflow=workflow, is_gold=False)
    n_targets = targets.count()
    people = _Crowd(seed=seed, config=crowd)
    people.slots = [people.arrive() for _ in range(limits.concurrency)]
    rng = random.Random(seed)
    steps, last_refresh, retired = 0, 0, 0
    timeline = {"steps": [0], "retired": [0]}
    bar = tqdm(total=n_targets, desc=policy.name, disable=not limits.progress, unit="galaxy")
    with tasks_in_process():
        while steps < limits.max_steps and retired < n_targets:
            for i, slot in enumerate(people.slots):
                made = _turn(workflow, version.pk, tree, slot, truths, rng, halflife=crowd.learn_halflife)
                steps += made
                if not made or slot.done >= slot.member.lifetime:
                    people.slots[i] = people.arrive()
            workflow_aggregate_all(workflow_id=workflow.pk)  # a no-op unless a commit hook failed
            if policy.queue == "priority" and steps - last_refresh >= limits.refresh_every:
                priorities_refresh(workflow=workflow)
                last_refresh = steps
            now = targets.filter(status=Subject.Status.RETIRED).count()
            bar.update(now - retired)
            retired = now
            timeline["steps"].append(steps)
            timeline["retired"].append(retired)
    bar.close()
    return {**timeline, "volunteers": people.next_index}


def _turn(workflow: Workflow, version_id: int, tree: TaskTree, slot: _Slot, truths: dict, rng: random.Random,
          *, halflife: float) -> int:
    """One volunteer asks the queue for a galaxy and classifies it; returns 1, or 0 when the queue is empty."""
    result = queue_next(workflow=workflow, volunteer=slot.volunteer, n=1, rng=rng)
    if result.finished:
        return 0
    subject = result.subjects[0]
    index, truth = truths[subject.pk]
    annotations = classify_walk(tree=tree, truth=truth, volunteer=slot.member, n_done=slot.done,
                                subject_index=index, size=(subject.width, subject.height), halflife=halflife)
    classification_create(volunteer=slot.volunteer, subject_id=subject.pk, workflow_version_id=version_id,
                          annotations=annotations, idempotency_key=uuid.uuid4())
    slot.done += 1
    return 1


def priorities_random(*, workflow: Workflow, seed: int) -> None:
    """A random queue: fixed random priorities, the same for one galaxy under every policy of a seed."""
    subjects = list(Subject.objects.filter(workflow=workflow))
    for subject in subjects:
        index = int(subject.external_id.rsplit("-", 1)[-1])
        subject.priority = float(np.random.default_rng([seed, index, 2]).random())
    Subject.objects.bulk_update(subjects, ["priority"])


def priorities_refresh(*, workflow: Workflow) -> None:
    """The platform's queue between model versions: posterior entropy, blended with BALD once a model serves.

    The same blend as ``model_version_serve`` (``ml.active.queue_priority``); galaxies
    nobody has classified yet count as maximally uncertain.
    """
    task = workflow.retirement_rules.get("task", "T0")
    subjects = list(Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE, is_gold=False)
                    .order_by("id"))
    if not subjects:
        return
    posts = {p.subject_id: p for p in SubjectPosterior.objects.filter(subject__in=subjects, task=task)}
    uncertainty = np.array([_normalised_entropy(posts[s.pk]) if s.pk in posts else 1.0 for s in subjects])
    bald = dict(Prediction.objects.filter(model_version__workflow=workflow, model_version__serving=True,
                                          model_version__kind="classifier", subject__in=subjects, task=task)
                .values_list("subject_id", "bald"))
    scores = np.array([bald.get(s.pk, np.nan) for s in subjects]) if bald else None
    for subject, priority in zip(subjects, queue_priority(bald=scores, posterior_entropy=uncertainty)):
        subject.priority = float(priority)
    Subject.objects.bulk_update(subjects, ["priority"])


def _normalised_entropy(post: SubjectPosterior) -> float:
    p = post.probabilities
    return float(entropy(p) / np.log(len(p)))
