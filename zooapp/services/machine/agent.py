"""The classifier as one more agent of the engine: its measured confusion and its votes."""
from __future__ import annotations

import numpy as np
from django.db import transaction

from aggregation.online import initial_agent_alpha
from aggregation.schema import TaskTree
from zooapp.models import Classification, ModelVersion, Subject, Volunteer, Workflow
from zooapp.services.aggregation import workflow_recompute

MACHINE_AGENT = "classifier"


def machine_confusion(*, version: ModelVersion) -> dict[str, list]:
    """Per single-answer question, the machine's Dirichlet confusion ``(K, K)``: prior plus held-out counts.

    Counted on the common held-out set (rows: known answer, columns: the version's top
    answer), which no version trained on, so the engine weighs the machine by errors it
    makes on galaxies it has not seen.
    """
    confusion = {}
    for key, scored in (version.metrics.get("holdout") or {}).items():
        counts = np.asarray(scored["confusion"], dtype=float)
        confusion[key] = (initial_agent_alpha(len(counts)) + counts).tolist()
    return confusion


def machine_votes_replace(*, workflow: Workflow, version: ModelVersion, subjects: list[Subject],
                          probs: dict[str, np.ndarray]) -> int:
    """Cast the version's vote on each subject, replacing the vote an earlier version cast there.

    There is one machine agent whatever the version: successive versions are strongly
    correlated, and counting each as fresh evidence would overstate what the machine knows.
    The online update cannot be undone vote by vote (every later update read the posterior
    that vote moved), so the earlier votes are deleted and the engine replays the workflow
    (`workflow_recompute`), after which the state is exactly that of a history without them;
    the new votes then join the queue like any other. A replay per serving version is
    affordable because the retraining cadence grows with the survey (`schedule`), so
    versions are few. Returns the number of votes cast.
    """
    from zooapp import tasks  # tasks import services; imported here to keep module loading acyclic

    agent, _ = Volunteer.objects.get_or_create(kind=Volunteer.Kind.MACHINE, name=MACHINE_AGENT)
    Workflow.objects.select_for_update(no_key=True).get(pk=workflow.pk)  # no aggregation batch in between
    old = Classification.objects.filter(volunteer=agent, workflow=workflow, subject__in=[s.pk for s in subjects])
    replayed = old.filter(aggregation_seq__isnull=False).exists()
    old.delete()
    if replayed:
        workflow_recompute(workflow_id=workflow.pk)
    confusion = machine_confusion(version=version)
    current = workflow.current_version
    tree = TaskTree.from_dict(current.tree)
    Classification.objects.bulk_create([
        Classification(workflow=workflow, workflow_version=current, subject=s, volunteer=agent, model_version=version,
                       annotations=_machine_walk(tree, {t: p[i] for t, p in probs.items()}),
                       machine_confusion=confusion)
        for i, s in enumerate(subjects)])
    transaction.on_commit(lambda: tasks.aggregate_workflow.delay(workflow.pk))
    return len(subjects)


def _machine_walk(tree: TaskTree, probs: dict[str, np.ndarray]) -> list[dict]:
    """The machine's most probable path through the tree; it draws no boxes."""
    walk, key = [], tree.first_task
    while key is not None:
        task = tree.tasks[key]
        if task.type == "single":
            value = task.labels[int(np.argmax(probs[key]))] if key in probs else task.labels[0]
        elif task.type == "multiple":
            value = [label for label, p in zip(task.labels, probs.get(key, [])) if p > 0.5]
        else:
            value = []
        walk.append({"task": key, "value": value})
        key = task.next_after(value)
    return walk
