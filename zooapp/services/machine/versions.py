"""Model versions of both kinds: numbering, files, the serving flag, and the rule for serving a new one."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import Max

from ml.device import runtime
from zooapp.models import ModelVersion, Workflow
from zooapp.services.schedule import TRAINING_LOCK_KEY

Z_95 = 1.959963984540054  # two-sided 95% normal quantile
TRAINING_LOCK_S = 6 * 3600


def version_serving(*, workflow: Workflow, kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(workflow=workflow, kind=kind, serving=True).first()


def version_next(*, workflow: Workflow, kind: str) -> tuple[int, Path]:
    """The next version number of ``kind`` and the folder its checkpoint goes to."""
    number = (ModelVersion.objects.filter(workflow=workflow, kind=kind).aggregate(n=Max("number"))["n"] or 0) + 1
    return number, Path(settings.ZOOLOOP_MODEL_DIR) / f"workflow-{workflow.pk}" / f"{kind}-v{number}"


def version_record(*, workflow: Workflow, kind: str, number: int, result: dict, **fields) -> ModelVersion:
    """Store a trained version (not serving yet) from a trainer's result dict."""
    return ModelVersion.objects.create(workflow=workflow, kind=kind, number=number, file=str(result["checkpoint"]),
                                       n_train=result["n_train"], n_val=result["n_val"],
                                       metrics=finite(result["metrics"]), device=runtime().device.type, **fields)


def version_mark_serving(*, version: ModelVersion) -> None:
    """Flip the serving flag to ``version``; call inside the transaction that stores its predictions."""
    (ModelVersion.objects.filter(workflow_id=version.workflow_id, kind=version.kind, serving=True)
     .exclude(pk=version.pk).update(serving=False))
    ModelVersion.objects.filter(pk=version.pk).update(serving=True)
    version.serving = True


@contextlib.contextmanager
def training_lock(*, workflow_id: int, kind: str) -> Iterator[bool]:
    """Yield whether this process may train ``kind`` for the workflow (one trainer per workflow and kind)."""
    key = TRAINING_LOCK_KEY.format(kind=kind, workflow_id=workflow_id)
    acquired = cache.add(key, 1, timeout=TRAINING_LOCK_S)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(key)


def paired_difference(candidate: Sequence[float], serving: Sequence[float]) -> dict[str, float]:
    """Mean of ``candidate_i - serving_i`` over the same items, with its 95% normal interval.

    One item (a point estimate, such as the detector's validation F1) has no spread: its interval is the point.
    """
    d = np.asarray(candidate, dtype=float) - np.asarray(serving, dtype=float)
    if d.size == 0:
        raise ValueError("a paired comparison needs at least one item scored by both versions")
    half = Z_95 * d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else 0.0
    return {"mean": float(d.mean()), "lower": float(d.mean() - half), "upper": float(d.mean() + half),
            "n": int(d.size)}


def at_least_as_good(candidate: Sequence[float], serving: Sequence[float] | None) -> bool:
    """Whether a candidate version replaces the serving one, on per-item scores of the same items.

    Both versions are scored on the same items (for the classifier, correctness on each galaxy
    of the common held-out set), so the comparison is paired: ``d_i = candidate_i - serving_i``.
    The candidate serves unless it is worse beyond the 95% uncertainty of the mean difference,
    i.e. when the upper bound of ``mean(d)`` is at least 0. Paired, because two versions err on
    the same hard galaxies: the unpaired rule "candidate's upper bound >= serving's point"
    would pass a version several points worse on a few dozen galaxies. A tie serves, since the
    newer version was trained on more labels. With nothing serving, or no item scored yet
    (no held-out galaxy has a known answer), the candidate serves for the same reason.
    """
    if serving is None or len(candidate) == 0:
        return True
    return paired_difference(candidate, serving)["upper"] >= 0.0


def finite(metrics: dict) -> dict:
    """JSON has no NaN: a metric that could not be computed (say, no validation boxes) is stored as null."""
    return {k: (float(v) if np.isfinite(v) else None) if isinstance(v, (int, float)) else v
            for k, v in metrics.items()}
