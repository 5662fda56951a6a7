"""The researchers' page of new questions at 390x844: open a question to volunteers and close it, on a phone."""
from __future__ import annotations

import pytest

from zooapp.models import NewQuestion
from zooapp.services.questions import new_question_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844, "has_touch": True}


def test_a_researcher_opens_and_closes_a_question_on_a_phone(new_page, live_server, demo_workflow, screenshot):
    question = new_question_create(workflow=demo_workflow, key="ring", answers=["ring", "no ring"],
                                   text="Is there a ring around the bulge, faint or bright, whole or broken?")
    page = new_page(**PHONE)
    page.goto(f"{live_server.url}/accounts/login/?next=/research/questions/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("form.form button[type=submit]")
    card = f"#question-{question.pk}"
    page.click(f"{card} >> text=Open to volunteers")
    page.wait_for_selector(f"{card} [data-state=open]")
    assert "now asked on the classify page" in page.inner_text(".messages")
    assert NewQuestion.objects.get(pk=question.pk).volunteers
    button = page.locator(f"{card} button").bounding_box()
    assert button["x"] >= 0 and button["x"] + button["width"] <= 390 and button["height"] >= 40  # a thumb's target
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    screenshot(page, "research-questions-phone")
    page.click(f"{card} >> text=Close to volunteers")
    page.wait_for_selector(f"{card} [data-state=closed]")
    assert not NewQuestion.objects.get(pk=question.pk).volunteers
