"""Fuzz every operation in the OpenAPI schema (/api/schema/) with schemathesis, in-process over WSGI.

The property is "no server errors": whatever the body, parameters or types, the API answers
with a 2xx, 3xx or a 4xx that says what was wrong. A bounded number of examples per operation
keeps the run short; set FUZZ_EXAMPLES to search harder.
"""
from __future__ import annotations

import json
import os
import uuid

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from tests.conftest import annotations_for
from zooapp.models import Classification

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))


def _load_schema():
    """The schema as the real WSGI application serves it (fetching it touches no database)."""
    from zooapp.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/", application)


schema = _load_schema()


@pytest.fixture(autouse=True)
def _keep_the_test_connection_open():
    """As Django's test client does: the request signals must not close the connection holding the test's
    transaction at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(demo_workflow, admin_user) -> str:
    """An admin's token (no CSRF needed) and a workflow, so that real ids exist to be found."""
    return Token.objects.create(user=admin_user).key


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case, admin_token):
    case.call_and_validate(headers={"Authorization": f"Token {admin_token}"}, checks=[not_a_server_error])


@pytest.mark.parametrize("body, fragment", [
    ("", "This field is required"),
    ("null", "No data provided"),
    ("[1, 2]", "Expected a dictionary"),
    ("{not json", "JSON parse error"),
    ('{"subject": "one"}', "valid integer"),
    ('{"subject": 1, "workflow_version": 1, "idempotency_key": "not-a-uuid", "annotations": []}', "UUID"),
    ('{"subject": 1, "workflow_version": 1, "idempotency_key": "%s", "annotations": "T0"}' % uuid.uuid4(), "list"),
    ('{"subject": 1, "workflow_version": 99999, "idempotency_key": "%s", "annotations": []}' % uuid.uuid4(),
     "does not exist"),
    ('{"subject": 1e999, "workflow_version": 1, "idempotency_key": "%s", "annotations": []}' % uuid.uuid4(),
     "integer"),
    (json.dumps({"subject": 1, "workflow_version": 1, "idempotency_key": str(uuid.uuid4()),
                 "annotations": [{"task": "T0", "value": "smooth"}] * 101}), "no more than 100"),
])
def test_malformed_classifications_are_a_400_with_a_message_and_store_nothing(client, demo_workflow, body,
                                                                              fragment):
    response = client.post(reverse("api-classifications"), body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert fragment in response.json()["detail"]
    assert not Classification.objects.exists()


def test_a_subject_of_another_workflow_is_refused(client, demo_workflow, admin_user):
    from tests.conftest import make_workflow

    other = make_workflow(owner=admin_user, n_subjects=1, n_gold=0)
    body = {"subject": other.subjects.get().pk, "workflow_version": demo_workflow.current_version.pk,
            "idempotency_key": str(uuid.uuid4()), "annotations": annotations_for()}
    response = client.post(reverse("api-classifications"), body, content_type="application/json")
    assert response.status_code == 400 and "does not exist in workflow" in response.json()["detail"]
    assert not Classification.objects.exists()
