"""Stored subject images follow their project's visibility (#16): public ones are anyone's and cacheable,
beta ones anyone's with the link but never in a shared cache, private ones the team's; everyone else gets 404."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import make_workflow, png_bytes
from zooapp.models import Project
from zooapp.services.projects import membership_set

pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "stranger", "member", "admin"]
# visibility -> persona -> (status, Cache-Control's first word)
EXPECTED = {
    "public": dict.fromkeys(PERSONAS, (200, "public")),
    "beta": dict.fromkeys(PERSONAS, (200, "private")),
    "private": {"anonymous": (404, None), "stranger": (404, None), "member": (200, "private"),
                "admin": (200, "private")},
}


@pytest.fixture
def people(db):
    User = get_user_model()
    return {"stranger": User.objects.create_user("sam"), "member": User.objects.create_user("mia"),
            "admin": User.objects.create_superuser("ada", "ada@example.org", None)}


@pytest.fixture
def images(people):
    """One subject image per visibility, each project with ``mia`` as an expert."""
    owner = get_user_model().objects.create_user("owen")
    found = {}
    for visibility in EXPECTED:
        workflow = make_workflow(owner=owner, n_subjects=1, n_gold=0)
        Project.objects.filter(pk=workflow.project_id).update(visibility=visibility)
        membership_set(project=workflow.project, username="mia", role="expert")
        found[visibility] = workflow.subjects.get().frames.get().image
    return found


def client_for(persona: str, people) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(people[persona])
    return client


@pytest.mark.parametrize("visibility", list(EXPECTED))
@pytest.mark.parametrize("persona", PERSONAS)
def test_a_subject_image_reaches_exactly_those_who_may_read_its_project(visibility, persona, people, images):
    image = images[visibility]
    response = client_for(persona, people).get(image.url)
    status, cache = EXPECTED[visibility][persona]
    assert response.status_code == status
    if status == 200:
        assert response["Cache-Control"] == f"{cache}, max-age=86400"
        assert b"".join(response.streaming_content) == image.open("rb").read()
        assert "sandbox" in response["Content-Security-Policy"]


def test_a_hidden_image_answers_exactly_like_a_missing_one(people, images):
    hidden = Client().get(images["private"].url)
    missing = Client().get("/media/subjects/2026/12/0123456789abcdef.png")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content


def test_a_public_image_reads_no_session_so_shared_caches_may_keep_it(people, images):
    client = client_for("stranger", people)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(images["public"].url)
    assert response.status_code == 200 and "Cookie" not in response.get("Vary", "")
    assert len(queries) == 1


def test_a_private_image_costs_at_most_two_queries_beyond_the_session(people, images):
    client = client_for("member", people)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(images["private"].url).status_code == 200
    ours = [q["sql"] for q in queries if "django_session" not in q["sql"] and '"auth_user"."id" =' not in q["sql"]]
    assert len(ours) <= 2, ours


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
def test_finding_an_image_uses_indexes_not_a_scan_of_every_frame(images):
    with CaptureQueriesContext(connection) as queries:
        Client().get(images["public"].url)
    [lookup] = queries
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + lookup["sql"])
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "SCAN" not in plan, plan


def test_a_file_no_subject_refers_to_is_for_site_admins_only(people):
    name = default_storage.save("subjects/2026/12/left-behind.png", ContentFile(png_bytes()))
    for persona in ("anonymous", "stranger", "member"):
        assert client_for(persona, people).get(f"/media/{name}").status_code == 404, persona
    response = client_for("admin", people).get(f"/media/{name}")
    assert response.status_code == 200 and response["Cache-Control"].startswith("private")


def test_a_member_gets_404_for_an_image_whose_file_is_gone(people, images):
    image = images["private"]
    url = image.url
    default_storage.delete(image.name)
    assert client_for("member", people).get(url).status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_path_that_leaves_the_storage_is_404_for_everyone(persona, people, images):
    client = client_for(persona, people)
    assert client.get("/media/../zooapp/settings.py").status_code == 404
    assert client.get("/media/subjects/../../../zooapp/settings.py").status_code == 404
    assert client.get("/media/subjects/none.png").status_code == 404


def test_a_project_made_private_stops_serving_its_images_to_strangers(people, images):
    image = images["public"]
    assert Client().get(image.url).status_code == 200
    Project.objects.filter(workflows__subjects__frames__image=image.name).update(visibility="private")
    assert Client().get(image.url).status_code == 404
    assert client_for("member", people).get(image.url)["Cache-Control"].startswith("private")
