"""A whole simulation: one synthetic survey, one crowd, several policies side by side.

Every policy gets its own workflow in one throwaway project, with the same galaxies
(the survey is rendered once and cached by seed) and the same stream of volunteers.
The project, its rows and its files are deleted at the end unless ``keep=True``.
For big runs point Django at a fresh database (``DATABASE_URL``; see
docs/BENCHMARKS.md) so the simulation never shares tables with a live site.
"""
from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from aggregation.retirement import RetirementRules
from aggregation.schema import TaskTree
from zooapp.models import Classification, Project, SubjectFrame, Volunteer, Workflow, default_rules
from zooapp.services.demo import DEMO_TREE
from zooapp.services.projects import workflow_create
from aggregation.crowd import DEFAULT_CROWD, CrowdSpec, Recording, crowd_load, recording_load
from zooapp.models import GoldAnswer, SubjectTruth
from zooapp.services.simulation.loop import LoopLimits, policy_run, priorities_random
from zooapp.services.simulation.people import ReplayedCrowd, SimulatedCrowd, replay_tree, survey_difficulty, \
    survey_truths
from zooapp.services.simulation.metrics import policy_score
from zooapp.services.simulation.policies import Policy, policies_build
from zooapp.services.subjects import subject_set_synthesize

SIMULATOR_USERNAME = "zooloop-simulator"
ALL_POLICIES = ("fixed_n", "swap_random", "platform", "machine")


@dataclass(frozen=True)
class SimulationConfig:
    n_galaxies: int = 200
    n_gold: int = 10
    seed: int = 0
    policies: tuple[str, ...] = ALL_POLICIES
    tree: dict[str, Any] | None = None  # default: the demo workflow's tree
    rules: dict[str, Any] | None = None  # default: the platform's default retirement rules
    fixed_n: int = 40
    retrain_every: int = 500
    machine_threshold: float = 0.9
    gold_rate_start: float = 0.4
    gold_rate_end: float = 0.1
    concurrency: int | None = None  # default: the crowd file's arrivals.concurrency
    batch: int = 1  # volunteers per aggregation run (1: every vote aggregated before the next is served)
    max_steps_per_galaxy: int = 60
    crowd: CrowdSpec = field(default_factory=lambda: crowd_load(DEFAULT_CROWD))
    replay: Recording | None = None  # recorded votes to replay instead of the crowd
    progress: bool = True
    bar_position: int = 0

    def __post_init__(self) -> None:
        if self.n_galaxies < 1 or self.n_gold < 0 or (self.concurrency or 1) < 1 or self.fixed_n < 1 or self.batch < 1:
            raise ValueError("n_galaxies, concurrency, batch and fixed_n must be positive and n_gold >= 0")
        if self.rules is not None:
            RetirementRules.from_dict(self.rules)
        if self.replay is not None and self.n_galaxies + self.n_gold > len(self.replay.tasks):
            raise ValueError(f"the recording has {len(self.replay.tasks)} tasks with a truth: ask for at most that "
                             f"many galaxies and gold together (got {self.n_galaxies} + {self.n_gold})")


def _survey_dir(seed: int) -> Path:
    return Path(settings.VAR_DIR) / "synth-cache" / f"seed-{seed}-size-64"


def _policy_workflow(project: Project, policy: Policy, config: SimulationConfig, tree: dict) -> Workflow:
    workflow = workflow_create(project=project, name=policy.title, tree=tree,
                               **policy.workflow_settings(gold_rate_start=config.gold_rate_start,
                                                          gold_rate_end=config.gold_rate_end))
    subject_set_synthesize(workflow=workflow, name=f"Synthetic survey, seed {config.seed}",
                           n=config.n_galaxies + config.n_gold, seed=config.seed,
                           out_dir=_survey_dir(config.seed), n_gold=config.n_gold, progress=config.progress)
    if config.replay is not None:
        _replay_truths(workflow, config.replay)
    if policy.queue == "random":
        priorities_random(workflow=workflow, seed=config.seed)
    return workflow


def _replay_truths(workflow: Workflow, recording: Recording) -> None:
    """Survey galaxy i stands for task i of the recording: its truth and gold answer become the recording's."""
    subjects = list(workflow.subjects.order_by("id"))
    SubjectTruth.objects.filter(subject__in=subjects).delete()
    GoldAnswer.objects.filter(subject__in=subjects).delete()
    for subject, task in zip(subjects, recording.tasks):
        SubjectTruth.objects.create(subject=subject, values={"T0": recording.truth[task], "clumps": []})
        if subject.is_gold:
            GoldAnswer.objects.create(subject=subject, task="T0", value=recording.truth[task])


def _people(workflow: Workflow, config: SimulationConfig, tree: dict) -> SimulatedCrowd | ReplayedCrowd:
    if config.replay is not None:
        config.replay.revealed.clear()  # every policy replays the whole recording
        task_of = dict(zip(workflow.subjects.order_by("id").values_list("pk", flat=True), config.replay.tasks))
        return ReplayedCrowd(recording=config.replay, task_of=task_of, question="T0")
    return SimulatedCrowd(spec=config.crowd, seed=config.seed, tree=TaskTree.from_dict(tree),
                          truths=survey_truths(workflow),
                          difficulty=survey_difficulty(workflow=workflow, spec=config.crowd, seed=config.seed))


def simulation_run(*, config: SimulationConfig, keep: bool = False) -> dict[str, Any]:
    """Run every policy of ``config`` and return the report (see :func:`metrics.policy_score`)."""
    tree = replay_tree(config.replay) if config.replay is not None else config.tree or DEMO_TREE
    rules = config.rules or default_rules()
    policies = policies_build(names=list(config.policies), base_rules=rules, fixed_n=config.fixed_n,
                              retrain_every=config.retrain_every, machine_threshold=config.machine_threshold)
    project = _throwaway_project()
    limits = LoopLimits(concurrency=config.concurrency or config.crowd.concurrency, batch=config.batch,
                        max_steps=config.max_steps_per_galaxy * config.n_galaxies, progress=config.progress,
                        bar_position=config.bar_position)
    report: dict[str, Any] = {"config": _config_summary(config), "project_id": project.pk, "policies": {}}
    try:
        for policy in policies:
            started, cpu = time.monotonic(), time.process_time()
            workflow = _policy_workflow(project, policy, config, tree)
            timeline = policy_run(workflow=workflow, policy=policy, seed=config.seed,
                                  people=_people(workflow, config, tree), limits=limits)
            scores = policy_score(workflow=workflow, estimator=policy.estimator, timeline=timeline)
            report["policies"][policy.name] = {"title": policy.title, "rules": policy.rules,
                                               "estimator": policy.estimator, "queue": policy.queue,
                                               "workflow_id": workflow.pk,
                                               "models_trained": workflow.model_versions.count(),
                                               "seconds": round(time.monotonic() - started, 1),
                                               "cpu_seconds": round(time.process_time() - cpu, 1), **scores}
    finally:
        if not keep:
            project_delete(project_id=project.pk)
    return report


def simulation_crowd(*, crowd: str | None, replay: str | None, truth: str | None) -> tuple[CrowdSpec, Recording | None]:
    """The crowd of a run: a crowd file (default GZ2-like) or a recording to replay; bad files raise ValueError."""
    if (replay is None) != (truth is None):
        raise ValueError("--replay VOTES.csv and --truth TRUTH.csv go together")
    if replay is not None and crowd is not None:
        raise ValueError("give either --crowd or --replay, not both")
    spec = crowd_load(crowd or DEFAULT_CROWD)
    return spec, recording_load(votes=replay, truth=truth) if replay is not None else None


def _config_summary(config: SimulationConfig) -> dict[str, Any]:
    summary = {**asdict(config), "tree": None if config.tree is None else "custom"}
    summary["crowd"] = None if config.replay is not None else config.crowd.name
    summary["replay"] = None if config.replay is None else {"tasks": len(config.replay.tasks),
                                                            "workers": len(config.replay.workers),
                                                            "votes": len(config.replay.votes)}
    return summary


def reports_merge(*, reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from reports of the same seed, survey and crowd run in separate processes."""
    keys = ("seed", "n_galaxies", "n_gold", "crowd", "replay")
    first = {k: reports[0]["config"].get(k) for k in keys}
    for report in reports[1:]:
        other = {k: report["config"].get(k) for k in keys}
        if other != first:
            raise ValueError(f"reports differ in survey or crowd: {first} vs {other}")
    return {"config": {**reports[0]["config"], "policies": [p for r in reports for p in r["policies"]]},
            "policies": {name: policy for r in reports for name, policy in r["policies"].items()}}


def _throwaway_project() -> Project:
    owner, _ = get_user_model().objects.get_or_create(username=SIMULATOR_USERNAME,
                                                      defaults={"is_active": False})
    return Project.objects.create(name="Simulation (throwaway)", slug=f"simulation-{uuid.uuid4().hex[:12]}",
                                  description="Created by the loop simulator; deleted when it ends.", owner=owner)


def project_delete(*, project_id: int) -> None:
    """Delete a simulation project with its rows, image files and model files."""
    workflows = list(Workflow.objects.filter(project_id=project_id).values_list("pk", flat=True))
    for frame in SubjectFrame.objects.filter(subject__workflow_id__in=workflows):
        frame.image.delete(save=False)
    for workflow_id in workflows:
        shutil.rmtree(Path(settings.ZOOLOOP_MODEL_DIR) / f"workflow-{workflow_id}", ignore_errors=True)
    # Classifications protect their workflow version: they go first.
    Classification.objects.filter(workflow_id__in=workflows).delete()
    Project.objects.filter(pk=project_id).delete()
    # Simulated volunteers with nothing left (another simulation may still be using some).
    Volunteer.objects.filter(name__startswith="sim-", kind=Volunteer.Kind.HUMAN, user__isnull=True,
                             anonymous_token__isnull=True, classifications__isnull=True).delete()


def report_write(*, report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=True))
    return path
