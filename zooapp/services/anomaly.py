"""Anomaly sessions: one researcher marks galaxies interesting or not, and the ranking learns their taste.

The ranking is `ml.represent.anomaly.GPRanker` on the workflow's embeddings (see `embeddings`): an
isolation-forest prior, moved by a Gaussian process on the researcher's labels. It is refitted on
each request, in well under a second at a few thousand subjects (docs/BENCHMARKS.md #13).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from zooapp.errors import NotFound, ValidationFailed
from zooapp.models import AnomalyLabel, AnomalySession, Subject, Workflow
from zooapp.services.embeddings import workflow_embeddings

MAX_TOP = 10_000
MIN_SUBJECTS = 3


@dataclass(frozen=True)
class RankedSubject:
    subject_id: int
    score: float  # expected interest in [0, 1] (a label's own value once labelled)
    std: float  # the Gaussian process's uncertainty (0 once labelled)
    label: bool | None


@dataclass(frozen=True)
class Ranking:
    model_version_id: int
    n_labels: int
    to_label: list[RankedSubject]  # what to show the researcher next (upper confidence bound)
    top: list[RankedSubject]  # the current best guesses, labelled interesting ones first


def anomaly_session_create(*, workflow: Workflow, owner, name: str = "") -> AnomalySession:
    """Start a saved session on a workflow; its name defaults to the date."""
    name = (name or "").strip()
    if len(name) > 200:
        raise ValidationFailed("a session name has at most 200 characters")
    from django.utils import timezone

    return AnomalySession.objects.create(workflow=workflow, owner=owner,
                                         name=name or f"Session of {timezone.now():%Y-%m-%d %H:%M}")


def anomaly_label_set(*, session: AnomalySession, subject_id: int, interesting: bool | None) -> None:
    """Mark a subject interesting (True) or not (False) in this session; None removes the mark."""
    if not Subject.objects.filter(pk=subject_id, workflow_id=session.workflow_id).exists():
        raise NotFound(f"subject {subject_id} is not in this session's workflow")
    with transaction.atomic():
        if interesting is None:
            AnomalyLabel.objects.filter(session=session, subject_id=subject_id).delete()
        else:
            AnomalyLabel.objects.update_or_create(session=session, subject_id=subject_id,
                                                  defaults={"interesting": bool(interesting)})
        session.save(update_fields=["updated_at"])  # the session list shows the last worked-on first


def _session_data(session: AnomalySession) -> tuple[int, np.ndarray, np.ndarray, dict[int, bool]]:
    """``(version id, subject ids (N,), vectors (N, D), {subject id: interesting})`` of the session's workflow."""
    version, ids, vectors = workflow_embeddings(workflow_id=session.workflow_id)
    if len(ids) < MIN_SUBJECTS:
        raise NotFound(f"only {len(ids)} of this workflow's subjects have embeddings; need {MIN_SUBJECTS}")
    labels = dict(AnomalyLabel.objects.filter(session=session).values_list("subject_id", "interesting"))
    return version.pk, ids, vectors, labels


def anomaly_ranking(*, session: AnomalySession, n_next: int = 12, n_top: int = 50) -> Ranking:
    """Refit the ranker on the session's labels; the next galaxies to judge and the current top ``n_top``."""
    from ml.represent.anomaly import GPRanker

    if not (1 <= n_next <= 200 and 1 <= n_top <= MAX_TOP):
        raise ValidationFailed(f"n_next must lie in 1..200 and n_top in 1..{MAX_TOP}")
    version_id, ids, vectors, labels = _session_data(session)
    row = {int(i): r for r, i in enumerate(ids)}
    labelled = np.array([row[i] for i in labels if i in row], dtype=np.int64)
    y = np.array([float(labels[int(ids[r])]) for r in labelled])
    ranker = GPRanker().fit(vectors, labelled, y)
    item = (lambda r: RankedSubject(int(ids[r]), float(ranker.mean_[r]), float(ranker.std_[r]),
                                    labels.get(int(ids[r]))))
    nxt = [item(r) for r in ranker.acquire(n_next, exclude=labelled)]
    # Labelled interesting first (the researcher said so), then the unlabelled by expected interest,
    # then those marked not interesting.
    key = np.where(np.isin(np.arange(len(ids)), labelled), np.where(ranker.mean_ > 0.5, 2.0, -1.0), ranker.mean_)
    order = np.lexsort((np.arange(len(ids)), -key))[:n_top]
    return Ranking(model_version_id=version_id, n_labels=len(labelled), to_label=nxt, top=[item(r) for r in order])


def anomaly_export_csv(*, session: AnomalySession, n: int = 100) -> str:
    """The session's top ``n`` as CSV: rank, subject id and external id, score, uncertainty, label, version."""
    ranking = anomaly_ranking(session=session, n_next=1, n_top=n)
    external = dict(Subject.objects.filter(pk__in=[r.subject_id for r in ranking.top])
                    .values_list("id", "external_id"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", "subject_id", "external_id", "interest", "uncertainty", "label", "model_version_id"])
    for rank, r in enumerate(ranking.top, start=1):
        label = "" if r.label is None else ("interesting" if r.label else "not_interesting")
        writer.writerow([rank, r.subject_id, external[r.subject_id], f"{r.score:.4f}", f"{r.std:.4f}", label,
                         ranking.model_version_id])
    return out.getvalue()
