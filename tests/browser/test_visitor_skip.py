"""A visitor who has not written anything skips galaxies on a phone (390x844): none comes back, reload or not."""
from __future__ import annotations

import pytest

from tests.browser.helpers import open_classify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_skipped_galaxies_do_not_come_back_to_a_visitor_even_after_a_reload(new_page, live_server, demo_workflow):
    from zooapp.models import Volunteer
    page = new_page(width=390, height=844, has_touch=True)
    seen = [open_classify(page, live_server, demo_workflow)]
    for _ in range(3):
        page.click("#skip")
        page.wait_for_function(f"() => !{seen}.includes(+document.getElementById('classify').dataset.subject)")
        seen.append(int(page.get_attribute("#classify", "data-subject")))
    page.reload()
    page.wait_for_selector("#classify.is-ready")
    assert int(page.get_attribute("#classify", "data-subject")) == seen[-1]  # the galaxy on screen, not a skipped one
    assert len(set(seen)) == 4 and not Volunteer.objects.exists()
