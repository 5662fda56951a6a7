"""The task help shows galaxies of the project's own that volunteers agreed on, on a phone (390x844)."""
from __future__ import annotations

import numpy as np
import pytest
from django.core.cache import cache

from tests.browser.helpers import open_classify
from zooapp.models import SubjectPosterior

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_task_help_shows_example_galaxies_from_this_project(new_page, live_server, demo_workflow, screenshot):
    cache.clear()
    retired = demo_workflow.subjects.filter(is_gold=False).order_by("-id").first()
    retired.status = "retired"
    retired.save(update_fields=["status"])
    SubjectPosterior.objects.create(subject=retired, task="T0", labels=["smooth", "featured", "artifact"],
                                    log_posterior=list(np.log([0.96, 0.03, 0.01])), vote_counts=[5, 0, 0],
                                    weighted_counts=[5, 0, 0])
    page = new_page(width=390, height=844, has_touch=True)
    open_classify(page, live_server, demo_workflow)
    assert page.is_hidden("#help-examples img")
    page.click("#help-toggle")
    image = page.locator("#help-examples img")
    image.wait_for()
    assert image.get_attribute("src") == retired.frames.get().image.url
    assert page.inner_text("#help-examples") == "Smooth"
    assert page.evaluate("() => document.querySelector('#help-examples img').naturalWidth") > 0
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    page.locator("#help-examples").scroll_into_view_if_needed()
    screenshot(page, "help-examples-390x844")
    cache.clear()
