"""Tags in the browser: after Done a volunteer tags the galaxy just classified (phone and desktop), removes
their own tag, and a moderator hides one from the moderation page. On a phone (390x844, 375x667) the panel
for the galaxy just classified is a sheet opened from the action bar, so tagging needs no scroll past the next
galaxy; it answers the researchers' extra questions too. Screenshots go to test-output/screenshots/."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.browser.helpers import open_classify, wait_saved
from zooapp.models import QuestionLabel, SubjectTag, TagModeration
from zooapp.services.projects import membership_set
from zooapp.services.questions import new_question_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fits_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= innerWidth")


def in_view(page, selector: str) -> bool:
    """The whole element is inside the viewport right now, without any scrolling."""
    return page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; }""",
                         selector)


def classify_one(page):
    page.keyboard.press("3")                                  # artifact -> summary
    page.click("#next")                                       # Done
    wait_saved(page)


def open_last_subject(page, phone: bool, focus: str = "tag-input"):
    """On a phone, tap the action bar's button (on screen, no scroll); on a desktop the panel is already there."""
    page.wait_for_selector("#last-subject-open:not([hidden])")
    assert in_view(page, "#last-subject-open")
    if phone:
        assert page.is_hidden("#last-subject"), "closed until asked for: it would cover the next galaxy"
        page.tap("#last-subject-open")
    else:
        assert page.is_visible("#last-subject"), "a desktop has room for it beside the image"
        page.click("#last-subject-open")                     # brings the tag box into view
    page.wait_for_selector("#last-subject:not([hidden])")
    page.wait_for_function("(c) => document.activeElement.classList.contains(c)", arg=focus)
    assert in_view(page, "#last-subject .tag-input")


@pytest.mark.parametrize("size", [{"width": 390, "height": 844, "has_touch": True}, {"width": 1280, "height": 800}],
                         ids=["phone-390x844", "desktop-1280x800"])
def test_a_volunteer_tags_the_galaxy_just_classified_and_removes_a_tag(new_page, live_server, demo_workflow,
                                                                       screenshot, size, fresh_rate_limits):
    page = new_page(**size)
    subject = open_classify(page, live_server, demo_workflow)
    assert page.is_hidden("#last-subject") and page.is_hidden("#last-subject-open")
    classify_one(page)
    open_last_subject(page, phone=size["width"] < 900)
    page.wait_for_selector("#last-subject .tag-none")
    field = page.locator("#last-subject .tag-input")
    field.fill("#Ring #tidal!")
    field.press("Enter")
    page.wait_for_selector("#last-subject .tag-message[data-kind=error]")
    assert "'#tidal!'" in page.inner_text("#last-subject .tag-message")
    assert not SubjectTag.objects.exists()                    # a bad tag stores none of the line
    field.fill("#Ring #dust-lane")
    page.click("#last-subject .tag-form button[type=submit]")
    page.wait_for_selector("#last-subject .tag-name >> text=#dust-lane")
    assert sorted(SubjectTag.objects.filter(subject_id=subject).values_list("name", flat=True)) == ["dust-lane", "ring"]
    assert fits_width(page), "the tag box widens the page"
    assert "{#" not in page.inner_text("#classify"), "no template comment shows"
    screenshot(page, f"tags-after-done-{size['width']}x{size['height']}")
    page.click("button[aria-label='Remove your tag #ring']")
    page.wait_for_selector("#last-subject .tag-message >> text=Removed #ring")
    assert list(SubjectTag.objects.values_list("name", flat=True)) == ["dust-lane"]
    assert page.is_hidden("#last-subject-questions"), "this project asks no extra questions"
    page.click("#last-subject-page")                          # the galaxy's own page shows the tag
    page.wait_for_selector(".tag-name >> text=#dust-lane")
    assert page.url.endswith(f"/subjects/{subject}/") and fits_width(page)
    page.click(".tag-name >> text=#dust-lane")                 # and each tag is a search
    page.wait_for_selector("#tagged a[href$='/subjects/%d/']" % subject)
    assert fits_width(page), "the search page widens the screen"
    screenshot(page, f"tags-search-{size['width']}x{size['height']}")


def test_a_moderator_hides_a_tag_on_a_phone_and_the_log_names_them(new_page, live_server, demo_workflow, screenshot):
    from zooapp.models import Volunteer
    subject = demo_workflow.subjects.filter(is_gold=False).first()
    author = Volunteer.objects.create(name="vera")
    SubjectTag.objects.create(subject=subject, volunteer=author, name="buy-now")
    User = get_user_model()
    User.objects.create_user("mona", password="mona-pass-123")
    membership_set(project=demo_workflow.project, username="mona", role="moderator")
    page = new_page(width=390, height=844, has_touch=True)
    page.goto(f"{live_server.url}/accounts/login/?next=/moderation/")
    page.fill("input[name=username]", "mona")
    page.fill("input[name=password]", "mona-pass-123")
    page.click("form button[type=submit] >> nth=-1")
    page.click("a >> text=Moderate tags")
    item = page.locator(".moderation-item", has_text="#buy-now")
    item.locator("input[name=reason]").fill("advert")
    item.locator("button >> text=Hide").click()
    page.wait_for_selector(".message >> text=is now hidden")
    assert SubjectTag.objects.get().hidden
    assert "mona" in page.inner_text("#moderation-log") and "advert" in page.inner_text("#moderation-log")
    assert TagModeration.objects.get().moderator.username == "mona"
    assert fits_width(page), "the moderation page widens a phone screen"
    screenshot(page, "tags-moderation-390x844")


@pytest.mark.parametrize("width,height", [(390, 844), (375, 667)], ids=["390x844", "375x667"])
def test_on_a_phone_the_sheet_opens_on_screen_from_the_action_bar_and_the_keyboard_closes_it(
        new_page, live_server, demo_workflow, screenshot, width, height, fresh_rate_limits):
    page = new_page(width=width, height=height, has_touch=True)
    subject = open_classify(page, live_server, demo_workflow)
    classify_one(page)
    open_last_subject(page, phone=True)
    assert page.evaluate("scrollY") == 0, "nothing scrolled"
    for part in ("#last-subject-title", "#last-subject .tag-input", "#last-subject .tag-form button[type=submit]",
                 "#last-subject-close"):
        assert in_view(page, part), f"{part} is off screen"
    assert page.evaluate("document.activeElement.classList.contains('tag-input')"), "focus goes to the tag box"
    page.keyboard.type("#spiral-arms 1")                       # digits typed here are not answer shortcuts
    page.keyboard.press("Enter")
    page.wait_for_selector("#last-subject .tag-message[data-kind=error]")
    page.fill("#last-subject .tag-input", "#spiral-arms")
    page.keyboard.press("Enter")
    page.wait_for_selector("#last-subject .tag-name >> text=#spiral-arms")
    assert list(SubjectTag.objects.filter(subject_id=subject).values_list("name", flat=True)) == ["spiral-arms"]
    assert page.evaluate("document.getElementById('classify').dataset.state") == "task", "no answer was given"
    screenshot(page, f"tags-sheet-{width}x{height}")
    page.keyboard.press("Escape")
    assert page.is_hidden("#last-subject")
    assert page.evaluate("document.activeElement.id") == "last-subject-open", "focus goes back to the button"
    assert page.get_attribute("#last-subject-open", "aria-expanded") == "false"
    page.keyboard.press("Enter")                               # the button opens it from the keyboard too
    page.wait_for_selector("#last-subject.is-sheet:not([hidden])")
    page.click("#last-subject-close")
    assert page.is_hidden("#last-subject") and in_view(page, "button.answer")


def test_a_volunteer_answers_the_researchers_extra_question_about_the_galaxy_just_classified(
        new_page, live_server, demo_workflow, screenshot, fresh_rate_limits):
    ring = new_question_create(workflow=demo_workflow, key="ring", text="Is there a ring?",
                               answers=["ring", "no ring"], volunteers=True)
    page = new_page(width=390, height=844, has_touch=True)
    subject = open_classify(page, live_server, demo_workflow)
    classify_one(page)
    page.wait_for_selector("#last-subject-open-dot:not([hidden])")  # a question waits
    assert "answer 1 question" in page.get_attribute("#last-subject-open", "aria-label")
    open_last_subject(page, phone=True, focus="question-answer")
    assert in_view(page, ".question-answer[data-answer='no ring']")
    assert page.evaluate("document.activeElement.dataset.answer") == "ring", "focus goes to the first answer"
    page.tap(".question-answer[data-answer='no ring']")
    page.wait_for_selector(".question-answer[data-answer='no ring'][aria-pressed=true]")
    [label] = QuestionLabel.objects.all()
    assert (label.question_id, label.subject_id, label.answer, label.user) == (ring.pk, subject, 1, None)
    assert page.is_hidden("#last-subject-open-dot")
    screenshot(page, "question-sheet-390x844")
    page.tap(".question-answer[data-answer='ring']")           # a change of mind replaces the answer
    page.wait_for_selector(".question-answer[data-answer='ring'][aria-pressed=true]")
    assert list(QuestionLabel.objects.values_list("answer", flat=True)) == [0]
