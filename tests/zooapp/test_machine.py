import numpy as np
import pytest

from tests.conftest import make_workflow
from tests.zooapp.machine_fixtures import classifier_row, crowd_classify, smooth_checkpoint, tiny_training  # noqa: F401
from zooapp.models import Classification, ModelVersion, Prediction, Subject, Volunteer, Workflow
from zooapp.services.aggregation import workflow_recompute
from zooapp.services.machine.agent import MACHINE_AGENT
from zooapp.services.machine.classifier import classifier_train, model_version_judge
from zooapp.services.machine.detector import detector_train
from zooapp.services.machine.versions import version_mark_serving

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def labelled_workflow(admin_user, settings):
    tiny_training(settings)
    workflow = make_workflow(owner=admin_user, n_subjects=40, n_gold=12,
                             rules={"posterior_threshold": 0.7, "min_classifications": 2})
    others = list(workflow.subjects.filter(is_gold=False).order_by("id"))
    Workflow.objects.filter(pk=workflow.pk).update(machine_agent=False)  # no first model while the crowd votes
    crowd_classify(workflow, others[:24], lambda i: "featured" if i % 2 else "smooth")
    Workflow.objects.filter(pk=workflow.pk).update(machine_agent=True)
    return workflow


def test_it_trains_a_classifier_that_predicts_on_active_galaxies_and_votes_reproducibly(labelled_workflow):
    workflow = labelled_workflow
    version = classifier_train(workflow_id=workflow.pk)
    version.refresh_from_db()
    assert version.serving and version.n_train >= 20 and version.n_human_classifications == 72
    held_out = Subject.objects.filter(workflow=workflow, holdout=True)
    assert held_out.count() >= 12 and version.metrics["holdout"]["T0"]["n"] >= 12  # the gold answers
    assert version.calibration is not None and sum(version.calibration["T0"]["counts"]) >= 12
    active = Subject.objects.filter(workflow=workflow, status="active", is_gold=False)
    predicted = Prediction.objects.filter(model_version=version, task="T0")
    assert set(predicted.values_list("subject_id", flat=True)) == set(active.values_list("pk", flat=True))
    assert np.isclose(sum(predicted.first().probs), 1.0, atol=1e-4)
    # The BALD ranks the queue blends in: taken over the galaxies scored, in [0, 1], and in BALD's order.
    bald, ranks = map(np.array, zip(*predicted.values_list("bald", "bald_rank")))
    assert ranks.min() == 0.0 and ranks.max() == 1.0 and np.all(np.diff(ranks[np.argsort(bald)]) >= 0)
    machine = Volunteer.objects.get(kind="machine", name=MACHINE_AGENT)
    votes = Classification.objects.filter(volunteer=machine)
    assert votes.count() == active.count() and not votes.filter(aggregation_seq__isnull=True).exists()
    assert set(votes.values_list("model_version", flat=True)) == {version.pk}
    # The machine's votes replay exactly, with the confusion they were cast with.
    assert workflow_recompute(workflow_id=workflow.pk) == {"reliabilities": [], "posteriors": [], "counts": []}


def test_a_version_is_judged_on_the_held_out_set_a_worse_one_never_serves_and_a_better_one_does(
        admin_user, settings, smooth_checkpoint, tmp_path):
    from aggregation.schema import TaskTree
    from ml.classifier import ClassifierConfig, train_classifier
    from tests.conftest import DEMO_TREE, png_bytes

    settings.ZOOLOOP_PREDICT_VIEWS = 1
    workflow = make_workflow(owner=admin_user, n_subjects=14, n_gold=12)  # gold answers: all 'smooth'
    images = [tmp_path / f"g{i}.png" for i in range(8)]
    for i, path in enumerate(images):
        path.write_bytes(png_bytes(size=32, seed=i))
    cfg = ClassifierConfig(out_dir=str(tmp_path / "bad"), image_size=32, steps=5, min_steps=5, checkpoint_every=5,
                           batch_size=8, n_ensemble=1, mc_samples=2)
    bad_file = train_classifier(cfg, images=images, vote_counts={"T0": np.tile([0.0, 5.0, 0.0], (8, 1))},
                                tree=TaskTree.from_dict(DEMO_TREE), val_fraction=0.0, progress=False)["checkpoint"]
    Subject.objects.filter(workflow=workflow, is_gold=True).update(holdout=True)
    good, bad = classifier_row(workflow, smooth_checkpoint, 1), classifier_row(workflow, str(bad_file), 2)
    assert model_version_judge(model_version_id=good.pk)  # nothing served yet
    assert not model_version_judge(model_version_id=bad.pk)
    bad.refresh_from_db()
    assert not bad.serving and ModelVersion.objects.get(pk=good.pk).serving
    assert bad.metrics["holdout"]["T0"]["accuracy"] == 0.0 and bad.metrics["holdout"]["T0"]["n"] == 12
    comparison = bad.metrics["holdout_comparison"]
    assert comparison["serving"] == 1 and comparison["mean"] == -1.0 and comparison["upper"] < 0
    version_mark_serving(version=bad)
    assert model_version_judge(model_version_id=good.pk)  # better than the serving one on the same galaxies
    assert ModelVersion.objects.get(pk=good.pk).serving and not ModelVersion.objects.get(pk=bad.pk).serving


def test_it_trains_the_detector_on_consensus_boxes_and_serves_it_as_one_more_viewer(admin_user, settings):
    tiny_training(settings)
    workflow = make_workflow(owner=admin_user, n_subjects=24, n_gold=1,
                             rules={"posterior_threshold": 0.7, "min_classifications": 2})
    subjects = list(workflow.subjects.filter(is_gold=False).order_by("id"))
    crowd_classify(workflow, subjects[:21], "featured", prefix="d",
                   boxes=[{"tool": "clump", "x_min": 20, "y_min": 20, "x_max": 30, "y_max": 31}])
    drawn_ids = [s.pk for s in subjects[:3]]
    Subject.objects.filter(pk__in=drawn_ids).update(status="active")  # still open, so the detector looks at them
    version = detector_train(workflow_id=workflow.pk)
    assert version is not None and version.kind == ModelVersion.Kind.DETECTOR and version.n_train > 0
    version.refresh_from_db()
    assert version.serving
    active = Subject.objects.filter(workflow=workflow, status="active")
    assert Prediction.objects.filter(model_version=version, task="boxes").count() == active.count()
    # The detector counts as one more viewer in the box consensus of a subject people drew on.
    views = [Subject.objects.get(pk=pk).consensus_boxes.first().n_seen for pk in drawn_ids]
    assert views == [4, 4, 4]
