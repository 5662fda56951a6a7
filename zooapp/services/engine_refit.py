"""Offline refits that feed the online engine: the population prior of skill, and box-worker parameters.

The hierarchical model learns what volunteers are like as a population, so a
newcomer's first votes are weighed by that instead of by a flat guess; the Lean
box model learns each volunteer's false-mark rate, miss rate and box noise. Both
are stored on the workflow, and the online state is then recomputed from the
stored classifications so that it stays equal to a replay.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone

from aggregation.boxes import LeanBoxAggregator
from aggregation.schema import TaskTree
from aggregation.votes.hierarchical import HierarchicalDS
from zooapp.models import Classification, GoldAnswer, Subject, Volunteer, Workflow
from zooapp.services.aggregation import subject_boxes_aggregate, workflow_recompute

MIN_VOTES, MIN_WORKERS = 20, 3


def _long_tables(workflow: Workflow) -> tuple[dict[str, list], list[dict], list[dict]]:
    votes: dict[str, list] = {}
    boxes, seen, trees = [], [], {}
    rows = (Classification.objects.filter(workflow=workflow, volunteer__kind=Volunteer.Kind.HUMAN)
            .select_related("workflow_version").only("subject_id", "volunteer_id", "annotations", "workflow_version"))
    for c in rows.iterator(chunk_size=2000):
        if c.workflow_version_id not in trees:
            trees[c.workflow_version_id] = TaskTree.from_dict(c.workflow_version.tree)
        tasks = trees[c.workflow_version_id].tasks
        for ann in c.annotations:
            task = tasks.get(ann["task"])
            if task is not None and task.type == "single":
                votes.setdefault(task.key, []).append({"task": c.subject_id, "worker": c.volunteer_id,
                                                       "label": ann["value"]})
            elif task is not None and task.type == "drawing":
                seen.append({"task": c.subject_id, "worker": c.volunteer_id})
                boxes += [{"task": c.subject_id, "worker": c.volunteer_id, **{k: m[k] for k in
                           ("x_min", "y_min", "x_max", "y_max")}} for m in ann["value"]]
    return votes, boxes, seen


def _population_prior(workflow: Workflow, votes: dict[str, list], n_iter: int) -> dict[str, list]:
    tree = TaskTree.from_dict(workflow.current_version.tree)
    gold = pd.DataFrame(list(GoldAnswer.objects.filter(subject__workflow=workflow, subject__is_gold=True)
                             .values("subject_id", "task", "value")), columns=["subject_id", "task", "value"])
    prior = {}
    for key, rows in votes.items():
        table = pd.DataFrame(rows)
        if len(table) < MIN_VOTES or table["worker"].nunique() < MIN_WORKERS or key not in tree.tasks:
            continue
        picked = gold[(gold["task"] == key) & gold["subject_id"].isin(table["task"])]
        task_gold = pd.DataFrame({"task": picked["subject_id"], "label": picked["value"]})
        model = HierarchicalDS(n_iter=n_iter, classes=tree.tasks[key].labels, random_state=0).fit(
            table, task_gold if len(task_gold) else None)
        prior[key] = model.population_alpha_.tolist()
    return prior


def workflow_engine_refit(*, workflow_id: int, n_iter: int = 5000) -> dict[str, Any]:
    """Refit the population prior and the box-worker parameters, store them, and recompute the state."""
    workflow = Workflow.objects.get(pk=workflow_id)
    votes, boxes, seen = _long_tables(workflow)
    prior = _population_prior(workflow, votes, n_iter)
    params = None
    if seen:
        box_table = pd.DataFrame(boxes, columns=["task", "worker", "x_min", "y_min", "x_max", "y_max"])
        fitted = LeanBoxAggregator().fit(box_table, pd.DataFrame(seen).drop_duplicates())
        params = fitted.worker_params_.rename_axis("worker").reset_index().to_dict("list")
    with transaction.atomic():
        locked = Workflow.objects.select_for_update(no_key=True).get(pk=workflow_id)
        state = dict(locked.engine_state)
        state["agent_prior"] = {**state.get("agent_prior", {}), **prior}
        if params is not None:
            state["box_worker_params"] = params
        state["refitted_at"] = timezone.now().isoformat()
        locked.engine_state = state
        locked.save(update_fields=["engine_state"])
    changed = workflow_recompute(workflow_id=workflow_id)
    for subject_id in {row["task"] for row in seen}:
        subject_boxes_aggregate(subject_id=subject_id)
    return {"prior_tasks": sorted(prior), "box_workers": len(params["worker"]) if params else 0,
            "changed": {k: len(v) for k, v in changed.items()},
            "subjects": Subject.objects.filter(workflow=workflow).count()}
