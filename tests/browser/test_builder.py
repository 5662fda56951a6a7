"""The project builder end to end: a new researcher builds, previews, publishes and launches a workflow,
and a volunteer in another browser classifies it."""
from __future__ import annotations

import pytest

from tests.browser.helpers import finish_and_submit
from tests.conftest import png_bytes
from zooapp.models import Classification, Workflow

pytestmark = pytest.mark.django_db(transaction=True)


def _sign_up(page, url):
    page.goto(f"{url}/accounts/signup/")
    page.fill("#id_username", "rosa")
    page.fill("#id_password1", "a-long-pass-phrase-42")
    page.fill("#id_password2", "a-long-pass-phrase-42")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{url}/")


def _make_project_and_workflow(page, url):
    page.goto(f"{url}/builder/")
    page.fill("#project-name", "Clumpy galaxies")
    page.click("#create-project")
    page.select_option("#visibility", "public")
    page.click("#save-visibility")
    page.fill("#workflow-name", "Clumps")
    page.click("#create-workflow")
    page.wait_for_selector("#task-0-question")


def _build_three_questions(page):
    page.fill("#task-0-question", "Smooth or featured?")
    page.fill("#task-0-answer-0-text", "Smooth")
    page.fill("#task-0-answer-1-text", "Featured")
    page.click("#add-question")                          # T1: focus lands on its question (keyboard path)
    page.keyboard.type("How rounded is it?")
    page.fill("#task-1-answer-0-text", "Round")
    page.fill("#task-1-answer-1-text", "Cigar")
    page.click("#add-drawing")                           # T2: a rectangle tool, 0..10 marks
    page.keyboard.type("Box the clumps")
    page.fill("#task-2-tool-0-max", "3")
    page.select_option("#task-0-answer-0-next", "T1")    # branching from each answer
    page.select_option("#task-0-answer-1-next", "T2")
    page.wait_for_function("() => document.getElementById('editor-status').textContent === 'Draft saved.'")


def _upload_subjects(page, url, workflow_id, tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes(seed=1))
    (tmp_path / "b.png").write_bytes(png_bytes(seed=2))
    (tmp_path / "manifest.csv").write_text("id,file\nG1,a.png\nG2,b.png\n")
    page.goto(f"{url}/dashboard/{workflow_id}/subjects/")
    page.fill("#id_name", "First batch")
    page.set_input_files("#id_manifest", str(tmp_path / "manifest.csv"))
    page.set_input_files("#id_images", [str(tmp_path / "a.png"), str(tmp_path / "b.png")])
    page.click(".upload-form button[type=submit]")
    page.wait_for_load_state()


def test_a_new_researcher_builds_publishes_and_launches_and_a_volunteer_classifies(new_page, live_server,
                                                                                  screenshot, tmp_path):
    url = live_server.url
    page = new_page()
    _sign_up(page, url)
    _make_project_and_workflow(page, url)
    _build_three_questions(page)
    assert page.locator("#problems li").inner_text().startswith("No problems")
    screenshot(page, "builder-editor")
    workflow = Workflow.objects.get(name="Clumps")
    page.click("#preview")                               # the real classify page, rendering the draft
    page.wait_for_selector("#classify.is-ready")
    assert "Smooth or featured?" in page.inner_text("#task-area")
    page.go_back()
    page.wait_for_selector("#publish")
    page.click("#publish")
    page.wait_for_function("() => document.getElementById('publish-message').textContent.includes('version 1')")
    _upload_subjects(page, url, workflow.pk, tmp_path)
    assert workflow.subjects.count() == 2
    page.goto(f"{url}/builder/workflows/{workflow.pk}/")
    page.click("#launch")
    page.wait_for_function("() => document.getElementById('status-message').textContent.includes('active')")

    volunteer = new_page()
    volunteer.goto(f"{url}/classify/{workflow.pk}/")
    volunteer.wait_for_selector("#classify.is-ready")
    volunteer.keyboard.press("2")                        # Featured -> the drawing task
    volunteer.wait_for_selector("#viewer.is-drawing")
    finish_and_submit(volunteer)
    stored = Classification.objects.get(workflow=workflow)
    assert stored.workflow_version.number == 1 and stored.annotations[0] == {"task": "T0", "value": "featured"}
    stored.refresh_from_db()
    assert stored.is_aggregated
    assert stored.subject.posteriors.filter(task="T0").get().vote_counts == [0.0, 1.0]


def test_the_editor_fits_a_phone_and_names_problems(new_page, live_server, screenshot):
    url = live_server.url
    page = new_page(width=390, height=844)
    _sign_up(page, url)
    _make_project_and_workflow(page, url)
    page.fill("#task-0-answer-1-text", "")
    page.fill("#task-0-answer-1-label", "")
    page.wait_for_selector("#problems li:has-text('answer 2 of task')")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    screenshot(page, "builder-phone")
    assert overflow <= 0
