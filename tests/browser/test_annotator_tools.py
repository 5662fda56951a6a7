"""What annotators expect of the classify page: boxes inside boxes, a list of marks, undo that survives
Back and Next, a draft that survives a reload, 1:1 zoom, contrast, a colour-keeping stretch, a skip,
and a way in (skip link, sign-up back to the galaxy, favicon, no bookkeeping in the caption)."""
from __future__ import annotations

import pytest

from tests.browser.helpers import close, drag, drawn_marks, go_to_drawing, open_classify, to_screen
from tests.conftest import make_workflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STRETCH = """async ([pixels, stretch]) => {
    const {stretchPixels} = await import('/static/js/classify/stretch.js');
    const src = new ImageData(new Uint8ClampedArray(pixels.flatMap((p) => [...p, 255])), pixels.length, 1);
    const out = stretchPixels(src, {stretch});
    return pixels.map((_, i) => Array.from(out.data.slice(4 * i, 4 * i + 3)));
}"""


def test_the_stretch_brightens_faint_pixels_and_keeps_their_colour(page, live_server, demo_workflow):
    open_classify(page, live_server, demo_workflow)
    faint, noise = [40, 20, 10], [5, 0, 0]
    for stretch in ("asinh", "log"):
        out_faint, out_noise = page.evaluate(STRETCH, [[faint, noise], stretch])
        assert min(out_faint) > max(faint) - 20 and out_faint[1] > 2 * faint[1], "brighter"
        assert abs(out_faint[0] - out_faint[1] - 20) <= 1 and abs(out_faint[1] - out_faint[2] - 10) <= 1, "same colour"
        assert out_noise[1] >= 2 and out_noise[0] - out_noise[1] <= 5, "red noise brightens toward grey, not to red"


def test_a_box_can_be_started_inside_another_and_a_tap_selects_it(page, live_server, demo_workflow):
    open_classify(page, live_server, demo_workflow)
    go_to_drawing(page)
    drag(page, to_screen(page, 5, 5), to_screen(page, 55, 55))
    page.mouse.click(*to_screen(page, 60, 60))                  # outside: deselects
    drag(page, to_screen(page, 20, 20), to_screen(page, 30, 30))
    big, small = drawn_marks(page)
    assert close(big["x_min"], 5) and close(small["x_min"], 20) and close(small["x_max"], 30)
    page.mouse.click(*to_screen(page, 10, 40))                  # a tap inside the big box selects it
    assert page.get_attribute("#mark-list li:nth-child(1) .mark-select", "aria-pressed") == "true"


def test_the_mark_list_selects_hides_and_deletes_boxes(page, live_server, demo_workflow, screenshot):
    open_classify(page, live_server, demo_workflow)
    go_to_drawing(page)
    drag(page, to_screen(page, 5, 5), to_screen(page, 20, 20))
    drag(page, to_screen(page, 40, 40), to_screen(page, 55, 50))
    assert page.locator("#mark-list li").count() == 2
    page.click("#mark-list li:nth-child(1) .mark-hide")
    assert not page.locator("#marks .mark").nth(0).is_visible()
    assert page.get_attribute("#mark-list li:nth-child(1) .mark-hide", "aria-pressed") == "true"
    screenshot(page, "mark-list")
    page.click("#mark-list li:nth-child(2) .mark-delete")
    assert page.locator("#mark-list li").count() == 1 and len(drawn_marks(page)) == 1
    page.click("#mark-list li:nth-child(1) .mark-select")
    assert page.locator("#marks .mark").nth(0).is_visible(), "a selected box is shown again"
    assert page.is_enabled("#delete-box")


def test_back_and_next_keep_the_undo_history(page, live_server, demo_workflow):
    open_classify(page, live_server, demo_workflow)
    go_to_drawing(page)
    drag(page, to_screen(page, 5, 5), to_screen(page, 20, 20))
    page.click("#next")
    page.wait_for_selector("#classify[data-state=summary]")
    page.click("#back")
    page.wait_for_selector("#viewer.is-drawing")
    assert len(drawn_marks(page)) == 1
    assert page.is_enabled("#undo")
    page.click("#undo")
    assert drawn_marks(page) == []


def log_in(page, live_server, user):
    from django.test import Client
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])


def test_a_reload_keeps_the_answers_and_boxes_and_a_submit_clears_them(page, live_server, demo_workflow,
                                                                       django_user_model):
    from tests.browser.helpers import finish_and_submit, stored, boxes_of
    log_in(page, live_server, django_user_model.objects.create_user("returning", password="x-Passw0rd-1"))
    subject = open_classify(page, live_server, demo_workflow)
    go_to_drawing(page)
    drag(page, to_screen(page, 8, 8), to_screen(page, 24, 20))
    page.reload()
    page.wait_for_selector("#classify.is-ready")
    assert int(page.get_attribute("#classify", "data-subject")) == subject
    page.wait_for_selector("#viewer.is-drawing")
    [box] = drawn_marks(page)
    assert close(box["x_min"], 8) and close(box["y_max"], 20)
    assert page.is_enabled("#undo"), "with its undo history"
    finish_and_submit(page)
    assert [a["task"] for a in stored(subject).annotations] == ["T0", "T2", "T5"]
    assert len(boxes_of(stored(subject))) == 1
    keys = page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('zooloop.draft'))")
    assert all(not k.endswith(f".{subject}") for k in keys)


def test_it_zooms_to_one_image_pixel_per_screen_pixel_and_changes_the_contrast(page, live_server, demo_workflow):
    open_classify(page, live_server, demo_workflow)
    page.click("#zoom-actual")
    assert close(page.locator("#marks").bounding_box()["width"], 64, 1)
    pixel = "() => Array.from(document.getElementById('image-canvas').getContext('2d').getImageData(40, 32, 1, 1).data)"
    before = page.evaluate(pixel)
    page.fill("#contrast", "250")
    assert page.evaluate(pixel) != before
    assert page.inner_text("#contrast-value") == "250%"


def test_skip_shows_another_galaxy_without_a_classification(page, live_server, demo_workflow):
    from zooapp.models import Classification
    first = open_classify(page, live_server, demo_workflow)
    page.click("#skip")
    page.wait_for_function(f"() => document.getElementById('classify').dataset.subject !== '{first}'")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Skipped')")
    assert page.is_visible("button.answer[data-label=smooth]")
    assert Classification.objects.count() == 0


def test_a_skip_link_is_the_first_tab_stop_and_leads_to_the_first_answer(page, live_server, demo_workflow):
    open_classify(page, live_server, demo_workflow)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "skip-to-question"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.label") == "smooth"


def test_sign_up_returns_to_the_galaxy(page, live_server, demo_workflow):
    open_classify(page, live_server, demo_workflow)
    page.click(".nav-account a.button")
    page.fill("#id_username", "newvolunteer")
    page.fill("#id_password1", "a-long-Passw0rd-42")
    page.fill("#id_password2", "a-long-Passw0rd-42")
    page.click("button[type=submit]")
    page.wait_for_url(f"**/classify/{demo_workflow.pk}/")
    assert page.inner_text(".nav-user") == "newvolunteer"


def test_the_caption_hides_bookkeeping_and_the_favicon_is_served(page, live_server, admin_user):
    workflow = make_workflow(owner=admin_user, n_subjects=1)
    workflow.subjects.update(metadata={"name": "S0", "source": "synthetic", "redshift": 0.05})
    open_classify(page, live_server, workflow)
    caption = page.inner_text("#subject-caption")
    assert "synthetic" not in caption and "redshift: 0.05" in caption
    response = page.request.get(f"{live_server.url}/favicon.ico")
    assert response.ok and response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
