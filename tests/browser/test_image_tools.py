"""The image viewer's tools: stretch, invert, zoom, pan, pinch and the flipbook."""
from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from tests.browser.helpers import close, drag, drawn_marks, go_to_drawing, open_classify, to_screen, touch
from tests.conftest import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHECKSUM = ("() => document.getElementById('image-canvas').getContext('2d').getImageData(0, 0, 64, 64).data"
            ".reduce((a, v, i) => (a * 31 + v * (i + 1)) % 1000003, 0)")
PIXEL = "([x, y]) => Array.from(document.getElementById('image-canvas').getContext('2d').getImageData(x, y, 1, 1).data)"


def zoom_percent(page) -> int:
    return int(page.inner_text("#zoom-label").rstrip("%"))


def test_it_changes_the_stretch_inverts_and_zooms_with_buttons(page, live_server, demo_workflow, screenshot):
    open_classify(page, live_server, demo_workflow)
    linear = page.evaluate(PIXEL, [40, 32])
    page.select_option("#stretch", "asinh")
    stretched = page.evaluate(PIXEL, [40, 32])
    assert stretched[0] > linear[0], "asinh brightens the faint outskirts"
    page.click("#invert")
    assert page.get_attribute("#invert", "aria-pressed") == "true"
    assert page.evaluate(PIXEL, [40, 32])[0] == 255 - stretched[0]
    page.click("#zoom-in")
    assert page.inner_text("#zoom-label") == "125%"
    page.click("#zoom-reset")
    assert page.inner_text("#zoom-label") == "100%"
    screenshot(page, "stretched")


def test_it_pans_with_space_drag_and_the_middle_button_without_drawing(page, live_server, demo_workflow):
    open_classify(page, live_server, demo_workflow)
    go_to_drawing(page)
    page.click("#zoom-in")
    page.focus("#marks")
    before = page.locator("#marks").bounding_box()
    page.keyboard.down(" ")
    drag(page, to_screen(page, 30, 30), to_screen(page, 20, 25))
    page.keyboard.up(" ")
    after = page.locator("#marks").bounding_box()
    assert after["x"] < before["x"] - 20 and after["y"] < before["y"] - 10
    page.mouse.move(*to_screen(page, 30, 30))
    page.mouse.down(button="middle")
    page.mouse.move(*to_screen(page, 40, 30), steps=5)
    page.mouse.up(button="middle")
    assert page.locator("#marks").bounding_box()["x"] > after["x"] + 20
    assert drawn_marks(page) == []


def test_it_zooms_with_a_pinch_and_keeps_the_box_on_the_same_pixels(new_page, live_server, demo_workflow):
    page = new_page(width=412, height=860, has_touch=True)
    open_classify(page, live_server, demo_workflow)
    page.tap("button.answer[data-label=featured]")
    page.tap("button.answer[data-label=yes]")
    page.wait_for_selector("#viewer.is-drawing")
    cdp = page.context.new_cdp_session(page)
    start, end = to_screen(page, 20, 20), to_screen(page, 40, 30)
    touch(cdp, "touchStart", [start])
    touch(cdp, "touchMove", [end])
    touch(cdp, "touchEnd", [])
    assert len(drawn_marks(page)) == 1

    a, b = to_screen(page, 24, 32), to_screen(page, 40, 32)
    touch(cdp, "touchStart", [a])
    touch(cdp, "touchStart", [a, b])
    for t in (0.2, 0.4, 0.6, 0.8, 1.0):       # fingers spread apart: zoom in
        touch(cdp, "touchMove", [(a[0] - 60 * t, a[1]), (b[0] + 60 * t, b[1])])
    touch(cdp, "touchEnd", [])
    assert zoom_percent(page) > 150
    [box] = drawn_marks(page)
    assert close(box["x_min"], 20) and close(box["y_min"], 20) and close(box["x_max"], 40) and close(box["y_max"], 30)


def test_it_flips_through_the_frames_of_a_subject(page, live_server, demo_workflow):
    from zooapp.models import SubjectFrame
    for first in SubjectFrame.objects.filter(index=0):
        second = SubjectFrame(subject=first.subject, index=1, label="r band")
        second.image.save(f"r{first.subject_id}.png", ContentFile(png_bytes(seed=100 + first.subject_id)), save=True)
    open_classify(page, live_server, demo_workflow)
    assert page.is_visible("#flipbook")
    first_label = page.get_attribute("#viewer", "data-frame")
    before = page.evaluate(CHECKSUM)
    page.click("#frame-next")
    assert page.get_attribute("#viewer", "data-frame") == "r band" != first_label
    assert "2 of 2" in page.inner_text("#frame-label")
    assert page.evaluate(CHECKSUM) != before
    page.click("#frame-play")
    page.wait_for_function("() => document.getElementById('viewer').dataset.frame !== 'r band'")
    page.click("#frame-play")
    assert page.get_attribute("#frame-play", "aria-pressed") == "false"


def test_it_pans_with_the_arrow_keys_in_pan_mode(page, live_server, demo_workflow):
    open_classify(page, live_server, demo_workflow)
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert zoom_percent(page) == 156
    before = page.locator("#marks").bounding_box()
    page.keyboard.press("h")
    assert page.get_attribute("#pan-mode", "aria-pressed") == "true"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowUp")
    after = page.locator("#marks").bounding_box()
    assert close(after["x"] - before["x"], 40, 1) and close(after["y"] - before["y"], 40, 1)
    page.keyboard.press("0")
    assert zoom_percent(page) == 100
