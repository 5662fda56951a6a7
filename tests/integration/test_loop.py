"""The whole loop on the production stores: PostgreSQL, Redis, gunicorn and a real Celery worker."""
import uuid

import pytest

from tests.integration.conftest import Browserless, wait_until

pytestmark = pytest.mark.integration


def test_a_classification_travels_from_the_browser_api_to_a_retired_subject(stack):
    stack.manage("load_demo", "--synthetic", "4", "--password", "it-admin-pass")
    stack.sql("UPDATE zooapp_workflow SET retirement_rules = retirement_rules"
              " || '{\"posterior_threshold\": 0.6, \"min_classifications\": 1}'::jsonb,"
              " gold_rate_start = 0, gold_rate_end = 0")
    stack.start_web()
    stack.start_worker()
    volunteer = Browserless(stack)
    status, queue = volunteer.get("/api/workflows/1/queue/?n=1")
    assert status == 200 and queue["subjects"], queue
    subject = queue["subjects"][0]
    version = stack.sql("SELECT id FROM zooapp_workflowversion WHERE workflow_id = 1")[0][0]
    assert stack.sql(f"SELECT is_gold FROM zooapp_subject WHERE id = {subject['id']}") == [(False,)]
    body = {"subject": subject["id"], "workflow_version": version, "idempotency_key": str(uuid.uuid4()),
            "annotations": [{"task": "T0", "value": "featured"}, {"task": "T2", "value": "yes"},
                            {"task": "T5", "value": [{"tool": "clump", "x_min": 5, "y_min": 6,
                                                      "x_max": 15, "y_max": 17}]}]}
    status, saved = volunteer.post("/api/classifications/", body)
    assert status == 201, saved
    seq = wait_until(lambda: stack.sql(f"SELECT aggregation_seq FROM zooapp_classification WHERE id = {saved['id']}")
                     [0][0], timeout=90)
    assert seq >= 1, stack.log("worker")
    counts = stack.sql(f"SELECT vote_counts FROM zooapp_subjectposterior WHERE subject_id = {subject['id']}"
                       " AND task = 'T0'")[0][0]
    assert counts == [0, 1, 0]
    boxes = stack.sql(f"SELECT x_min, n_workers FROM zooapp_consensusbox WHERE subject_id = {subject['id']}")
    assert boxes == [(5.0, 1)]
    reason = stack.sql(f"SELECT reason FROM zooapp_retirement WHERE subject_id = {subject['id']}")
    assert reason == [("posterior_threshold",)]
    assert stack.sql(f"SELECT status FROM zooapp_subject WHERE id = {subject['id']}") == [("retired",)]
