"""Subject embeddings under the serving classifier's encoder, and "more like this" searches on them.

A classifier version's embeddings cover every subject of its workflow's project, so one search can
be filtered by workflow and retirement. They are computed on the ML queue when the version starts
serving (`embeddings_refresh_request`, called from `machine.serving`) and can be refreshed by hand
(``manage.py embeddings_refresh``). Searches use `ml.represent.EmbeddingIndex` (faiss or NumPy),
kept per process and rebuilt when the stored rows change.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max

from zooapp.errors import NotFound, ValidationFailed
from zooapp.models import ModelVersion, Subject, SubjectEmbedding

MAX_K = 500
EMBED_CHUNK = 256  # subjects embedded and written per step: bounds memory and keeps progress visible
_INDEX_CACHE: dict[int, tuple[tuple[int, int], object]] = {}


def embedding_version(*, workflow_id: int) -> ModelVersion | None:
    """The classifier version whose embeddings a workflow's searches use.

    The serving version once its embeddings exist; while they are being computed, the newest
    version that has some (so searches keep working across a refresh); None if there are none.
    """
    versions = (ModelVersion.objects.filter(workflow_id=workflow_id, kind=ModelVersion.Kind.CLASSIFIER)
                .annotate(n_embedded=Count("embeddings")).filter(n_embedded__gt=0))
    return versions.filter(serving=True).first() or versions.order_by("-number").first()


def embedding_matrix(*, model_version: ModelVersion) -> tuple[np.ndarray, np.ndarray]:
    """``(ids (N,), vectors (N, D) float32)`` of a version's stored embeddings, ordered by subject id."""
    rows = list(SubjectEmbedding.objects.filter(model_version=model_version).order_by("subject_id")
                .values_list("subject_id", "vector"))
    if not rows:
        return np.empty(0, np.int64), np.empty((0, 0), np.float32)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return ids, np.stack([np.frombuffer(bytes(r[1]), dtype="<f4") for r in rows])


def workflow_embeddings(*, workflow_id: int) -> tuple[ModelVersion, np.ndarray, np.ndarray]:
    """``(version, ids (N,), vectors (N, D))``: the embeddings of one workflow's own subjects.

    A version embeds its whole project, so the rows of other workflows are dropped here.
    Raises NotFound, saying what to run, when the workflow has none yet.
    """
    version = embedding_version(workflow_id=workflow_id)
    if version is None:
        raise NotFound("this workflow has no embeddings yet: serve a classifier version, "
                       "or run `manage.py embeddings_refresh --workflow N`")
    ids, vectors = embedding_matrix(model_version=version)
    mine = np.isin(ids, np.fromiter(Subject.objects.filter(workflow_id=workflow_id).values_list("id", flat=True),
                                    dtype=np.int64))
    return version, ids[mine], vectors[mine]


def embedding_index(*, model_version: ModelVersion):
    """The version's `EmbeddingIndex`, cached per process until its rows change."""
    from ml.represent.index import EmbeddingIndex

    stamp = SubjectEmbedding.objects.filter(model_version=model_version).aggregate(n=Count("id"), last=Max("id"))
    key = (stamp["n"], stamp["last"] or 0)
    cached = _INDEX_CACHE.get(model_version.pk)
    if cached is None or cached[0] != key:
        ids, vectors = embedding_matrix(model_version=model_version)
        cached = (key, EmbeddingIndex(vectors, ids) if len(ids) else None)
        _INDEX_CACHE[model_version.pk] = cached
    return cached[1]


def _candidates(*, project_id: int, workflow_id: int | None, status: str | None) -> np.ndarray | None:
    """Ids a search may return under the filters; None when nothing is filtered."""
    if workflow_id is None and status is None:
        return None
    subjects = Subject.objects.filter(workflow__project_id=project_id)
    if workflow_id is not None:
        subjects = subjects.filter(workflow_id=workflow_id)
    if status is not None:
        subjects = subjects.filter(status=status)
    return np.fromiter(subjects.values_list("id", flat=True), dtype=np.int64)


def _query_subjects(subject_ids: Sequence[int], k: int, status: str | None) -> list[Subject]:
    """The query subjects, after checking the request; raises on bad input."""
    if not subject_ids:
        raise ValidationFailed("give at least one subject id to search from")
    if not 1 <= k <= MAX_K:
        raise ValidationFailed(f"k must lie between 1 and {MAX_K}, got {k}")
    if status is not None and status not in Subject.Status.values:
        raise ValidationFailed(f"status must be one of {', '.join(Subject.Status.values)}, got {status!r}")
    wanted = {int(i) for i in subject_ids}
    subjects = list(Subject.objects.filter(pk__in=wanted).select_related("workflow"))
    missing = wanted - {s.pk for s in subjects}
    if missing:
        raise NotFound(f"no subject with id {', '.join(map(str, sorted(missing)))}")
    if len({s.workflow.project_id for s in subjects}) > 1:
        raise ValidationFailed("the query subjects belong to different projects; search one project at a time")
    return subjects


def subjects_similar_to(*, subject_ids: Sequence[int], k: int = 20, workflow_id: int | None = None,
                        status: str | None = None, exclude_ids: Collection[int] = ()) -> list[tuple[int, float]]:
    """The ``k`` subjects most like the mean embedding of ``subject_ids``, best first, with cosine similarity.

    The query subjects themselves and ``exclude_ids`` are never returned. ``workflow_id`` and
    ``status`` (``active`` or ``retired``) restrict the candidates. Uses the embeddings of the
    first query subject's workflow's serving classifier (see `embedding_version`); returns ``[]``
    while none exist, or when none of the query subjects has an embedding yet.
    """
    subjects = _query_subjects(subject_ids, k, status)
    if workflow_id is not None and not Subject.objects.filter(workflow_id=workflow_id).exists():
        raise NotFound(f"workflow {workflow_id} has no subjects (or does not exist)")
    version = embedding_version(workflow_id=subjects[0].workflow_id)
    index = embedding_index(model_version=version) if version is not None else None
    if index is None:
        return []
    rows = np.flatnonzero(np.isin(index.ids, [s.pk for s in subjects]))
    if len(rows) == 0:
        return []
    query = index.vectors[rows].mean(axis=0)
    exclude = np.asarray(sorted({s.pk for s in subjects} | {int(i) for i in exclude_ids}), dtype=np.int64)
    allowed = _candidates(project_id=subjects[0].workflow.project_id, workflow_id=workflow_id, status=status)
    ids, scores = index.search(query, k=k, exclude=exclude, allowed=allowed)
    return [(int(i), float(s)) for i, s in zip(ids, scores)]


def embeddings_refresh(*, model_version_id: int, progress: bool = False, only_missing: bool = True) -> int:
    """Embed the project's subjects with a classifier version's encoder; returns how many were written.

    With ``only_missing`` (the default) subjects that already have an embedding under this version
    are skipped, so an interrupted refresh resumes. Written in chunks, each in one transaction.
    """
    from ml.represent.embed import embed_tensor, encoders_from_checkpoint
    from ml.data import load_images

    version = ModelVersion.objects.select_related("workflow").filter(
        pk=model_version_id, kind=ModelVersion.Kind.CLASSIFIER).first()
    if version is None:
        raise NotFound(f"no classifier version with id {model_version_id}")
    if not Path(version.file).exists():
        raise NotFound(f"classifier version {version.number}'s checkpoint {version.file} is missing")
    subjects = Subject.objects.filter(workflow__project_id=version.workflow.project_id).order_by("id")
    if only_missing:
        subjects = subjects.exclude(embeddings__model_version=version)
    subjects = list(subjects.prefetch_related("frames"))
    encoders, size = encoders_from_checkpoint(Path(version.file))
    written = 0
    for start in _progress(range(0, len(subjects), EMBED_CHUNK), progress, len(subjects)):
        chunk = subjects[start:start + EMBED_CHUNK]
        x, _ = load_images([Path(s.frames.all()[0].image.path) for s in chunk], size)
        vectors = embed_tensor(encoders, x, views=settings.ZOOLOOP_PREDICT_VIEWS)
        with transaction.atomic():
            SubjectEmbedding.objects.filter(model_version=version, subject__in=chunk).delete()
            SubjectEmbedding.objects.bulk_create([
                SubjectEmbedding(model_version=version, subject=s, vector=v.astype("<f4").tobytes())
                for s, v in zip(chunk, vectors)])
        written += len(chunk)
    return written


def _progress(steps: range, progress: bool, total: int):
    """``steps``, with a tqdm bar counting subjects (shown only when ``progress``)."""
    from tqdm import tqdm

    with tqdm(total=total, desc="embed subjects", unit="subject", disable=not progress) as bar:
        for step in steps:
            yield step
            bar.update(min(EMBED_CHUNK, total - step))


def embeddings_refresh_request(*, model_version_id: int) -> None:
    """Queue `embeddings_refresh` on the ML queue once the current transaction commits.

    ``robust``: the version serves whatever happens to its embeddings; a failure is logged, and searches
    keep using the previous version's embeddings until a refresh succeeds.
    """
    from zooapp import tasks

    transaction.on_commit(lambda: tasks.predict_embeddings.delay(model_version_id), robust=True)


def subjects_similar_with_rows(*, subject_ids: Sequence[int], k: int = 20, workflow_id: int | None = None,
                               status: str | None = None) -> list[tuple[Subject, float]]:
    """`subjects_similar_to`, with each subject row (frames prefetched) in place of its id."""
    found = subjects_similar_to(subject_ids=subject_ids, k=k, workflow_id=workflow_id, status=status)
    rows = Subject.objects.prefetch_related("frames").in_bulk([i for i, _ in found])
    return [(rows[i], score) for i, score in found if i in rows]
