"""The dashboard's "what if": a small simulation of a workflow's own tree and rules before launch.

The run uses a throwaway project in the live database (deleted when it ends), a
synthetic survey of ``WHATIF_GALAXIES`` galaxies and the simulated GZ2-like crowd.
Simulated volunteers answer from the synthetic truth the questions whose keys and
answers match the demo tree (T0-T4) and answer any other question at random, so the
accuracy figure is meaningful for the first question of a Galaxy-Zoo-like tree.
The result is a small JSON file per workflow, read back by the page.
"""
from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from zooapp.models import Workflow
from zooapp.services.simulation.run import SimulationConfig, simulation_run

WHATIF_GALAXIES = 150


def _result_path(workflow_id: int) -> Path:
    return Path(settings.VAR_DIR) / "whatif" / f"workflow-{workflow_id}.json"


def _write(workflow_id: int, payload: dict[str, Any]) -> None:
    path = _result_path(workflow_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)  # readers never see half a file


def workflow_whatif_result(*, workflow_id: int) -> dict[str, Any] | None:
    """The last what-if of a workflow: ``{"status": "running" | "done" | "failed", ...}``, or None."""
    path = _result_path(workflow_id)
    return json.loads(path.read_text()) if path.is_file() else None


def workflow_whatif_request(*, workflow: Workflow, n_galaxies: int | None = None) -> None:
    """Mark a what-if as running and queue it as a Celery task."""
    from zooapp import tasks  # tasks import services; importing here keeps the graph acyclic at load time

    n_galaxies = n_galaxies or WHATIF_GALAXIES

    _write(workflow.pk, {"status": "running", "requested_at": timezone.now().isoformat(),
                         "n_galaxies": n_galaxies})
    transaction.on_commit(lambda: tasks.simulate_whatif.delay(workflow.pk, n_galaxies))


def _config(workflow: Workflow, n_galaxies: int, seed: int) -> SimulationConfig:
    rules = dict(workflow.retirement_rules)
    machine = rules.get("machine_threshold") is not None
    return SimulationConfig(n_galaxies=n_galaxies, n_gold=max(5, n_galaxies // 20), seed=seed,
                            policies=("machine",) if machine else ("platform",), tree=workflow.current_version.tree,
                            rules=rules, machine_threshold=rules.get("machine_threshold") or 0.9,
                            retrain_every=workflow.retrain_every, gold_rate_start=workflow.gold_rate_start,
                            gold_rate_end=workflow.gold_rate_end, progress=False)


def workflow_whatif_run(*, workflow_id: int, n_galaxies: int = WHATIF_GALAXIES, seed: int = 0) -> dict[str, Any]:
    """Simulate the workflow's tree and rules and store the expected effort and accuracy."""
    workflow = Workflow.objects.select_related("project").get(pk=workflow_id)
    try:
        report = simulation_run(config=_config(workflow, n_galaxies, seed))
    except Exception:
        _write(workflow_id, {"status": "failed", "error": traceback.format_exc(limit=3)})
        raise
    (policy,) = report["policies"].values()
    first = next(iter(policy["questions"].values()), {})
    result = {"status": "done", "finished_at": timezone.now().isoformat(), "n_galaxies": n_galaxies,
              "rules": policy["rules"], "policy": policy["title"], "n_retired": policy["n_retired"],
              "human_per_retired": policy["human_per_retired"], "effort_per_retired": policy["effort_per_retired"],
              "steps_to_retire_90": policy["steps_to_retire_90"], "retired_by": policy["retired_by"],
              "questions": {key: q["accuracy"] for key, q in policy["questions"].items()},
              "first_question_accuracy": first.get("accuracy"), "ece": policy["calibration"]["ece"],
              "box_f1": (policy["boxes"] or {}).get("f1"), "timeline": policy["timeline"]}
    _write(workflow_id, result)
    return result
