"""The classify page on phones and small screens: page scroll is never trapped by the image, and the
image, the answers and the main action share one screen. Touch is emulated (has_touch) and every
screen size is stated in the test; screenshots go to test-output/screenshots/."""
from __future__ import annotations

import pytest

from tests.browser.helpers import drawn_marks, open_classify, stored, boxes_of, to_screen, touch, wait_saved

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
STAGE = "() => document.getElementById('stage').style.transform"


def in_view(page, selector: str) -> bool:
    """The whole element is inside the viewport right now, without any scrolling."""
    return page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; }""",
                         selector)


def swipe(cdp, start, dy: float, steps: int = 6):
    touch(cdp, "touchStart", [start])
    for i in range(1, steps + 1):
        touch(cdp, "touchMove", [(start[0], start[1] + dy * i / steps)])
    touch(cdp, "touchEnd", [])


def centre(page, selector: str):
    box = page.locator(selector).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_a_swipe_up_on_the_unzoomed_image_scrolls_the_page_and_leaves_the_image_in_place(
        new_page, live_server, demo_workflow, screenshot):
    page = new_page(**PHONE, has_touch=True)
    open_classify(page, live_server, demo_workflow)
    cdp = page.context.new_cdp_session(page)
    before = page.evaluate(STAGE)
    swipe(cdp, centre(page, "#viewer"), -250)
    page.wait_for_timeout(300)
    assert page.evaluate(STAGE) == before, "the image did not move inside its frame"
    assert page.evaluate("scrollY") > 50, "the page scrolled instead"
    screenshot(page, "phone-390x844-after-swipe")


def test_a_swipe_on_a_zoomed_image_pans_it_instead(new_page, live_server, demo_workflow):
    page = new_page(**PHONE, has_touch=True)
    open_classify(page, live_server, demo_workflow)
    page.tap("#zoom-in")
    cdp = page.context.new_cdp_session(page)
    before = page.evaluate(STAGE)
    scroll = page.evaluate("scrollY")
    swipe(cdp, centre(page, "#viewer"), -80)
    assert page.evaluate(STAGE) != before
    assert page.evaluate("scrollY") == scroll


def test_the_wheel_over_the_image_scrolls_the_page_unless_ctrl_is_held(new_page, live_server, demo_workflow,
                                                                         screenshot):
    page = new_page(width=1280, height=600)
    open_classify(page, live_server, demo_workflow)
    page.mouse.move(*centre(page, "#viewer"))
    page.mouse.wheel(0, 300)
    page.wait_for_timeout(200)
    assert page.inner_text("#zoom-label") == "100%"
    assert page.evaluate("scrollY") > 0, "the page scrolled"
    # the hint fades in over a CSS transition: wait for the end of it rather than a fixed time
    page.wait_for_function("() => getComputedStyle(document.getElementById('wheel-hint')).opacity === '1'",
                           timeout=5000)
    screenshot(page, "desktop-1280x600-wheel-hint")
    page.evaluate("scrollTo(0, 0)")
    page.mouse.move(*centre(page, "#viewer"))
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)
    page.keyboard.up("Control")
    page.wait_for_timeout(200)
    assert int(page.inner_text("#zoom-label").rstrip("%")) > 100


def tap_in_view(page, selector: str, cdp=None):
    """Tap a control that must already be on screen: no scroll, and certainly none that the image took."""
    page.wait_for_selector(selector)
    assert in_view(page, selector), f"{selector} is off screen"
    x, y = centre(page, selector)
    if cdp is None:
        page.touchscreen.tap(x, y)
    else:  # after a CDP drag, tap through the same session: Chromium pairs the touches per session
        touch(cdp, "touchStart", [(x, y)])
        touch(cdp, "touchEnd", [])


@pytest.mark.parametrize("width,height", [(390, 844), (375, 667)], ids=["390x844", "375x667"])
def test_a_phone_walk_from_the_front_page_to_a_saved_box_never_needs_a_scroll(
        new_page, live_server, demo_workflow, screenshot, width, height):
    page = new_page(width=width, height=height, has_touch=True)
    page.goto(f"{live_server.url}/")
    tap_in_view(page, f"a[href='/classify/{demo_workflow.pk}/']")
    page.wait_for_selector("#classify.is-ready")
    subject = int(page.get_attribute("#classify", "data-subject"))
    assert in_view(page, "#viewer"), "the galaxy is in full view"
    screenshot(page, f"walk-{width}x{height}-1-question")
    tap_in_view(page, "button.answer[data-label=featured]")
    tap_in_view(page, "button.answer[data-label=yes]")
    page.wait_for_selector("#viewer.is-drawing")
    assert in_view(page, "#viewer") and in_view(page, "#next")
    cdp = page.context.new_cdp_session(page)
    start, end = to_screen(page, 12, 12), to_screen(page, 30, 26)
    touch(cdp, "touchStart", [start])
    for t in (0.33, 0.66, 1.0):
        touch(cdp, "touchMove", [(start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))])
    touch(cdp, "touchEnd", [])
    # Chromium's touch emulation eats the first tap after a CDP drag (the existing finger test meets it
    # too); a tap on the empty image takes it, and must draw nothing.
    tap = to_screen(page, 52, 52)
    touch(cdp, "touchStart", [tap])
    touch(cdp, "touchEnd", [])
    assert len(drawn_marks(page)) == 1
    screenshot(page, f"walk-{width}x{height}-2-drawing")
    tap_in_view(page, "#next", cdp)
    page.wait_for_selector("#classify[data-state=summary]")
    screenshot(page, f"walk-{width}x{height}-3-summary")
    assert page.inner_text("#next") == "Done"
    tap_in_view(page, "#next", cdp)
    wait_saved(page)
    page.wait_for_function(f"() => document.getElementById('classify').dataset.subject !== '{subject}'")
    page.wait_for_selector("#classify[data-state=task]")
    assert in_view(page, "#viewer"), "after Done the next galaxy is in full view"
    assert in_view(page, "button.answer")
    screenshot(page, f"walk-{width}x{height}-4-next-galaxy")
    [box] = boxes_of(stored(subject))
    assert abs(box["x_min"] - 12) < 0.6 and abs(box["y_max"] - 26) < 0.6


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)], ids=["390x844", "1280x800"])
def test_the_done_button_of_a_long_review_stays_on_screen(new_page, live_server, demo_workflow, screenshot,
                                                           width, height):
    page = new_page(width=width, height=height, has_touch=width < 900)
    open_classify(page, live_server, demo_workflow)
    for key in ("2", "2", "1", "1"):           # featured, not edge-on, bar, spiral: the longest walk
        page.keyboard.press(key)
    page.wait_for_selector("#viewer.is-drawing")
    page.click("#next")
    page.wait_for_selector("#classify[data-state=summary]")
    assert in_view(page, "#next") and page.inner_text("#next") == "Done"
    screenshot(page, f"review-{width}x{height}")


def test_next_does_not_move_when_the_status_line_changes(new_page, live_server, demo_workflow):
    page = new_page(**PHONE, has_touch=True)
    open_classify(page, live_server, demo_workflow)
    page.tap("button.answer[data-label=featured]")
    page.tap("button.answer[data-label=yes]")
    page.wait_for_selector("#viewer.is-drawing")
    before = page.locator("#next").bounding_box()["y"]
    page.evaluate("document.getElementById('status').textContent = ''")
    empty = page.locator("#next").bounding_box()["y"]
    page.evaluate("document.getElementById('status').textContent = 'A long message: ' + 'words '.repeat(40)")
    long = page.locator("#next").bounding_box()["y"]
    assert before == empty == long
