"""The workflow dashboard in a browser: charts render, and dashboard.js refreshes counts and export progress."""
from __future__ import annotations

import uuid

import pytest

from tests.conftest import annotations_for
from zooapp.models import Classification, Export, Subject, Volunteer
from zooapp.services.classifications import classification_create
from zooapp.services.exports import export_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("form.form button[type=submit]")
    page.wait_for_selector(".nav-user")


def test_it_refreshes_the_counts_and_an_exports_progress_without_a_reload(page, live_server, demo_workflow,
                                                                           screenshot):
    export = Export.objects.create(workflow=demo_workflow, kind="catalogue", format="ecsv")
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/{demo_workflow.pk}/")
    assert page.locator(".chart svg").count() >= 7
    assert page.inner_text('[data-count="human_classifications"]') == "0"
    assert page.inner_text('[data-count="machine_classifications"]') == "0"
    row = page.locator(f'[data-export-id="{export.pk}"]')
    assert row.locator("[data-export-status]").inner_text() == "pending"

    subject = Subject.objects.filter(workflow=demo_workflow, is_gold=False).first()
    classification_create(volunteer=Volunteer.objects.create(name="v"), subject_id=subject.pk,
                          workflow_version_id=demo_workflow.current_version.pk, annotations=annotations_for(),
                          idempotency_key=uuid.uuid4())
    machine = Volunteer.objects.create(kind=Volunteer.Kind.MACHINE, name="classifier")
    Classification.objects.create(workflow=demo_workflow, workflow_version=demo_workflow.current_version,
                                  subject=subject, volunteer=machine, annotations=[{"task": "T0", "value": "smooth"}])
    export_run(export_id=export.pk)

    page.wait_for_selector('[data-count="human_classifications"]:text-is("1")', timeout=15_000)
    page.wait_for_selector('[data-count="machine_classifications"]:text-is("1")', timeout=15_000)
    row.locator("[data-export-file] a").wait_for(timeout=15_000)
    assert row.locator("[data-export-status]").inner_text() == "done"
    assert row.locator("progress").evaluate("el => el.value") == 1
    screenshot(page, "dashboard-live")
