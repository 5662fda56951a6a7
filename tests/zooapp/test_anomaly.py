"""Anomaly sessions: the ranking follows the researcher's labels, is saved, and exports its top N."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from tests.conftest import embeddings_store, make_workflow
from zooapp.errors import NotFound, ValidationFailed
from zooapp.models import AnomalyLabel, Subject
from zooapp.services.anomaly import anomaly_export_csv, anomaly_label_set, anomaly_ranking, anomaly_session_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_clusters(admin_user):
    """Twelve galaxies: six near (1, 0) and six near (0, 1) on the unit circle."""
    workflow = make_workflow(owner=admin_user, n_subjects=12, n_gold=0)
    centres = np.repeat([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], 6, axis=0)
    v = centres + np.random.default_rng(0).normal(0, 0.05, (12, 3))
    _, subjects = embeddings_store(workflow, v / np.linalg.norm(v, axis=1, keepdims=True))
    return workflow, subjects, anomaly_session_create(workflow=workflow, owner=admin_user, name="rings")


def _top_ids(session, n=12):
    return [r.subject_id for r in anomaly_ranking(session=session, n_top=n).top]


def test_labels_move_a_galaxys_cluster_up_the_ranking(two_clusters):
    _, s, session = two_clusters
    a, b = [x.pk for x in s[:6]], [x.pk for x in s[6:]]
    anomaly_label_set(session=session, subject_id=a[0], interesting=True)
    anomaly_label_set(session=session, subject_id=b[0], interesting=False)
    top = _top_ids(session)
    assert top[0] == a[0] and top[-1] == b[0]  # judged galaxies: first and last
    assert set(top[1:6]) == set(a[1:])  # the rest of the interesting one's cluster next
    # The researcher changes their mind: the other cluster now rises.
    anomaly_label_set(session=session, subject_id=a[0], interesting=False)
    anomaly_label_set(session=session, subject_id=b[0], interesting=True)
    top = _top_ids(session)
    assert top[0] == b[0] and set(top[1:6]) == set(b[1:])


def test_the_galaxies_to_judge_next_leave_out_the_judged_ones(two_clusters):
    _, s, session = two_clusters
    anomaly_label_set(session=session, subject_id=s[0].pk, interesting=True)
    ranking = anomaly_ranking(session=session, n_next=5)
    assert ranking.n_labels == 1 and len(ranking.to_label) == 5
    assert s[0].pk not in [r.subject_id for r in ranking.to_label]


def test_the_session_is_saved_and_its_top_n_exports_as_csv(two_clusters):
    _, s, session = two_clusters
    anomaly_label_set(session=session, subject_id=s[3].pk, interesting=True)
    assert AnomalyLabel.objects.filter(session=session).count() == 1
    rows = list(csv.DictReader(io.StringIO(anomaly_export_csv(session=session, n=4))))
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0]["subject_id"] == str(s[3].pk) and rows[0]["label"] == "interesting"
    anomaly_label_set(session=session, subject_id=s[3].pk, interesting=None)
    assert not AnomalyLabel.objects.filter(session=session).exists()


def test_bad_input_gets_one_clear_error_and_changes_nothing(two_clusters, admin_user):
    _, _, session = two_clusters
    other = make_workflow(owner=admin_user, n_subjects=1, n_gold=0)
    stranger = Subject.objects.get(workflow=other)
    with pytest.raises(NotFound, match="not in this session's workflow"):
        anomaly_label_set(session=session, subject_id=stranger.pk, interesting=True)
    with pytest.raises(ValidationFailed, match="n_next"):
        anomaly_ranking(session=session, n_next=0)
    empty = anomaly_session_create(workflow=other, owner=admin_user)
    with pytest.raises(NotFound, match="no embeddings yet"):
        anomaly_ranking(session=empty)
    assert not AnomalyLabel.objects.exists()
