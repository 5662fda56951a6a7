"""The subjects API lists each subject's tags: visible ones only, and only where the reader may read them."""
from __future__ import annotations

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.conftest import make_workflow
from zooapp.models import Project, SubjectTag, Volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return get_user_model().objects.create_user("olga", password="olga-pass-123")


def tag(subject, name, who, hidden=False):
    return SubjectTag.objects.create(subject=subject, volunteer=Volunteer.objects.get_or_create(name=who)[0],
                                     name=name, hidden=hidden)


def listed_tags(client, workflow) -> dict[str, list[dict]]:
    body = client.get(reverse("subject-list"), {"limit": 100}).json()
    return {s["external_id"]: s["tags"] for s in body["results"] if s["workflow"] == workflow.pk}


def test_a_subject_lists_its_visible_tags_most_used_first_with_their_counts(client, owner):
    workflow = make_workflow(owner=owner, n_subjects=2, n_gold=0)
    s0 = workflow.subjects.get(external_id="S0")
    tag(s0, "ring", "ann"), tag(s0, "ring", "bob"), tag(s0, "dust-lane", "ann")
    assert listed_tags(client, workflow) == {"S0": [{"name": "ring", "count": 2}, {"name": "dust-lane", "count": 1}],
                                             "S1": []}
    detail = client.get(reverse("subject-detail", args=[s0.pk])).json()
    assert detail["tags"] == [{"name": "ring", "count": 2}, {"name": "dust-lane", "count": 1}]


def test_a_hidden_tag_is_left_out_even_for_the_projects_moderators(client, owner):
    workflow = make_workflow(owner=owner, n_subjects=1, n_gold=0)
    s0 = workflow.subjects.get()
    tag(s0, "buy-now", "spam", hidden=True), tag(s0, "ring", "ann"), tag(s0, "ring", "bob", hidden=True)
    assert listed_tags(client, workflow) == {"S0": [{"name": "ring", "count": 1}]}
    client.force_login(owner)
    assert listed_tags(client, workflow) == {"S0": [{"name": "ring", "count": 1}]}


def test_the_tags_of_a_private_projects_subject_are_shown_to_its_team_only(client, owner):
    workflow = make_workflow(owner=owner, n_subjects=1, n_gold=0)
    Project.objects.filter(pk=workflow.project_id).update(visibility=Project.Visibility.PRIVATE)
    tag(workflow.subjects.get(), "ring", "ann")
    assert listed_tags(client, workflow).get("S0", []) == []
    client.force_login(owner)
    assert listed_tags(client, workflow) == {"S0": [{"name": "ring", "count": 1}]}


def test_a_page_of_subjects_counts_its_tags_in_a_fixed_number_of_queries(client, owner,
                                                                        django_assert_max_num_queries):
    workflow = make_workflow(owner=owner, n_subjects=2, n_gold=0)
    client.get(reverse("subject-list"))  # the session and the first-request work out of the way
    with django_assert_max_num_queries(8) as few:
        client.get(reverse("subject-list"))
    for i in range(2, 12):
        subject = workflow.subjects.get(external_id="S0")
        subject.pk, subject.external_id = None, f"S{i}"
        subject.save()
        tag(subject, "ring", f"v{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        tags = listed_tags(client, workflow)
    assert tags["S11"] == [{"name": "ring", "count": 1}]


def test_the_schema_describes_the_tags_of_a_subject(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    tags = schema["components"]["schemas"]["Subject"]["properties"]["tags"]
    assert tags["type"] == "array" and tags["readOnly"]
    item = schema["components"]["schemas"][tags["items"]["$ref"].rsplit("/", 1)[1]]
    assert set(item["properties"]) == {"name", "count"}
