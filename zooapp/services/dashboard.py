"""Read-side summaries for the admin pages and the volunteer's own stats."""
from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.db.models import Avg, Count, OuterRef, Q, Subquery
from django.utils import timezone

from aggregation.schema import TaskTree
from zooapp.models import (Classification, ConsensusBox, Export, ModelVersion, Reliability, Retirement,
                           RuleChange, Subject, SubjectPosterior, Volunteer, Workflow)
from zooapp.services import dashboard_charts as charts

FORECAST_WINDOW = 50  # retirements used for the recent-rate fit


def workflow_status(*, workflow: Workflow) -> dict[str, Any]:
    counts = Subject.objects.filter(workflow=workflow, is_gold=False).aggregate(
        total=Count("id"),
        retired=Count("id", filter=Q(status=Subject.Status.RETIRED)),
        untouched=Count("id", filter=Q(status=Subject.Status.ACTIVE, n_classifications=0)),
    )
    counts["active"] = counts["total"] - counts["retired"] - counts["untouched"]
    latest = {kind: ModelVersion.objects.filter(workflow=workflow, kind=kind).order_by("-number").first()
              for kind in ModelVersion.Kind.values}
    pending = Classification.objects.filter(workflow=workflow, aggregation_seq__isnull=True).count()
    reasons = dict(Retirement.objects.filter(subject__workflow=workflow, action=Retirement.Action.RETIRE)
                   .values_list("reason").annotate(n=Count("id")))
    gold = Subject.objects.filter(workflow=workflow, is_gold=True).count()
    kinds = Classification.objects.filter(workflow=workflow).aggregate(
        human=Count("id", filter=Q(volunteer__kind=Volunteer.Kind.HUMAN)),
        machine=Count("id", filter=~Q(volunteer__kind=Volunteer.Kind.HUMAN)))
    return {"workflow": workflow, "counts": counts, "gold": gold, "human_classifications": kinds["human"],
            "machine_classifications": kinds["machine"], "classifications": kinds["human"] + kinds["machine"],
            "pending_aggregation": pending, "latest_models": latest, "retirement_reasons": reasons}


def workflow_live_counts(*, workflow: Workflow) -> dict[str, Any]:
    """The numbers the dashboard refreshes every few seconds, as plain JSON."""
    status = workflow_status(workflow=workflow)
    return {**status["counts"], "gold": status["gold"], "classifications": status["classifications"],
            "human_classifications": status["human_classifications"],
            "machine_classifications": status["machine_classifications"],
            "pending_aggregation": status["pending_aggregation"],
            "machine_retired": machine_retired_count(workflow=workflow),
            "exports": [export_status(export=e) for e in workflow.exports.order_by("-id")[:10]]}


def export_status(*, export: Export) -> dict[str, Any]:
    return {"id": export.pk, "kind": export.kind, "format": export.format, "status": export.status,
            "progress": export.progress, "n_rows": export.n_rows, "error": export.error,
            "created_at": export.created_at.isoformat()}


def machine_retired_count(*, workflow: Workflow) -> int:
    """Retired subjects whose latest retirement was decided on the machine's evidence."""
    latest = Retirement.objects.filter(subject=OuterRef("pk")).order_by("-created_at", "-id").values("agent")[:1]
    return (Subject.objects.filter(workflow=workflow, status=Subject.Status.RETIRED)
            .annotate(agent=Subquery(latest)).filter(agent="machine").count())


def retirement_timeline(*, workflow: Workflow) -> dict[str, Any]:
    """Retired subjects over time, and when all would be retired at the recent rate.

    The forecast fits a straight line to the last ``FORECAST_WINDOW`` retirement events
    (count against time) and extends it to the number of non-gold subjects.
    """
    events = list(Retirement.objects.filter(subject__workflow=workflow, subject__is_gold=False)
                  .order_by("created_at", "id").values_list("created_at", "action"))
    total = Subject.objects.filter(workflow=workflow, is_gold=False).count()
    times, counts, n = [], [], 0
    for when, action in events:
        n += 1 if action == Retirement.Action.RETIRE else -1
        times.append(when)
        counts.append(n)
    return {"times": times, "counts": counts, "total": total,
            "forecast": _forecast(times[-FORECAST_WINDOW:], counts[-FORECAST_WINDOW:], total)}


def _forecast(times: list[dt.datetime], counts: list[int], total: int) -> dict[str, Any] | None:
    if len(times) < 2 or (times[-1] - times[0]).total_seconds() <= 0:
        return None
    days = np.array([(t - times[0]).total_seconds() / 86400 for t in times])
    slope, _ = np.polyfit(days, np.asarray(counts, dtype=float), 1)
    remaining = total - counts[-1]
    # Galaxies retire whole: the page shows the rate as a whole number a day and the end as a date.
    whole = {"galaxies_per_day": int(round(slope)) if slope >= 0.5 else None}
    if slope <= 0:
        return {"rate_per_day": float(slope), "eta": None, "remaining": remaining, **whole}
    eta = max(times[-1], timezone.now()) + dt.timedelta(days=remaining / slope)
    return {"rate_per_day": float(slope), "eta": eta, "remaining": remaining, **whole}


def max_posteriors(*, workflow: Workflow) -> list[float]:
    """Each classified subject's largest posterior probability for the retirement question."""
    task = workflow.rules.task
    posts = SubjectPosterior.objects.filter(subject__workflow=workflow, subject__is_gold=False, task=task)
    return [float(p.probabilities.max()) for p in posts]


def volunteer_skills(*, workflow: Workflow, top: int = 6) -> list[dict[str, Any]]:
    """The busiest human volunteers' confusion matrices for the retirement question, with Dirichlet spread.

    Row i of ``alpha`` is a Dirichlet over the answers given when the truth is class i;
    its mean is alpha_ij / a_i and its standard deviation sqrt(m (1 - m) / (a_i + 1)).
    """
    task = workflow.rules.task
    rels = (Reliability.objects.filter(workflow=workflow, task=task, volunteer__kind=Volunteer.Kind.HUMAN)
            .select_related("volunteer__user").order_by("-n_votes", "-skill")[:top])
    out = []
    for rel in rels:
        alpha = np.asarray(rel.alpha, dtype=float)
        rows = alpha.sum(axis=1, keepdims=True)
        mean = alpha / rows
        out.append({"name": str(rel.volunteer), "n_votes": rel.n_votes, "n_gold": rel.n_gold, "skill": rel.skill,
                    "mean": mean.tolist(), "std": np.sqrt(mean * (1 - mean) / (rows + 1)).tolist()})
    return out


def box_state(*, workflow: Workflow) -> dict[str, Any]:
    subjects = Subject.objects.filter(workflow=workflow, is_gold=False)
    boxes = ConsensusBox.objects.filter(subject__workflow=workflow, subject__is_gold=False)
    return {"n_seen": subjects.filter(box_risk__isnull=False).count(),
            "n_with_boxes": boxes.values("subject_id").distinct().count(), "n_boxes": boxes.count(),
            "mean_p_real": boxes.aggregate(m=Avg("p_real"))["m"],
            "risks": list(subjects.filter(box_risk__isnull=False).values_list("box_risk", flat=True))}


def machine_agreement(*, workflow: Workflow) -> dict[str, Any]:
    """The serving classifier's confusion on the common held-out set (rows: known answer, columns: its answer).

    Measured when the version was judged, on galaxies no version trained on (`services.machine.holdout`).
    """
    task = workflow.rules.task
    serving = ModelVersion.objects.filter(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, serving=True).first()
    scored = ((serving.metrics if serving else {}).get("holdout") or {}).get(task)
    if not scored:
        return {"n": 0, "agree": 0, "rate": None, "labels": [], "matrix": []}
    matrix = np.asarray(scored["confusion"], dtype=int)
    tree = TaskTree.from_dict(workflow.current_version.tree)
    labels = tree.tasks[task].labels if task in tree.tasks else [str(i) for i in range(len(matrix))]
    n, agree = int(matrix.sum()), int(np.trace(matrix))
    return {"n": n, "agree": agree, "rate": agree / n if n else None, "labels": labels, "matrix": matrix.tolist(),
            "version": serving.number}


def model_versions(*, workflow: Workflow) -> list[dict[str, Any]]:
    """Every version with its scalar metrics (the held-out scores are in `model_comparison`)."""
    return [{"version": v, "metrics": {k: x for k, x in v.metrics.items() if isinstance(x, (int, float))}}
            for v in ModelVersion.objects.filter(workflow=workflow).order_by("kind", "number")]


def training_throughput(versions: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(classifier version, training images per second) for the versions that recorded it."""
    return [(row["version"].number, row["metrics"]["train_images_per_s"]) for row in versions
            if row["version"].kind == ModelVersion.Kind.CLASSIFIER and "train_images_per_s" in row["metrics"]]


def model_comparison(*, workflow: Workflow) -> list[dict[str, Any]]:
    """Per classifier version, its accuracy on the common held-out set with the 95% interval, and how it was judged.

    ``vs_serving`` is the paired difference in accuracy against the version serving when it was
    judged, on the same galaxies (`services.machine.versions.at_least_as_good`).
    """
    task = workflow.rules.task
    rows = []
    for v in ModelVersion.objects.filter(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER).order_by("number"):
        scored = (v.metrics.get("holdout") or {}).get(task)
        if not scored:
            continue
        lower, upper = scored["interval"]
        rows.append({"number": v.number, "n": scored["n"], "accuracy": scored["accuracy"], "lower": lower,
                     "upper": upper, "ece": scored["ece"], "vs_serving": v.metrics.get("holdout_comparison"),
                     "serving": v.serving, "calibrated": v.calibration is not None})
    return rows


def queue_makeup(*, workflow: Workflow) -> dict[str, Any]:
    active = Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE)
    n_active = active.count()
    n_gold = active.filter(is_gold=True).count()
    return {"priorities": list(active.filter(is_gold=False).values_list("priority", flat=True)),
            "n_active": n_active, "n_gold": n_gold, "gold_percent": 100 * n_gold / n_active if n_active else None,
            "machine_retired": machine_retired_count(workflow=workflow)}


def rule_changes(*, workflow: Workflow, limit: int = 20) -> list[dict[str, Any]]:
    """The rules audit, newest first, each change as a diff: only the rules that changed, before and after."""
    changes = RuleChange.objects.filter(workflow=workflow).select_related("user").order_by("-created_at", "-id")
    return [{"change": c, "created_at": c.created_at, "user": c.user, "diff": rules_diff(old=c.old, new=c.new)}
            for c in changes[:limit]]


def rules_diff(*, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"rule", "before", "after"}]`` for every rule whose value changed (``None``: not set)."""
    return [{"rule": key, "before": old.get(key), "after": new.get(key)}
            for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def volunteer_stats(*, volunteer: Volunteer) -> dict[str, Any]:
    mine = Classification.objects.filter(volunteer=volunteer)
    helped = Subject.objects.filter(classifications__volunteer=volunteer, status=Subject.Status.RETIRED).distinct()
    return {"volunteer": volunteer, "n_classifications": mine.count(), "n_retired_helped": helped.count(),
            "favourites": list(volunteer.favourites.select_related("subject").order_by("-created_at")[:50]),
            "recent": list(mine.select_related("subject").order_by("-id")[:10])}


def retirement_questions(*, workflow: Workflow) -> list[str]:
    """Keys of the single-answer questions: the ones a retirement rule can decide on."""
    return [q.key for q in TaskTree.from_dict(workflow.current_version.tree).questions() if q.type == "single"]


def workflow_dashboard(*, workflow: Workflow) -> dict[str, Any]:
    """Everything the workflow dashboard shows, charts drawn as inline SVG."""
    rules = workflow.rules
    tree = TaskTree.from_dict(workflow.current_version.tree)
    task = tree.tasks.get(rules.task)
    timeline = retirement_timeline(workflow=workflow)
    boxes, agreement, queue = box_state(workflow=workflow), machine_agreement(workflow=workflow), queue_makeup(
        workflow=workflow)
    versions, comparison = model_versions(workflow=workflow), model_comparison(workflow=workflow)
    return {
        "status": workflow_status(workflow=workflow), "forecast": timeline["forecast"], "boxes": boxes,
        "agreement": agreement, "queue": queue, "versions": versions, "comparison": comparison,
        "rule_changes": rule_changes(workflow=workflow),
        "exports": list(workflow.exports.select_related("requested_by").order_by("-id")[:20]),
        "questions": retirement_questions(workflow=workflow),
        "charts": {
            "retirement": charts.retirement_chart(timeline),
            "posteriors": charts.histogram_chart(
                max_posteriors(workflow=workflow), title="Largest posterior probability per subject",
                xlabel=f"max posterior, {rules.task}", value_range=(0, 1), marker=rules.posterior_threshold),
            "skills": charts.skills_chart(volunteer_skills(workflow=workflow), task.labels if task else []),
            "box_risk": charts.histogram_chart(boxes["risks"], title="Box risk per image",
                                               xlabel="expected box errors per image",
                                               marker=rules.box_risk_threshold),
            "agreement": charts.agreement_chart(agreement),
            "metrics": charts.comparison_chart(comparison, throughput=training_throughput(versions)),
            "priority": charts.histogram_chart(queue["priorities"], title="Queue priority of active subjects",
                                               xlabel="priority (higher is served first)", value_range=(0, 1)),
        },
    }
