"""Read-side summaries for the admin pages and the volunteer's own stats."""
from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.db.models import Avg, Count, OuterRef, Q, Subquery
from django.utils import timezone

from aggregation.schema import TaskTree
from zooapp.models import (Classification, ConsensusBox, Export, ModelVersion, Prediction, Reliability, Retirement,
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
    return {"workflow": workflow, "counts": counts, "gold": gold,
            "classifications": Classification.objects.filter(workflow=workflow).count(),
            "pending_aggregation": pending, "latest_models": latest, "retirement_reasons": reasons}


def workflow_live_counts(*, workflow: Workflow) -> dict[str, Any]:
    """The numbers the dashboard refreshes every few seconds, as plain JSON."""
    status = workflow_status(workflow=workflow)
    return {**status["counts"], "gold": status["gold"], "classifications": status["classifications"],
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
    if slope <= 0:
        return {"rate_per_day": float(slope), "eta": None, "remaining": remaining}
    eta = max(times[-1], timezone.now()) + dt.timedelta(days=remaining / slope)
    return {"rate_per_day": float(slope), "eta": eta, "remaining": remaining}


def max_posteriors(*, workflow: Workflow) -> list[float]:
    """Each classified subject's largest posterior probability for the retirement question."""
    task = workflow.retirement_rules.get("task", "T0")
    posts = SubjectPosterior.objects.filter(subject__workflow=workflow, subject__is_gold=False, task=task)
    return [float(p.probabilities.max()) for p in posts]


def volunteer_skills(*, workflow: Workflow, top: int = 6) -> list[dict[str, Any]]:
    """The busiest human volunteers' confusion matrices for the retirement question, with Dirichlet spread.

    Row i of ``alpha`` is a Dirichlet over the answers given when the truth is class i;
    its mean is alpha_ij / a_i and its standard deviation sqrt(m (1 - m) / (a_i + 1)).
    """
    task = workflow.retirement_rules.get("task", "T0")
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
    """How often the serving classifier's top answer equals the posterior's on retired subjects."""
    task = workflow.retirement_rules.get("task", "T0")
    preds = {p.subject_id: p.probs for p in Prediction.objects.filter(
        model_version__workflow=workflow, model_version__serving=True, model_version__kind="classifier", task=task,
        subject__status=Subject.Status.RETIRED, subject__is_gold=False)}
    posts = SubjectPosterior.objects.filter(subject_id__in=list(preds), task=task)
    labels: list[str] = []
    pairs = []
    for post in posts:
        labels = post.labels
        pairs.append((int(np.argmax(post.probabilities)), int(np.argmax(preds[post.subject_id]))))
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for human, machine in pairs:
        if human < len(labels) and machine < len(labels):
            matrix[human, machine] += 1
    agree = int(np.trace(matrix))
    return {"n": len(pairs), "agree": agree, "rate": agree / len(pairs) if pairs else None, "labels": labels,
            "matrix": matrix.tolist()}


def model_versions(*, workflow: Workflow) -> list[ModelVersion]:
    return list(ModelVersion.objects.filter(workflow=workflow).order_by("kind", "number"))


def queue_makeup(*, workflow: Workflow) -> dict[str, Any]:
    active = Subject.objects.filter(workflow=workflow, status=Subject.Status.ACTIVE)
    n_active = active.count()
    n_gold = active.filter(is_gold=True).count()
    return {"priorities": list(active.filter(is_gold=False).values_list("priority", flat=True)),
            "n_active": n_active, "n_gold": n_gold, "gold_percent": 100 * n_gold / n_active if n_active else None,
            "machine_retired": machine_retired_count(workflow=workflow)}


def rule_changes(*, workflow: Workflow, limit: int = 20) -> list[RuleChange]:
    return list(RuleChange.objects.filter(workflow=workflow).select_related("user").order_by("-created_at", "-id")
                [:limit])


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
    rules = workflow.retirement_rules
    tree = TaskTree.from_dict(workflow.current_version.tree)
    task = tree.tasks.get(rules.get("task", "T0"))
    timeline = retirement_timeline(workflow=workflow)
    boxes, agreement, queue = box_state(workflow=workflow), machine_agreement(workflow=workflow), queue_makeup(
        workflow=workflow)
    versions = model_versions(workflow=workflow)
    return {
        "status": workflow_status(workflow=workflow), "forecast": timeline["forecast"], "boxes": boxes,
        "agreement": agreement, "queue": queue, "versions": versions, "rule_changes": rule_changes(workflow=workflow),
        "exports": list(workflow.exports.select_related("requested_by").order_by("-id")[:20]),
        "questions": retirement_questions(workflow=workflow),
        "charts": {
            "retirement": charts.retirement_chart(timeline),
            "posteriors": charts.histogram_chart(
                max_posteriors(workflow=workflow), title="Largest posterior probability per subject",
                xlabel=f"max posterior, {rules.get('task', 'T0')}", value_range=(0, 1),
                marker=rules.get("posterior_threshold")),
            "skills": charts.skills_chart(volunteer_skills(workflow=workflow), task.labels if task else []),
            "box_risk": charts.histogram_chart(boxes["risks"], title="Box risk per image",
                                               xlabel="expected box errors per image",
                                               marker=rules.get("box_risk_threshold")),
            "agreement": charts.agreement_chart(agreement),
            "metrics": charts.metrics_chart(versions),
            "priority": charts.histogram_chart(queue["priorities"], title="Queue priority of active subjects",
                                               xlabel="priority (higher is served first)", value_range=(0, 1)),
        },
    }
