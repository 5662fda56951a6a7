"""The shared layout (templates/base.html): navigation for visitors, volunteers and staff."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def nav_links(page) -> list[str]:
    return [t.strip() for t in page.locator(".site-nav a, .site-nav button").all_inner_texts()]


def test_it_shows_visitors_log_in_and_sign_up_but_no_dashboard(page, live_server, demo_workflow, screenshot):
    page.goto(f"{live_server.url}/")
    links = nav_links(page)
    assert {"zooloop", "Classify", "My stats", "Log in", "Sign up"} <= set(links)
    assert "Dashboard" not in links and "Log out" not in links
    screenshot(page, "home")
    page.goto(f"{live_server.url}/accounts/login/")
    screenshot(page, "login")


def test_it_shows_staff_the_dashboard_and_logs_out_with_a_post(page, live_server, demo_workflow, screenshot):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("form.form button[type=submit]")
    page.wait_for_selector(".nav-user")
    links = nav_links(page)
    assert "Dashboard" in links and "Log out" in links and "Log in" not in links
    page.goto(f"{live_server.url}/dashboard/{demo_workflow.pk}/")
    assert page.get_attribute(".nav-links a[href='/dashboard/']", "aria-current") == "page"
    screenshot(page, "dashboard")
    page.goto(f"{live_server.url}/me/")
    screenshot(page, "me")
    page.click(".nav-logout button")
    page.wait_for_selector(".nav-account a[href^='/accounts/login/']")
