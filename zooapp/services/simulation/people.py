"""Who classifies in a simulation: members of a crowd file, or the workers of a recording replayed.

Both are streams of volunteers with one method, ``serve``: given the queue's offer,
the annotations the person gives (or None: they leave). A simulated member answers
from :mod:`aggregation.crowd` (one crowd model for the whole code base); a replayed
worker reveals only a vote they really gave.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from aggregation.crowd import CrowdSpec, Member, Recording, annotations_walk, difficulty_draw, \
    difficulty_from_hardness, member_draw
from aggregation.schema import TaskTree
from zooapp.models import Subject, SubjectFrame, SubjectTruth, Volunteer, Workflow
from zooapp.selection import queue_next

REPLAY_WINDOW = 20  # subjects of the queue a replayed worker may be offered before they leave


@dataclass
class Slot:
    """A volunteer active now: who they are in the crowd, their platform row, and how far they got."""

    who: Member | str
    volunteer: Volunteer
    lifetime: int
    done: int = 0


def galaxy_index(subject: Subject) -> int:
    """The galaxy's index in the synthetic survey (``synth-<seed>-<index>``)."""
    return int(subject.external_id.rsplit("-", 1)[-1])


def survey_truths(workflow: Workflow) -> dict[int, dict]:
    """subject id -> truth with parsed clump boxes."""
    out = {}
    for row in SubjectTruth.objects.filter(subject__workflow=workflow):
        values = dict(row.values)
        clumps = values.get("clumps", "[]")
        values["clumps"] = json.loads(clumps) if isinstance(clumps, str) else clumps
        out[row.subject_id] = values
    return out


def survey_difficulty(*, workflow: Workflow, spec: CrowdSpec, seed: int) -> dict[int, float]:
    """subject id -> the galaxy's difficulty, shared by every volunteer and (from the image) by the machine."""
    subjects = list(Subject.objects.filter(workflow=workflow).order_by("id"))
    if spec.difficulty.source != "image":
        values = difficulty_draw(spec=spec, seed=seed, galaxies=np.array([galaxy_index(s) for s in subjects]))
    else:
        frames = {f.subject_id: f for f in SubjectFrame.objects.filter(subject__in=subjects, index=0)}
        values = difficulty_from_hardness(spec=spec, seed=seed,
                                          hardness=np.array([-_contrast(frames[s.pk]) for s in subjects]))
    return {s.pk: float(d) for s, d in zip(subjects, values)}


def _contrast(frame: SubjectFrame) -> float:
    """Signal over noise of the image: bright core over the scatter of the border (faint = hard)."""
    with frame.image.open("rb") as handle:
        grey = np.asarray(Image.open(handle).convert("L"), dtype=float)
    border = np.concatenate([grey[:4].ravel(), grey[-4:].ravel(), grey[:, :4].ravel(), grey[:, -4:].ravel()])
    return float((np.percentile(grey, 99) - np.median(border)) / (border.std() + 1.0))


@dataclass
class SimulatedCrowd:
    """An endless stream of crowd-file members answering from the truth."""

    spec: CrowdSpec
    seed: int
    tree: TaskTree
    truths: dict[int, dict]
    difficulty: dict[int, float]
    next_index: int = 0

    def arrive(self) -> Slot | None:
        member = member_draw(spec=self.spec, seed=self.seed, index=self.next_index)
        self.next_index += 1
        volunteer, _ = Volunteer.objects.get_or_create(name=f"sim-{self.seed}-{member.index}",
                                                       kind=Volunteer.Kind.HUMAN)
        return Slot(who=member, volunteer=volunteer, lifetime=member.lifetime)

    def serve(self, *, workflow: Workflow, slot: Slot, rng: random.Random) -> tuple[Subject, list] | None:
        result = queue_next(workflow=workflow, volunteer=slot.volunteer, n=1, rng=rng)
        if result.finished:
            return None
        subject = result.subjects[0]
        annotations = annotations_walk(spec=self.spec, tree=self.tree, truth=self.truths[subject.pk],
                                       member=slot.who, n_done=slot.done, galaxy=galaxy_index(subject),
                                       difficulty=self.difficulty[subject.pk],
                                       size=(subject.width, subject.height))
        return subject, annotations


@dataclass
class ReplayedCrowd:
    """The recording's workers, in order of first appearance; each reveals only votes they really gave."""

    recording: Recording
    task_of: dict[int, str]  # subject id -> task of the recording
    question: str
    next_index: int = 0
    tag: str = "replay"
    _by_task: dict[str, int] = field(default_factory=dict)

    def arrive(self) -> Slot | None:
        if self.next_index >= len(self.recording.workers):
            return None
        worker = self.recording.workers[self.next_index]
        self.next_index += 1
        volunteer, _ = Volunteer.objects.get_or_create(name=f"sim-{self.tag}-{worker}", kind=Volunteer.Kind.HUMAN)
        return Slot(who=worker, volunteer=volunteer, lifetime=self.recording.n_recorded(worker))

    def serve(self, *, workflow: Workflow, slot: Slot, rng: random.Random) -> tuple[Subject, list] | None:
        result = queue_next(workflow=workflow, volunteer=slot.volunteer, n=REPLAY_WINDOW, rng=rng)
        offered = [s for s in result.subjects if s.pk in self.task_of]
        picked = self.recording.reveal(worker=slot.who, offered=[self.task_of[s.pk] for s in offered])
        if picked is None:
            return None
        task, label = picked
        subject = next(s for s in offered if self.task_of[s.pk] == task)
        return subject, [{"task": self.question, "value": label}]


def replay_tree(recording: Recording) -> dict[str, Any]:
    """A one-question workflow whose answers are the recording's labels."""
    answers = [{"label": label, "text": f"Class {label}", "next": None} for label in recording.labels]
    return {"first_task": "T0", "tasks": {"T0": {"type": "single", "question": "Which class?",
                                                  "answers": answers}}}
