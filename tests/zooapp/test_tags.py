"""Tags: validation, adding after a classification, deleting one's own only, moderation, search, export."""
from __future__ import annotations

import csv
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.conftest import annotations_for, make_workflow
from zooapp.errors import ValidationFailed
from zooapp.models import Export, SubjectTag, TagModeration, Volunteer
from zooapp.services.classifications import classification_create
from zooapp.services.exports import export_file_write
from zooapp.services.projects import membership_set
from zooapp.services.tags import tag_normalise, tags_parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db, fresh_rate_limits):  # tag writes are throttled per user id, which each test reuses
    User = get_user_model()
    owner = User.objects.create_user("owen")
    workflow = make_workflow(owner=owner, n_subjects=4, n_gold=0)
    subjects = list(workflow.subjects.order_by("id"))
    people = {name: User.objects.create_user(name) for name in ["vera", "otto", "mona"]}
    membership_set(project=workflow.project, username="mona", role="moderator")
    for name in ["vera", "otto"]:
        volunteer = Volunteer.objects.create(user=people[name], name=name)
        for subject in subjects[:2]:
            classification_create(volunteer=volunteer, subject_id=subject.pk,
                                  workflow_version_id=workflow.current_version.pk,
                                  annotations=annotations_for(), idempotency_key=uuid.uuid4())
    return {"workflow": workflow, "subjects": subjects, "owner": owner, **people}


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add(client, subject, text):
    return client.post(reverse("api-subject-tags", args=[subject.pk]), {"tags": text},
                       content_type="application/json")


@pytest.mark.parametrize("text, name", [("#Spiral", "spiral"), ("ring", "ring"), ("#dust-lane", "dust-lane"),
                                        ("##Tidal_Tail", "tidal_tail"), ("#ｍｅｒｇｅｒ", "merger"), ("#Étoile", "étoile")])
def test_it_normalises_a_tag_to_one_lowercase_word(text, name):
    assert tag_normalise(text=text) == name


@pytest.mark.parametrize("text, fault", [("#", "write a word"), ("#a", "2 to 30"), ("#" + "x" * 31, "2 to 30"),
                                         ("#tidal!", "letters, digits"), ("#-ring", "starting with"),
                                         ("#<b>", "letters, digits")])
def test_it_refuses_a_bad_tag_naming_the_fault(text, fault):
    with pytest.raises(ValidationFailed, match=fault):
        tag_normalise(text=text)


def test_it_splits_a_line_into_distinct_tags_and_caps_how_many_at_once():
    assert tags_parse(text="#ring, #Ring;#bar  #bar") == ["ring", "bar"]
    with pytest.raises(ValidationFailed, match="at most 5"):
        tags_parse(text="#a1 #a2 #a3 #a4 #a5 #a6")


def test_a_volunteer_adds_tags_to_a_galaxy_they_classified_and_everyone_sees_them(world):
    subject = world["subjects"][0]
    response = add(as_user(world["vera"]), subject, "#Ring #dust-lane")
    assert response.status_code == 201
    assert {t["name"] for t in response.json()["tags"]} == {"ring", "dust-lane"}
    assert add(as_user(world["otto"]), subject, "#ring").status_code == 201
    shown = Client().get(reverse("api-subject-tags", args=[subject.pk])).json()["tags"]
    assert shown[0] == {"name": "ring", "count": 2, "mine": None, "hidden": 0}
    page = Client().get(reverse("subject-page", args=[subject.pk])).content.decode()
    assert "#ring" in page and "#dust-lane" in page


def test_a_retried_add_stores_nothing_twice(world):
    subject = world["subjects"][0]
    add(as_user(world["vera"]), subject, "#ring")
    assert add(as_user(world["vera"]), subject, "#RING").status_code == 201
    assert SubjectTag.objects.filter(subject=subject).count() == 1


def test_a_bad_tag_gets_a_400_naming_it_and_stores_none_of_the_line(world):
    response = add(as_user(world["vera"]), world["subjects"][0], "#ring #tidal!tail")
    assert response.status_code == 400
    assert "'#tidal!tail'" in response.json()["detail"]
    assert not SubjectTag.objects.exists()


def test_a_galaxy_not_classified_cannot_be_tagged(world):
    assert add(as_user(world["vera"]), world["subjects"][3], "#ring").status_code == 403
    anonymous = Client(enforce_csrf_checks=False)
    assert add(anonymous, world["subjects"][0], "#ring").status_code == 403
    assert not SubjectTag.objects.exists()


def test_one_volunteer_can_give_a_galaxy_at_most_ten_tags(world):
    client, subject = as_user(world["vera"]), world["subjects"][0]
    for first in range(0, 10, 5):
        assert add(client, subject, " ".join(f"#t{first + i}" for i in range(5))).status_code == 201
    response = add(client, subject, "#one-more")
    assert response.status_code == 400 and "at most 10" in response.json()["detail"]
    assert SubjectTag.objects.count() == 10


def test_a_volunteer_deletes_their_own_tag_but_not_another_volunteers(world):
    subject = world["subjects"][0]
    add(as_user(world["vera"]), subject, "#ring")
    tag = SubjectTag.objects.get()
    refused = as_user(world["otto"]).delete(reverse("api-tag", args=[tag.pk]))
    assert refused.status_code == 403 and "only its author" in refused.json()["detail"]
    assert Client().delete(reverse("api-tag", args=[tag.pk])).status_code in {403, 404}
    assert SubjectTag.objects.filter(pk=tag.pk).exists()
    mine = as_user(world["vera"]).get(reverse("api-subject-tags", args=[subject.pk])).json()["tags"][0]
    assert mine["mine"] == tag.pk
    assert as_user(world["vera"]).delete(reverse("api-tag", args=[tag.pk])).status_code == 204
    assert not SubjectTag.objects.exists()


def test_a_moderator_hides_and_restores_a_tag_and_the_log_says_who(world):
    subject = world["subjects"][0]
    add(as_user(world["vera"]), subject, "#spam")
    tag = SubjectTag.objects.get()
    url = reverse("api-tag-moderation", args=[tag.pk])
    mona = as_user(world["mona"])
    hidden = mona.post(url, {"action": "hide", "reason": "advert"}, content_type="application/json")
    assert hidden.status_code == 200 and hidden.json()["hidden"] is True
    assert Client().get(reverse("api-subject-tags", args=[subject.pk])).json()["tags"] == []
    seen_by_mod = mona.get(reverse("api-subject-tags", args=[subject.pk])).json()
    assert seen_by_mod["moderator"] and seen_by_mod["tags"][0]["hidden"] == 1
    assert mona.post(url, {"action": "restore"}, content_type="application/json").json()["hidden"] is False
    log = list(TagModeration.objects.order_by("id").values_list("moderator__username", "action", "reason"))
    assert log == [("mona", "hide", "advert"), ("mona", "restore", "")]


def test_a_volunteer_cannot_moderate_and_a_bad_action_is_named(world):
    add(as_user(world["vera"]), world["subjects"][0], "#ring")
    tag = SubjectTag.objects.get()
    url = reverse("api-tag-moderation", args=[tag.pk])
    assert as_user(world["otto"]).post(url, {"action": "hide"}, content_type="application/json").status_code == 403
    assert Client().post(url, {"action": "hide"}, content_type="application/json").status_code in {401, 403}
    bad = as_user(world["mona"]).post(url, {"action": "burn"}, content_type="application/json")
    assert bad.status_code == 400 and "burn" in bad.json()["detail"]
    assert not SubjectTag.objects.get().hidden and not TagModeration.objects.exists()


def test_a_moderator_of_another_project_cannot_hide_this_projects_tags(world):
    add(as_user(world["vera"]), world["subjects"][0], "#ring")
    tag = SubjectTag.objects.get()
    other = make_workflow(owner=world["otto"], n_subjects=1, n_gold=0)
    membership_set(project=other.project, username="vera", role="moderator")
    page = reverse("tag-moderation", args=[other.project_id])
    response = as_user(world["vera"]).post(page, {"tag": tag.pk, "action": "hide"})
    assert response.status_code == 302 and not SubjectTag.objects.get().hidden


def test_the_moderation_page_lists_tags_and_hides_one_from_a_form(world):
    add(as_user(world["vera"]), world["subjects"][0], "#ring #junk")
    junk = SubjectTag.objects.get(name="junk")
    mona = as_user(world["mona"])
    page = reverse("tag-moderation", args=[world["workflow"].project_id])
    assert "#junk" in mona.get(page).content.decode()
    response = mona.post(page, {"tag": junk.pk, "action": "hide", "reason": "not a feature", "back": page + "?state=all"},
                         follow=True)
    assert "is now hidden" in response.content.decode()
    assert response.redirect_chain[-1][0] == page + "?state=all"
    hidden_only = mona.get(page, {"state": "hidden"}).content.decode()
    assert "#junk" in hidden_only and "#ring" not in hidden_only and "not a feature" in hidden_only
    assert as_user(world["vera"]).get(page).status_code == 404  # no role on the project: not even its name
    assert world["workflow"].project.name in mona.get(reverse("moderation-index")).content.decode()


def test_tags_are_rate_limited_per_user(world, monkeypatch):
    from zooapp.throttle import TagRateThrottle
    # DRF reads the rates once, into the class: patch them there (restored after the test).
    monkeypatch.setattr(TagRateThrottle, "THROTTLE_RATES", {**TagRateThrottle.THROTTLE_RATES, "tag": "3/hour"})
    client, subject = as_user(world["vera"]), world["subjects"][0]
    codes = [add(client, subject, f"#tag{i}").status_code for i in range(4)]
    assert codes == [201, 201, 201, 429]
    assert client.get(reverse("api-subject-tags", args=[subject.pk])).status_code == 200  # reads are free
    assert add(as_user(world["otto"]), subject, "#ring").status_code == 201  # per user, not for everyone


def test_tags_are_exported_with_their_moderation(world, tmp_path):
    add(as_user(world["vera"]), world["subjects"][0], "#ring #spam")
    spam = SubjectTag.objects.get(name="spam")
    as_user(world["mona"]).post(reverse("api-tag-moderation", args=[spam.pk]), {"action": "hide", "reason": "spam"},
                                content_type="application/json")
    path = tmp_path / "tags.csv"
    n = export_file_write(workflow=world["workflow"], kind=Export.Kind.TAGS, fmt="csv", path=path)
    rows = list(csv.DictReader(path.open()))
    assert n == 2 and [r["tag"] for r in rows] == ["#ring", "#spam"]
    assert rows[1]["hidden"] == "true" and rows[1]["moderated_by"] == "mona" and rows[1]["moderation_reason"] == "spam"
    assert rows[0]["user_name"] == "vera" and rows[0]["subject_external_id"] == world["subjects"][0].external_id


def test_a_private_projects_tags_are_not_readable_by_outsiders(world):
    subject = world["subjects"][0]
    add(as_user(world["vera"]), subject, "#ring")
    project = world["workflow"].project
    project.visibility = "private"
    project.save(update_fields=["visibility"])
    assert Client().get(reverse("api-subject-tags", args=[subject.pk])).status_code == 404
    assert Client().get(reverse("subject-page", args=[subject.pk])).status_code == 404
    assert Client().get(reverse("api-tag-search"), {"tag": "ring"}).json()["tagged"] == []
    assert as_user(world["mona"]).get(reverse("api-subject-tags", args=[subject.pk])).status_code == 200


def embed(workflow, vectors: dict[str, tuple[float, float]]):
    """Hand-made 2-D unit embeddings under a serving classifier version, by external id."""
    import numpy as np

    from zooapp.models import ModelVersion, SubjectEmbedding
    version = ModelVersion.objects.create(workflow=workflow, kind="classifier", number=1, file="none", n_train=1,
                                          serving=True)
    for s in workflow.subjects.all():
        v = np.asarray(vectors[s.external_id], dtype="<f4")
        SubjectEmbedding.objects.create(model_version=version, subject=s, vector=(v / np.linalg.norm(v)).tobytes())


def test_a_search_by_tag_lists_tagged_galaxies_first_then_untagged_ones_by_similarity(world):
    # S0 and S1 are tagged #ring; S2 points nearly their way, S3 the opposite way.
    embed(world["workflow"], {"S0": (1, 0.1), "S1": (1, -0.1), "S2": (0.9, 0.3), "S3": (-1, 0.2)})
    s0, s1 = world["subjects"][:2]
    add(as_user(world["vera"]), s0, "#ring")
    add(as_user(world["otto"]), s0, "#ring")
    add(as_user(world["otto"]), s1, "#Ring")
    found = Client().get(reverse("api-tag-search"), {"tag": "#RING"}).json()
    assert found["tag"] == "ring"
    assert [(s["id"], s["n_tags"]) for s in found["tagged"]] == [(s0.pk, 2), (s1.pk, 1)]
    assert [s["id"] for s in found["similar"]] == [world["subjects"][2].pk, world["subjects"][3].pk]
    assert found["similar"][0]["similarity"] > 0.9 > found["similar"][1]["similarity"]
    page = Client().get(reverse("tag-search"), {"tag": "ring"}).content.decode()
    assert page.index("Galaxy S0") < page.index("Galaxy S1") < page.index("Galaxy S2") < page.index("Galaxy S3")


def test_a_hidden_tag_is_left_out_of_the_search_and_a_bad_query_is_named(world):
    add(as_user(world["vera"]), world["subjects"][0], "#spam")
    tag = SubjectTag.objects.get()
    as_user(world["mona"]).post(reverse("api-tag-moderation", args=[tag.pk]), {"action": "hide"},
                                content_type="application/json")
    assert Client().get(reverse("api-tag-search"), {"tag": "spam"}).json() == {"tag": "spam", "tagged": [],
                                                                              "similar": []}
    bad = Client().get(reverse("api-tag-search"), {"tag": "#no way"})
    assert bad.status_code == 400 and "letters, digits" in bad.json()["detail"]
    assert Client().get(reverse("tag-search"), {"tag": "#x"}).status_code == 400


def test_the_classify_page_suggests_the_workflows_most_used_visible_tags(world):
    from tests.zooapp.test_views import page_config
    s0, s1 = world["subjects"][:2]
    add(as_user(world["vera"]), s0, "#ring #spam")
    add(as_user(world["otto"]), s1, "#ring")
    spam = SubjectTag.objects.get(name="spam")
    as_user(world["mona"]).post(reverse("api-tag-moderation", args=[spam.pk]), {"action": "hide"},
                                content_type="application/json")
    config = page_config(Client().get(reverse("classify", args=[world["workflow"].pk])))
    assert config["tag_suggestions"] == ["ring"]
    assert config["urls"]["tags"]["subject_tags"] == "/api/subjects/{id}/tags/"


def test_project_staff_start_a_tags_export_through_the_api_and_download_it(world, django_capture_on_commit_callbacks):
    add(as_user(world["vera"]), world["subjects"][0], "#ring")
    owner = as_user(world["owner"])
    with django_capture_on_commit_callbacks(execute=True):  # the export task is queued on commit; Celery runs eagerly
        started = owner.post(reverse("export-list"), {"workflow": world["workflow"].pk, "kind": "tags",
                                                      "format": "csv"}, content_type="application/json")
    assert started.status_code == 201
    assert Export.objects.get(pk=started.json()["id"]).n_rows == 1
    download = owner.get(reverse("export-download", args=[started.json()["id"]]))
    assert b"#ring" in b"".join(download.streaming_content)
    refused = as_user(world["mona"]).post(reverse("export-list"), {"workflow": world["workflow"].pk, "kind": "tags",
                                                                    "format": "csv"}, content_type="application/json")
    assert refused.status_code == 403  # moderating is not exporting


def test_the_builder_links_moderators_to_the_tags_and_experts_to_gold(world):
    membership_set(project=world["workflow"].project, username="vera", role="expert")
    page = reverse("builder-project", args=[world["workflow"].project_id])
    moderator = as_user(world["mona"]).get(page).content.decode()
    expert = as_user(world["vera"]).get(page).content.decode()
    moderation = reverse("tag-moderation", args=[world["workflow"].project_id])
    gold = reverse("expert-gold", args=[world["workflow"].pk])
    assert moderation in moderator and gold not in moderator
    assert gold in expert and moderation not in expert
