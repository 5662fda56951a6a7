"""Offline refits that feed the online engine: the population prior of skill, and box-worker parameters.

The batch re-fit (``AutoDawidSkene``: the worker model chosen per question by held-out
vote likelihood) learns what volunteers are like as a population, so a
newcomer's first votes are weighed by that instead of by a flat guess; the Lean
box model learns each volunteer's false-mark rate, miss rate and box noise. Both
are stored on the workflow, and the online state is then recomputed from the
stored classifications so that it stays equal to a replay.

The tables use the engine's words (`aggregation.contracts`): ``task`` is a subject id;
the workflow's questions are ``question`` here.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone

from aggregation.boxes import LeanBoxAggregator
from aggregation.contracts import Frames, Records, annotations_to_records
from aggregation.votes.auto import AutoDawidSkene
from zooapp.models import Classification, GoldAnswer, Subject, Volunteer, Workflow
from zooapp.services.aggregation import subjects_boxes_aggregate, trees_for_versions, workflow_recompute

MIN_VOTES, MIN_WORKERS = 20, 3


def _long_tables(workflow: Workflow) -> Frames:
    """Every human classification of the workflow as the engine's votes, boxes and seen tables."""
    rows = (Classification.objects.filter(workflow=workflow, volunteer__kind=Volunteer.Kind.HUMAN).order_by("id")
            .values_list("workflow_version_id", "subject_id", "volunteer_id", "annotations"))
    records, trees = Records(), {}
    for version_id, subject_id, worker, annotations in rows.iterator(chunk_size=2000):
        if version_id not in trees:
            trees.update(trees_for_versions([version_id]))
        annotations_to_records(trees[version_id], [(subject_id, worker, annotations)], into=records)
    return records.frames()


def _population_prior(workflow: Workflow, votes: dict[str, pd.DataFrame], n_iter: int) -> tuple[dict[str, list], dict[str, str]]:
    """Per question key, the population prior of agent skill and the worker model the evidence chose."""
    questions = trees_for_versions([workflow.current_version.pk])[workflow.current_version.pk].tasks
    gold = pd.DataFrame(list(GoldAnswer.objects.filter(subject__workflow=workflow, subject__is_gold=True)
                             .values("subject_id", "task", "value")), columns=["subject_id", "task", "value"])
    gold = gold.rename(columns={"task": "question", "subject_id": "task", "value": "label"})  # the engine's words
    prior, chosen = {}, {}
    for question, table in votes.items():
        if len(table) < MIN_VOTES or table["worker"].nunique() < MIN_WORKERS or question not in questions:
            continue
        picked = gold.loc[(gold["question"] == question) & gold["task"].isin(table["task"]), ["task", "label"]]
        model = AutoDawidSkene(classes=questions[question].labels, random_state=0, n_draws=0,
                               max_iter=n_iter).fit(
            table, picked if len(picked) else None)
        prior[question], chosen[question] = model.population_alpha_.tolist(), model.chosen_
    return prior, chosen


def workflow_engine_refit(*, workflow_id: int, n_iter: int = 500) -> dict[str, Any]:
    """Refit the population prior and the box-worker parameters, store them, and recompute the state.

    ``n_iter`` caps the EM iterations of each question's fit; the result names each question's chosen model.
    """
    workflow = Workflow.objects.get(pk=workflow_id)
    frames = _long_tables(workflow)
    prior, chosen = _population_prior(workflow, frames.votes, n_iter)
    params = None
    if len(frames.seen):
        fitted = LeanBoxAggregator().fit(frames.boxes, frames.seen)
        params = fitted.worker_params_.rename_axis("worker").reset_index().to_dict("list")
    with transaction.atomic():
        locked = Workflow.objects.select_for_update(no_key=True).get(pk=workflow_id)
        engine = locked.engine
        engine = dataclasses.replace(engine, agent_prior={**engine.agent_prior, **prior},
                                     box_worker_params=engine.box_worker_params if params is None else params,
                                     refitted_at=timezone.now().isoformat())
        locked.engine_state = engine.to_dict()
        locked.save(update_fields=["engine_state"])
    changed = workflow_recompute(workflow_id=workflow_id)
    subjects_boxes_aggregate(workflow=locked, subject_ids=frames.seen["task"].tolist())
    return {"prior_tasks": sorted(prior), "models": chosen, "box_workers": len(params["worker"]) if params else 0,
            "changed": {k: len(v) for k, v in changed.items()},
            "subjects": Subject.objects.filter(workflow=workflow).count()}
