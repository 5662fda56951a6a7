"""Playwright fixtures for the browser tests: Debian's Chromium against pytest-django's live server."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from such a thread
# unless told that this is a test.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("ZOOLOOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

# Returning volunteers: no tutorial in the way unless a test asks for it.
SKIP_TUTORIAL = "try { localStorage.setItem('zooloop.tutorial.seen.v1', '1'); } catch (e) {}"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """Factory for pages in fresh contexts: ``new_page(width=..., has_touch=..., tutorial=False)``."""

    def make(*, width: int = 1280, height: int = 860, has_touch: bool = False, tutorial: bool = False,
             feedback: bool = False):
        context = browser.new_context(viewport={"width": width, "height": height}, has_touch=has_touch)
        context.set_default_timeout(20_000)
        if not tutorial:
            context.add_init_script(SKIP_TUTORIAL)
        if feedback:
            context.add_init_script("localStorage.setItem('zooloop.feedback.optin', '1');")
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        pages.append(page)
        return page

    contexts, pages = [], []
    yield make
    errors = [e for page in pages for e in page.errors]
    for context in contexts:
        context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"  # every browser test also checks this


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    return take
