"""Research pages in the browser at 390x844: more like this from the classify page, and the anomaly loop."""
from __future__ import annotations

import pytest

from tests.browser.helpers import open_classify, wait_saved
from tests.conftest import arc_vectors, embeddings_store
from zooapp.models import Subject

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844, "has_touch": True}


@pytest.fixture
def embedded(demo_workflow):
    """The demo galaxies on an arc, 20 degrees apart: each one's nearest are its arc neighbours."""
    n = Subject.objects.filter(workflow=demo_workflow).count()
    return embeddings_store(demo_workflow, arc_vectors(n, 20))[1]


def fits_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= innerWidth")


def test_a_volunteer_opens_more_like_this_from_the_galaxy_just_classified(new_page, live_server, demo_workflow,
                                                                          embedded, screenshot):
    page = new_page(**PHONE)
    subject = open_classify(page, live_server, demo_workflow)
    page.keyboard.press("3")  # artifact -> summary
    page.click("#next")       # Done
    wait_saved(page)
    page.click("#last-subject-open")  # on a phone the galaxy just classified is a sheet opened from the action bar
    page.click("#last-subject-similar")
    page.wait_for_url(f"**/research/similar/{subject}/")
    assert page.locator("#similar-list li").count() == 4  # the other four galaxies, nearest first
    assert page.locator("#similar-list img").first.evaluate("img => img.complete && img.naturalWidth > 0")
    assert fits_width(page)
    screenshot(page, "research-similar-phone")


def test_a_researcher_marks_a_galaxy_and_the_ranking_updates(new_page, live_server, embedded, screenshot):
    page = new_page(**PHONE)
    page.goto(f"{live_server.url}/accounts/login/?next=/research/anomaly/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("form.form button[type=submit]")
    page.click("text=Start a session")
    page.wait_for_selector("#to-label li")
    first = page.get_attribute("#to-label li >> nth=0", "data-subject")
    page.click("#to-label li >> nth=0 >> text=Interesting")
    page.wait_for_function("() => document.getElementById('anomaly-count').textContent === '1'")
    assert page.get_attribute("#top-list li >> nth=0", "data-subject") == first  # judged interesting: first
    assert first not in [li.get_attribute("data-subject") for li in page.locator("#to-label li").all()]
    assert "ranking is updated" in page.inner_text("#anomaly-message")
    assert fits_width(page)
    screenshot(page, "research-anomaly-phone")
