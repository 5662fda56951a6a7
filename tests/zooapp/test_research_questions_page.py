"""The researchers' page of new questions (/research/questions/): the project's staff open a question to volunteers
and close it again; everyone else is refused, and a refusal says why and changes nothing."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.conftest import make_workflow
from tests.zooapp.test_questions_volunteers import answer, volunteer_client
from zooapp.models import NewQuestion, QuestionLabel
from zooapp.services.projects import membership_set
from zooapp.services.questions import new_question_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(fresh_rate_limits):
    """A project run by owen, a closed question on it, and a signed-in client per persona."""
    User = get_user_model()
    owner = User.objects.create_user("owen")
    workflow = make_workflow(owner=owner, n_subjects=2, n_gold=0)
    question = new_question_create(workflow=workflow, key="ring", text="Is there a ring?", answers=["ring", "no ring"])
    User.objects.create_user("stranger")
    User.objects.create_user("erin")
    membership_set(project=workflow.project, username="erin", role="expert")  # a role, but not the build right
    return {"workflow": workflow, "question": question, "subjects": list(workflow.subjects.order_by("id")),
            **{name: signed_in(name) for name in ["owen", "stranger", "erin"]}}


def signed_in(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def switch(client, question_id: int, action: str):
    return client.post(reverse("research-question-volunteers", args=[question_id]), {"action": action})


def state(question) -> bool:
    return NewQuestion.objects.get(pk=question.pk).volunteers


def test_the_owner_opens_a_question_a_volunteer_answers_it_and_once_closed_their_answer_is_refused(world):
    question, subject = world["question"], world["subjects"][0]
    page = world["owen"].get(reverse("research-questions")).content.decode()
    assert "Closed to volunteers" in page and 'value="open"' in page

    opened = switch(world["owen"], question.pk, "open")
    assert opened.status_code == 302 and opened["Location"] == reverse("research-questions")
    assert state(question) is True
    volunteer = volunteer_client(world["workflow"], subject)
    assert answer(volunteer, subject, question, "ring").status_code == 201
    page = world["owen"].get(reverse("research-questions")).content.decode()
    assert "Open to volunteers" in page and "1 volunteer answer so far" in page and 'value="close"' in page

    assert switch(world["owen"], question.pk, "close").status_code == 302
    assert state(question) is False
    refused = answer(volunteer, subject, question, "no ring")
    assert refused.status_code == 404 and "no question" in refused.json()["detail"]
    assert list(QuestionLabel.objects.values_list("answer", flat=True)) == [0], "the answer given stays, unchanged"
    assert "1 volunteer answer so far" in world["owen"].get(reverse("research-questions")).content.decode()


@pytest.mark.parametrize("persona, status, says", [
    ("stranger", 404, "no question"), ("erin", 403, "does not allow this (build)")])
def test_someone_who_does_not_run_the_project_cannot_open_its_question(world, persona, status, says):
    response = switch(world[persona], world["question"].pk, "open")
    assert response.status_code == status and says in response.content.decode()
    assert state(world["question"]) is False


def test_a_visitor_is_sent_to_log_in_and_nothing_changes(world):
    response = switch(Client(), world["question"].pk, "open")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert state(world["question"]) is False


def test_a_stranger_does_not_see_the_question_and_an_expert_sees_it_without_the_button(world):
    assert "Is there a ring?" not in world["stranger"].get(reverse("research-questions")).content.decode()
    page = world["erin"].get(reverse("research-questions")).content.decode()
    assert "Is there a ring?" in page and 'name="action"' not in page


@pytest.mark.parametrize("action, status, says", [
    ("close", 409, "is already closed to volunteers: nothing changed"),
    ("toggle", 400, "action must be open or close")])
def test_a_bad_switch_says_why_and_changes_nothing(world, action, status, says):
    response = switch(world["owen"], world["question"].pk, action)
    assert response.status_code == status and says in response.content.decode()
    assert state(world["question"]) is False


def test_opening_an_open_question_says_so(world):
    assert switch(world["owen"], world["question"].pk, "open").status_code == 302
    response = switch(world["owen"], world["question"].pk, "open")
    assert response.status_code == 409 and "already open to volunteers" in response.content.decode()
    assert state(world["question"]) is True


def test_an_unknown_question_gets_a_clear_message(world):
    response = switch(world["owen"], 987654, "open")
    assert response.status_code == 404 and "no question 987654 among your projects" in response.content.decode()


def test_the_switch_takes_only_a_post_with_the_csrf_token(world):
    assert world["owen"].get(reverse("research-question-volunteers", args=[world["question"].pk])).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(get_user_model().objects.get(username="owen"))
    assert switch(strict, world["question"].pk, "open").status_code == 403
    assert state(world["question"]) is False


def test_every_research_page_links_to_the_other_research_tools_and_the_menu_leads_there(world):
    tools = [reverse(name) for name in ("tag-search", "research-anomaly-index", "research-questions",
                                        "moderation-index")]
    for url in tools:
        page = world["owen"].get(url).content.decode()
        nav = page.split('aria-label="Research tools"', 1)[1].split("</nav>", 1)[0]
        assert all(f'href="{other}"' in nav for other in tools), url
        assert f'href="{url}" aria-current="page"' in nav, url
    assert 'href="/research/questions/"' in world["owen"].get("/").content.decode()
    assert 'href="/research/questions/"' not in Client().get("/").content.decode()  # visitors have no research
