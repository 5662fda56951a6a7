import uuid

import numpy as np
import pytest

from tests.conftest import annotations_for, make_workflow
from zooapp.models import Classification, ModelVersion, Prediction, Subject, Volunteer
from zooapp.services.aggregation import workflow_recompute
from zooapp.services.classifications import classification_create
from zooapp.services.machine import MACHINE_AGENT, classifier_train, detector_train

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def labelled_workflow(admin_user, settings):
    settings.ZOOLOOP_CLASSIFIER_EPOCHS = 1
    settings.ZOOLOOP_DETECTOR_EPOCHS = 1
    settings.ZOOLOOP_PREDICT_VIEWS = 1
    workflow = make_workflow(owner=admin_user, n_subjects=36, n_gold=12,
                             rules={"posterior_threshold": 0.7, "min_classifications": 2})
    crowd = [Volunteer.objects.create(name=f"v{i}") for i in range(3)]
    box = {"tool": "clump", "x_min": 20, "y_min": 20, "x_max": 30, "y_max": 31}
    for i, subject in enumerate(workflow.subjects.order_by("id")[:28]):
        answer = "smooth" if i % 2 else "featured"
        for v in crowd:
            classification_create(volunteer=v, subject_id=subject.pk, workflow_version_id=workflow.current_version.pk,
                                  annotations=annotations_for(answer, [box] if answer == "featured" else []),
                                  idempotency_key=uuid.uuid4())
    return workflow


def test_it_trains_a_classifier_that_predicts_sets_priorities_and_votes_once_reproducibly(labelled_workflow):
    workflow = labelled_workflow
    version = classifier_train(workflow_id=workflow.pk)
    assert version is not None and version.serving is False  # the flag is set on the row by the service
    version.refresh_from_db()
    assert version.serving and version.n_train + version.n_val >= 20
    assert "val_loss" in version.metrics
    active = Subject.objects.filter(workflow=workflow, status="active", is_gold=False)
    assert Prediction.objects.filter(model_version=version, subject__in=active, task="T0").count() == active.count()
    probs = Prediction.objects.filter(model_version=version, task="T0").first().probs
    assert len(probs) == 3 and np.isclose(sum(probs), 1.0, atol=1e-4)
    priorities = set(active.values_list("priority", flat=True))
    assert len(priorities) > 1  # no longer the flat default of 0.5
    machine = Volunteer.objects.get(kind="machine", name=MACHINE_AGENT)
    votes = Classification.objects.filter(volunteer=machine)
    assert votes.count() == active.count() and votes.filter(aggregation_seq__isnull=True).count() == 0
    assert votes.first().machine_confusion["T0"]
    assert Subject.objects.filter(workflow=workflow, n_classifications__gt=3).count() == 0  # humans only
    # The machine's votes replay exactly, with the confusion they were cast with.
    assert workflow_recompute(workflow_id=workflow.pk) == {"reliabilities": [], "posteriors": [], "counts": []}


def test_a_second_version_serves_only_if_at_least_as_good(labelled_workflow):
    first = classifier_train(workflow_id=labelled_workflow.pk)
    ModelVersion.objects.filter(pk=first.pk).update(metrics={**first.metrics, "val_accuracy_T0": 1.01})
    second = classifier_train(workflow_id=labelled_workflow.pk)
    second.refresh_from_db()
    assert second.number == 2 and not second.serving
    assert ModelVersion.objects.get(pk=first.pk).serving


def test_it_trains_the_detector_on_consensus_boxes_from_the_classifier_backbone(labelled_workflow):
    classifier_train(workflow_id=labelled_workflow.pk)
    drawn_ids = list(Subject.objects.filter(workflow=labelled_workflow, consensus_boxes__isnull=False)
                     .values_list("pk", flat=True).distinct()[:3])
    Subject.objects.filter(pk__in=drawn_ids).update(status="active")  # still open, so the detector looks at them
    version = detector_train(workflow_id=labelled_workflow.pk)
    assert version is not None and version.kind == "detector" and version.n_train > 0
    assert any(k.startswith("val_") for k in version.metrics)
    version.refresh_from_db()
    assert version.serving
    active = Subject.objects.filter(workflow=labelled_workflow, status="active")
    assert Prediction.objects.filter(model_version=version, task="boxes").count() == active.count()
    # The detector counts as one more viewer in the box consensus of a subject people drew on.
    views = [Subject.objects.get(pk=pk).consensus_boxes.first().n_seen for pk in drawn_ids]
    assert views == [4, 4, 4]
