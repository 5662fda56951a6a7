"""The volunteer's classify page, driven in Chromium against the live Django server."""
from __future__ import annotations

import json

import pytest

from tests.browser.helpers import (boxes_of, close, drag, drawn_marks, finish_and_submit, go_to_drawing,
                                   open_classify, stored, to_screen, wait_saved)
from tests.conftest import DEMO_TREE, make_workflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# ---------------------------------------------------------------- drawing

def test_it_draws_moves_resizes_deletes_and_undoes_a_box(page, live_server, demo_workflow, screenshot):
    subject = open_classify(page, live_server, demo_workflow)
    go_to_drawing(page)

    page.mouse.click(*to_screen(page, 5, 5))
    assert drawn_marks(page) == [], "a click without a drag makes no box"

    drag(page, to_screen(page, 10, 10), to_screen(page, 20, 18))
    [box] = drawn_marks(page)
    assert close(box["x_min"], 10) and close(box["y_min"], 10) and close(box["x_max"], 20) and close(box["y_max"], 18)

    drag(page, to_screen(page, 15, 14), to_screen(page, 25, 24))            # move by (+10, +10)
    [box] = drawn_marks(page)
    assert close(box["x_min"], 20) and close(box["y_min"], 20) and close(box["x_max"], 30) and close(box["y_max"], 28)

    drag(page, to_screen(page, 30, 28), to_screen(page, 40, 36))            # bottom-right corner
    drag(page, to_screen(page, 20, 24), to_screen(page, 16, 24))            # left edge
    drag(page, to_screen(page, 28, 20), to_screen(page, 28, 17))            # top edge
    [box] = drawn_marks(page)
    assert close(box["x_min"], 16) and close(box["y_min"], 17) and close(box["x_max"], 40) and close(box["y_max"], 36)
    screenshot(page, "box-resized")

    page.keyboard.press("Shift+ArrowRight")                                  # nudge by 10 px
    assert close(drawn_marks(page)[0]["x_min"], 26)
    page.keyboard.press("Delete")
    assert drawn_marks(page) == []
    page.keyboard.press("Control+z")
    assert close(drawn_marks(page)[0]["x_min"], 26)
    page.keyboard.press("Control+z")                                         # undo the nudge
    assert close(drawn_marks(page)[0]["x_min"], 16)
    page.keyboard.press("Control+Shift+z")
    assert close(drawn_marks(page)[0]["x_min"], 26)
    page.keyboard.press("Control+y")
    assert drawn_marks(page) == [], "redo replays the delete"
    assert page.is_disabled("#delete-box") and page.is_enabled("#undo") and page.is_disabled("#redo")
    page.click("#undo")
    assert len(drawn_marks(page)) == 1
    assert page.is_enabled("#redo")
    page.mouse.click(*to_screen(page, 30, 25))                              # select it by clicking
    assert page.is_enabled("#delete-box")
    page.click("#delete-box")
    assert drawn_marks(page) == []
    page.keyboard.press("Control+z")

    finish_and_submit(page)
    [saved] = boxes_of(stored(subject))
    assert saved["tool"] == "clump"
    assert (close(saved["x_min"], 26) and close(saved["y_min"], 17) and close(saved["x_max"], 50)
            and close(saved["y_max"], 36))
    assert page.errors == []


def test_it_stores_boxes_in_image_pixels_after_zoom_and_pan(page, live_server, demo_workflow, screenshot):
    subject = open_classify(page, live_server, demo_workflow)
    go_to_drawing(page)
    for _ in range(3):
        page.click("#zoom-in")
    page.click("#pan-mode")
    viewer = page.locator("#viewer").bounding_box()
    centre = (viewer["x"] + viewer["width"] / 2, viewer["y"] + viewer["height"] / 2)
    drag(page, centre, (centre[0] + 120, centre[1] + 90))                     # pan, draws nothing
    page.click("#pan-mode")
    assert drawn_marks(page) == []
    svg = page.locator("#marks").bounding_box()
    assert svg["width"] > 1.5 * viewer["width"], "the image is zoomed in"

    drag(page, to_screen(page, 12.5, 20), to_screen(page, 22, 27.5))
    page.keyboard.down("Control")                                             # Ctrl+wheel zooms, as on maps
    page.mouse.wheel(0, -300)                                                 # zoom again: the box stays put
    page.keyboard.up("Control")
    [box] = drawn_marks(page)
    assert close(box["x_min"], 12.5, 0.3) and close(box["y_max"], 27.5, 0.3)
    screenshot(page, "zoomed-box")

    finish_and_submit(page)
    [saved] = boxes_of(stored(subject))
    assert close(saved["x_min"], 12.5, 0.3) and close(saved["y_min"], 20, 0.3)
    assert close(saved["x_max"], 22, 0.3) and close(saved["y_max"], 27.5, 0.3)


def test_it_draws_a_box_with_a_finger(new_page, live_server, demo_workflow, screenshot):
    page = new_page(width=412, height=860, has_touch=True)
    subject = open_classify(page, live_server, demo_workflow)
    page.tap("button.answer[data-label=featured]")
    page.tap("button.answer[data-label=yes]")
    page.wait_for_selector("#viewer.is-drawing")
    cdp = page.context.new_cdp_session(page)

    def touch(kind, points):
        cdp.send("Input.dispatchTouchEvent", {
            "type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]})

    start, end = to_screen(page, 8, 8), to_screen(page, 30, 24)
    touch("touchStart", [start])
    for t in (0.25, 0.5, 0.75, 1.0):
        touch("touchMove", [(start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))])
    touch("touchEnd", [])
    [box] = drawn_marks(page)
    assert close(box["x_min"], 8) and close(box["y_min"], 8) and close(box["x_max"], 30) and close(box["y_max"], 24)

    tap = to_screen(page, 50, 50)
    touch("touchStart", [tap])
    touch("touchEnd", [])
    assert len(drawn_marks(page)) == 1, "a tap makes no box"
    screenshot(page, "phone-drawing")

    page.tap("#next")
    page.tap("#next")
    wait_saved(page)
    [saved] = boxes_of(stored(subject))
    assert close(saved["x_min"], 8) and close(saved["x_max"], 30)


def test_it_keeps_done_disabled_below_the_minimum_and_refuses_boxes_at_the_maximum(page, live_server, admin_user):
    tree = json.loads(json.dumps(DEMO_TREE))
    tree["tasks"]["T5"]["tools"][0].update({"min": 1, "max": 2})
    workflow = make_workflow(owner=admin_user, n_subjects=2, tree=tree)
    open_classify(page, live_server, workflow)
    go_to_drawing(page)
    assert page.is_disabled("#next")
    assert "at least 1" in page.inner_text("#status")

    drag(page, to_screen(page, 5, 5), to_screen(page, 10, 10))
    assert page.is_enabled("#next")
    drag(page, to_screen(page, 20, 5), to_screen(page, 30, 10))
    drag(page, to_screen(page, 40, 40), to_screen(page, 50, 50))
    assert len(drawn_marks(page)) == 2
    assert "at most 2" in page.inner_text("#status")


# ---------------------------------------------------------------- questions and keyboard

def test_it_classifies_with_the_keyboard_only(page, live_server, demo_workflow, screenshot):
    subject = open_classify(page, live_server, demo_workflow)
    page.keyboard.press("1")                  # T0 smooth -> T1
    assert "rounded" in page.inner_text("#task-question")
    page.keyboard.press("2")                  # T1 in between -> T5
    page.wait_for_selector("#viewer.is-drawing")

    for _ in range(40):                       # Tab to the image
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "marks":
            break
    assert page.evaluate("document.activeElement.id") == "marks"
    page.keyboard.press("b")                  # start a box at the cross (the centre, 32, 32)
    for _ in range(2):
        page.keyboard.press("Shift+ArrowRight")
    for _ in range(5):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowLeft")          # the new box is selected: nudge it 1 px left
    screenshot(page, "keyboard-box")
    page.keyboard.press("Escape")

    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "next":
            break
    page.keyboard.press("Enter")              # to the summary
    page.wait_for_selector("#classify[data-state=summary]")
    summary = page.inner_text("#task-area")
    assert "Smooth" in summary and "In between" in summary and "1 box drawn" in summary
    screenshot(page, "summary")
    page.keyboard.press("Enter")              # focus sits on the heading: Enter means Done
    wait_saved(page)

    c = stored(subject)
    assert c.annotations[:2] == [{"task": "T0", "value": "smooth"}, {"task": "T1", "value": "in_between"}]
    [saved] = boxes_of(c)
    assert (saved["x_min"], saved["y_min"], saved["x_max"], saved["y_max"]) == (31, 32, 51, 37)
    assert page.inner_text("#count-number") == "1"


def test_it_goes_back_to_change_an_answer_and_follows_the_new_branch(page, live_server, demo_workflow):
    subject = open_classify(page, live_server, demo_workflow)
    page.keyboard.press("1")                                  # smooth -> T1
    page.click("#back")
    assert page.get_attribute("button.answer[data-label=smooth]", "aria-pressed") == "true"
    page.click("button.answer[data-label=artifact]")          # artifact ends the tree
    page.wait_for_selector("#classify[data-state=summary]")
    page.click("button.change")                               # change T0 again from the summary
    page.keyboard.press("2")                                  # featured -> T2
    page.keyboard.press("2")                                  # not edge-on -> T3
    page.keyboard.press("1")                                  # bar -> T4
    page.keyboard.press("2")                                  # no spiral -> T5
    finish_and_submit(page)
    assert [a["task"] for a in stored(subject).annotations] == ["T0", "T2", "T3", "T4", "T5"]


def test_it_takes_several_answers_for_a_multiple_choice_question(page, live_server, admin_user):
    tree = json.loads(json.dumps(DEMO_TREE))
    tree["tasks"]["T0"]["answers"][2]["next"] = "T6"
    tree["tasks"]["T6"] = {"type": "multiple", "question": "What do you see?", "help": "",
                           "answers": [{"label": "star", "text": "A star", "next": None},
                                       {"label": "trail", "text": "A satellite trail", "next": None},
                                       {"label": "ghost", "text": "A reflection", "next": None}],
                           "next": None}
    workflow = make_workflow(owner=admin_user, n_subjects=2, tree=tree)
    subject = open_classify(page, live_server, workflow)
    page.keyboard.press("3")
    page.keyboard.press("1")
    page.keyboard.press("3")
    page.keyboard.press("1")                                  # toggles "star" off again
    page.keyboard.press("2")
    assert page.get_attribute("button.answer[data-label=trail]", "aria-pressed") == "true"
    page.click("#next")
    page.wait_for_selector("#classify[data-state=summary]")
    assert "A satellite trail, A reflection" in page.inner_text("#task-area")
    page.click("#next")
    wait_saved(page)
    assert stored(subject).annotations == [{"task": "T0", "value": "artifact"},
                                           {"task": "T6", "value": ["trail", "ghost"]}]


# ---------------------------------------------------------------- submit, feedback, finishing

def test_it_shows_gold_feedback_only_after_submit(new_page, live_server, admin_user, screenshot):
    workflow = make_workflow(owner=admin_user, n_subjects=1, n_gold=1)
    page = new_page(feedback=True)
    subject = open_classify(page, live_server, workflow)
    html = page.content()
    assert "expected" not in html and '"gold"' not in html
    assert page.is_checked("#feedback-optin")

    page.keyboard.press("2")                                  # featured, while the experts said smooth
    page.keyboard.press("1")
    finish_and_submit(page)
    page.wait_for_selector(".feedback-list")
    text = page.inner_text("#task-area")
    assert "Experts said: Smooth" in text and "You said: Features or disk" in text
    screenshot(page, "gold-feedback")
    assert stored(subject).annotations[0] == {"task": "T0", "value": "featured"}
    page.click("#next")                                       # next galaxy: none left
    page.wait_for_selector("#classify[data-state=finished]")
    assert "classified every galaxy" in page.inner_text("#task-area")
    page.reload()                                             # the server knows it too
    page.wait_for_selector("#classify[data-state=finished]")
    assert "classified every galaxy" in page.inner_text("#task-area")
    assert page.is_hidden("#marks") or not page.locator(".stage").is_visible()
    screenshot(page, "finished")


def test_it_shows_the_servers_message_and_retries_with_the_same_key(page, live_server, demo_workflow):
    from zooapp.models import Classification
    subject = open_classify(page, live_server, demo_workflow)
    keys = []

    def reject_once(route):
        keys.append(json.loads(route.request.post_data)["idempotency_key"])
        if len(keys) == 1:
            route.fulfill(status=400, content_type="application/json",
                          body=json.dumps({"detail": "annotation 0 answers task 'T9' but the tree expects 'T0'"}))
        else:
            route.continue_()

    page.route("**/api/classifications/", reject_once)
    page.keyboard.press("3")                                  # artifact -> summary
    page.click("#next")
    page.wait_for_function("() => document.getElementById('status').dataset.kind === 'error'")
    assert "the tree expects 'T0'" in page.inner_text("#status")
    assert Classification.objects.count() == 0
    assert page.inner_text("#next") == "Done"
    page.click("#next")
    wait_saved(page)
    assert keys[0] == keys[1]
    assert stored(subject).annotations == [{"task": "T0", "value": "artifact"}]


def test_it_shows_the_tutorial_on_the_first_visit_only(new_page, live_server, demo_workflow, screenshot):
    page = new_page(tutorial=True)
    open_classify(page, live_server, demo_workflow)
    assert page.is_visible("#tutorial")
    screenshot(page, "tutorial")
    for _ in range(3):
        page.click("#tutorial-next")
    assert page.inner_text("#tutorial-next") == "Start classifying"
    page.click("#tutorial-next")
    assert not page.is_visible("#tutorial")
    page.reload()
    page.wait_for_selector("#classify.is-ready")
    assert not page.is_visible("#tutorial")


def test_it_opens_the_field_guide_and_the_task_help(page, live_server, demo_workflow, screenshot):
    open_classify(page, live_server, demo_workflow)
    page.click("#help-toggle")
    assert "fuzzy blobs" in page.inner_text("#help-text")
    page.click("#open-guide")
    assert page.is_visible("#field-guide")
    assert page.locator(".guide-card").count() >= 3
    page.wait_for_function("() => [...document.querySelectorAll('.guide-card img')].every((i) => i.naturalWidth > 0)")
    screenshot(page, "field-guide")
    page.keyboard.press("Escape")
    assert not page.is_visible("#field-guide")


def test_it_stacks_the_image_above_the_questions_on_a_phone(new_page, live_server, demo_workflow, screenshot):
    page = new_page(width=390, height=844, has_touch=True)
    open_classify(page, live_server, demo_workflow)
    viewer = page.locator("#viewer").bounding_box()
    panel = page.locator(".task-panel").bounding_box()
    assert viewer["y"] + viewer["height"] <= panel["y"]
    assert viewer["width"] <= 390 and panel["width"] <= 390
    for button in page.locator("button.answer").all():
        assert button.bounding_box()["height"] >= 44
    screenshot(page, "phone")
    assert page.errors == []


def test_it_tells_the_volunteer_kindly_when_the_galaxy_was_retired_meanwhile(page, live_server, demo_workflow):
    subject = open_classify(page, live_server, demo_workflow)

    def retired_meanwhile(route):
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "subject_retired": True})

    page.route("**/api/classifications/", retired_meanwhile)
    page.keyboard.press("3")
    page.click("#next")
    wait_saved(page)
    status = page.inner_text("#status")
    assert "retired while you were looking at it" in status and "still saved" in status
    assert stored(subject).annotations == [{"task": "T0", "value": "artifact"}]
    assert page.get_attribute("#classify", "data-subject") != str(subject)


def test_it_asks_the_volunteer_to_slow_down_when_rate_limited(page, live_server, demo_workflow):
    from zooapp.models import Classification
    open_classify(page, live_server, demo_workflow)
    page.route("**/api/classifications/", lambda route: route.fulfill(
        status=429, json={"detail": "Request was throttled. Expected available in 7 seconds."}))
    page.keyboard.press("3")
    page.click("#next")
    page.wait_for_function("() => document.getElementById('status').dataset.kind === 'error'")
    assert "Expected available in 7 seconds" in page.inner_text("#status")
    assert page.is_enabled("#next") and page.inner_text("#next") == "Done"
    assert Classification.objects.count() == 0


def test_it_toggles_a_favourite(page, live_server, demo_workflow):
    from zooapp.models import Favourite
    subject = open_classify(page, live_server, demo_workflow)
    page.click("#favourite")
    page.wait_for_selector("#favourite[aria-pressed=true]")
    assert "Favourited" in page.inner_text("#favourite")
    assert Favourite.objects.filter(subject_id=subject).count() == 1
    page.click("#favourite")
    page.wait_for_selector("#favourite[aria-pressed=false]")
    assert Favourite.objects.filter(subject_id=subject).count() == 0


def test_it_lets_the_volunteer_pick_between_several_drawing_tools(page, live_server, admin_user, screenshot):
    tree = json.loads(json.dumps(DEMO_TREE))
    tree["tasks"]["T5"]["tools"].append({"label": "star", "type": "rectangle", "min": 0, "max": 3})
    workflow = make_workflow(owner=admin_user, n_subjects=2, tree=tree)
    subject = open_classify(page, live_server, workflow)
    go_to_drawing(page)
    assert page.get_attribute(".tool-choice[data-tool=clump]", "aria-pressed") == "true"
    drag(page, to_screen(page, 5, 5), to_screen(page, 15, 15))
    page.keyboard.press("2")                                  # hotkey: the second tool
    assert page.get_attribute(".tool-choice[data-tool=star]", "aria-pressed") == "true"
    drag(page, to_screen(page, 40, 40), to_screen(page, 50, 52))
    assert page.locator("#marks .mark-label").all_text_contents() == ["1 clump", "2 star"]
    screenshot(page, "two-tools")
    finish_and_submit(page)
    assert [b["tool"] for b in boxes_of(stored(subject))] == ["clump", "star"]


def test_it_offers_another_galaxy_when_an_image_does_not_load(page, live_server, demo_workflow):
    page.route("**/media/**", lambda route: route.fulfill(status=404, body="missing"), times=1)
    first = open_classify(page, live_server, demo_workflow)
    page.wait_for_selector("#classify[data-state=image-error]")
    assert "did not load" in page.inner_text("#task-area")
    assert page.is_hidden("#task-nav")
    page.click("#skip-broken")
    page.wait_for_function(f"() => document.getElementById('classify').dataset.subject !== '{first}'")
    page.wait_for_selector("#classify[data-state=task]")
    assert page.is_visible("button.answer[data-label=smooth]") and page.get_attribute("#task-nav", "hidden") is None
