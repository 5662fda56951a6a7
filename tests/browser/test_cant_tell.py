""""Can't tell" appears only on a question whose tree has such an answer, and then it is a vote for that answer;
elsewhere the same button is "Skip" and stores nothing. Desktop, 1280x860."""
from __future__ import annotations

import pytest

from tests.browser.helpers import open_classify, stored, wait_saved
from tests.conftest import make_workflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A builder's tree: "Don't know" is the can't-tell answer of T0 by its text alone (its label says nothing).
TREE = {"first_task": "T0", "tasks": {
    "T0": {"type": "single", "question": "Is it smooth?", "answers": [
        {"label": "smooth", "text": "Smooth", "next": "T1"}, {"label": "featured", "text": "Featured", "next": "T1"},
        {"label": "a2", "text": "Don’t know", "next": "T1"}]},
    "T1": {"type": "single", "question": "How round?", "answers": [
        {"label": "round", "text": "Round", "next": None}, {"label": "cigar", "text": "Cigar-shaped", "next": None}]}}}


def test_cant_tell_answers_the_trees_own_answer_and_a_question_without_one_offers_skip(page, live_server, admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=2, n_gold=0, tree=TREE)
    subject = open_classify(page, live_server, workflow)
    assert page.inner_text("#skip") == "Can't tell"
    assert "Don’t know" in page.get_attribute("#skip", "title")
    page.click("#skip")
    page.wait_for_selector("button.answer[data-label=round]")
    assert page.inner_text("#skip") == "Skip", "T1 has no can't-tell answer"
    page.click("button.answer[data-label=round]")
    page.wait_for_selector("#classify[data-state=summary]")
    page.click("#next")
    wait_saved(page)
    assert stored(subject).annotations == [{"task": "T0", "value": "a2"}, {"task": "T1", "value": "round"}]


def test_the_demo_trees_first_question_has_no_cant_tell_so_the_button_skips(page, live_server, demo_workflow):
    open_classify(page, live_server, demo_workflow)
    assert page.inner_text("#skip") == "Skip"
    assert "another galaxy" in page.get_attribute("#skip", "title")
