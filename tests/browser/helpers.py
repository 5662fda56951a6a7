"""Shared steps for the browser tests: open the page, map image pixels to the screen, read marks back."""
from __future__ import annotations


def open_classify(page, live_server, workflow) -> int:
    page.goto(f"{live_server.url}/classify/{workflow.pk}/")
    page.wait_for_selector("#classify.is-ready")
    subject = page.get_attribute("#classify", "data-subject")
    return int(subject) if subject else 0


def image_size(page) -> tuple[float, float]:
    _, _, w, h = (float(v) for v in page.get_attribute("#marks", "viewBox").split())
    return w, h


def to_screen(page, x: float, y: float) -> tuple[float, float]:
    """Where image pixel (x, y) is on the screen right now, whatever the zoom and pan."""
    box = page.locator("#marks").bounding_box()
    w, h = image_size(page)
    return box["x"] + x / w * box["width"], box["y"] + y / h * box["height"]


def drag(page, start, end, steps: int = 8):
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=steps)
    page.mouse.up()


def drawn_marks(page) -> list[dict]:
    return page.evaluate("""() => [...document.querySelectorAll('#marks .mark-body')].map((r) => ({
        x_min: +r.getAttribute('x'), y_min: +r.getAttribute('y'),
        x_max: +r.getAttribute('x') + +r.getAttribute('width'), y_max: +r.getAttribute('y') + +r.getAttribute('height')}))""")


def go_to_drawing(page):
    page.keyboard.press("2")  # T0: features or disk
    page.keyboard.press("1")  # T2: edge-on, yes -> T5, the drawing task
    page.wait_for_selector("#viewer.is-drawing")


def finish_and_submit(page):
    page.click("#next")                      # drawing task -> summary
    page.wait_for_selector("#classify[data-state=summary]")
    page.click("#next")                      # Done
    wait_saved(page)


def wait_saved(page):
    # Generous: the first submit of a run imports the aggregation engine in the server thread.
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Saved')", timeout=60_000)


def stored(subject_id: int):
    from zooapp.models import Classification
    return Classification.objects.get(subject_id=subject_id)


def boxes_of(classification, task: str = "T5") -> list[dict]:
    return next(a["value"] for a in classification.annotations if a["task"] == task)


def close(a: float, b: float, tol: float = 0.6) -> bool:
    return abs(a - b) <= tol


def touch(cdp, kind: str, points) -> None:
    """One CDP touch event; ``points`` are screen (x, y) pairs, one per finger."""
    cdp.send("Input.dispatchTouchEvent", {
        "type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]})
