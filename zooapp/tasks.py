"""Celery tasks: they take ids, call one service, and own the retry policy."""
from __future__ import annotations

from celery import shared_task

from zooapp.services import aggregation as agg_services
from zooapp.services import exports as export_services
from zooapp.services import imports as import_services
from zooapp.services import schedule
from zooapp.services import volunteers as volunteer_services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=10)
def aggregate_workflow(workflow_id: int) -> int:
    n = agg_services.workflow_aggregate_all(workflow_id=workflow_id)
    if schedule.workflow_needs_retraining(workflow_id=workflow_id):
        train_classifier.delay(workflow_id)
    return n


@shared_task
def aggregate_sweep() -> int:
    """Catch classifications whose aggregation message was lost (broker restart, killed worker)."""
    ids = agg_services.workflows_with_pending()
    for workflow_id in ids:
        aggregate_workflow.delay(workflow_id)
    return len(ids)


@shared_task(acks_late=True, time_limit=6 * 3600)
def train_classifier(workflow_id: int) -> int | None:
    # torch loads only in processes that train or predict: web processes and aggregation workers stay light.
    from zooapp.services.machine.classifier import classifier_train

    version = classifier_train(workflow_id=workflow_id)
    return version.pk if version else None


@shared_task(acks_late=True, time_limit=6 * 3600)
def train_detector(workflow_id: int) -> int | None:
    from zooapp.services.machine.detector import detector_train

    version = detector_train(workflow_id=workflow_id)
    return version.pk if version else None


@shared_task
def train_sweep() -> int:
    """Celery beat's retraining schedule: every workflow with enough new labels retrains both models."""
    ids = schedule.workflows_due_for_training()
    for workflow_id in ids:
        train_classifier.delay(workflow_id)
        train_detector.delay(workflow_id)
    return len(ids)


@shared_task(acks_late=True, time_limit=6 * 3600)
def export_catalogue(export_id: int) -> str:
    return export_services.export_run(export_id=export_id).status


@shared_task(acks_late=True, time_limit=6 * 3600)
def import_zooniverse(project_id: int, classifications_path: str, workflows_path: str,
                      zooniverse_workflow_id: int | None = None, version: str = "", box_convention: str = "auto",
                      expert: str = "agent", map_versions: list[str] | None = None) -> int:
    report = import_services.zooniverse_import(
        project_id=project_id, classifications_path=classifications_path, workflows_path=workflows_path,
        zooniverse_workflow_id=zooniverse_workflow_id, version=version, box_convention=box_convention,
        expert=expert, map_versions=tuple(map_versions or ()))
    return report.workflow.pk


@shared_task(acks_late=True, time_limit=3 * 3600)
def simulate_whatif(workflow_id: int, n_galaxies: int) -> int | None:
    from zooapp.services.simulation import whatif  # the simulator trains models: torch loads only here

    result = whatif.workflow_whatif_run(workflow_id=workflow_id, n_galaxies=n_galaxies)
    return result["n_retired"]


@shared_task
def sessions_clear() -> int:
    """Beat's daily sweep of expired sessions (Django never deletes them itself)."""
    return volunteer_services.sessions_clear_expired()


@shared_task(acks_late=True, time_limit=6 * 3600)
def predict_embeddings(model_version_id: int) -> int:
    """Embed a project's subjects with a classifier version (routed to the ML queue by its predict_ name)."""
    from zooapp.services.embeddings import embeddings_refresh  # loads torch: only ML workers run it

    return embeddings_refresh(model_version_id=model_version_id)
