"""Retirement: rules stored as data on the workflow, decided by `aggregation.retirement`."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
from django.db import transaction

from aggregation.retirement import Evidence, RetirementRules, decide
from zooapp.models import ModelVersion, Prediction, Retirement, RuleChange, Subject, SubjectPosterior, Workflow


class RulesRejected(ValueError):
    pass


def _machine_probs(workflow: Workflow, subject_ids: Iterable[int], task: str) -> dict[int, np.ndarray]:
    # Only a version calibrated on the held-out set stores probabilities worth retiring on (services/machine).
    rows = Prediction.objects.filter(model_version__workflow=workflow, model_version__serving=True,
                                     model_version__kind=ModelVersion.Kind.CLASSIFIER,
                                     model_version__calibration__isnull=False, subject_id__in=subject_ids, task=task)
    return {p.subject_id: np.asarray(p.probs, dtype=float) for p in rows}


def _evidence(subject: Subject, posterior: SubjectPosterior | None, machine: np.ndarray | None) -> Evidence:
    probs = posterior.probabilities if posterior else np.array([])
    return Evidence(n_classifications=subject.n_classifications, posterior=probs, box_risk=subject.box_risk,
                    machine_probs=machine)


def subjects_retire_if_due(*, workflow: Workflow, subject_ids: Iterable[int]) -> list[int]:
    """Retire the active, non-gold subjects among ``subject_ids`` whose evidence fires a rule."""
    rules = workflow.rules
    subjects = list(Subject.objects.select_for_update(no_key=True).filter(
        pk__in=list(subject_ids), status=Subject.Status.ACTIVE, is_gold=False))
    posts = {p.subject_id: p for p in SubjectPosterior.objects.filter(subject__in=subjects, task=rules.task)}
    machine = _machine_probs(workflow, [s.pk for s in subjects], rules.task) if rules.machine_threshold else {}
    retired = []
    for subject in subjects:
        evidence = _evidence(subject, posts.get(subject.pk), machine.get(subject.pk))
        reason = decide(rules, evidence)
        if reason:
            _set_status(subject, Retirement.Action.RETIRE, reason, rules, evidence)
            retired.append(subject.pk)
    return retired


def _set_status(subject: Subject, action: str, reason: str, rules: RetirementRules, evidence: Evidence) -> None:
    subject.status = Subject.Status.RETIRED if action == Retirement.Action.RETIRE else Subject.Status.ACTIVE
    subject.save(update_fields=["status"])
    machine = reason == "machine_threshold"
    version = ModelVersion.objects.filter(workflow_id=subject.workflow_id, kind=ModelVersion.Kind.CLASSIFIER,
                                          serving=True).first() if machine else None
    Retirement.objects.create(subject=subject, action=action, reason=reason, agent="machine" if machine else "humans",
                              model_version=version, rules=rules.to_dict(), posterior=evidence.posterior.tolist(),
                              n_classifications=subject.n_classifications)


def workflow_rules_update(*, workflow: Workflow, user, rules: dict[str, Any]) -> Workflow:
    """Change a workflow's retirement rules, keeping an audit row with the old and new values."""
    try:
        clean = RetirementRules.from_dict(rules).to_dict()
    except (ValueError, TypeError) as exc:
        raise RulesRejected(str(exc)) from None
    with transaction.atomic():
        locked = Workflow.objects.select_for_update(no_key=True).get(pk=workflow.pk)
        RuleChange.objects.create(workflow=locked, user=user, old=locked.retirement_rules, new=clean)
        locked.retirement_rules = clean
        locked.save(update_fields=["retirement_rules"])
    return locked


@transaction.atomic
def workflow_rules_reapply(*, workflow_id: int) -> dict[str, int]:
    """Re-decide every non-gold subject under the current rules: retires and un-retires."""
    workflow = Workflow.objects.select_for_update(no_key=True).get(pk=workflow_id)
    rules = workflow.rules
    subjects = list(Subject.objects.select_for_update(no_key=True).filter(workflow=workflow, is_gold=False))
    posts = {p.subject_id: p for p in SubjectPosterior.objects.filter(subject__workflow=workflow, task=rules.task)}
    machine = _machine_probs(workflow, [s.pk for s in subjects], rules.task) if rules.machine_threshold else {}
    changed = {"retired": 0, "unretired": 0}
    for subject in subjects:
        evidence = _evidence(subject, posts.get(subject.pk), machine.get(subject.pk))
        reason = decide(rules, evidence)
        if reason and not subject.is_retired:
            _set_status(subject, Retirement.Action.RETIRE, reason, rules, evidence)
            changed["retired"] += 1
        elif not reason and subject.is_retired:
            _set_status(subject, Retirement.Action.UNRETIRE, "rules_reapplied", rules, evidence)
            changed["unretired"] += 1
    return changed
