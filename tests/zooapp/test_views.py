import json
import uuid

import pytest
from django.urls import reverse

from tests.conftest import annotations_for

pytestmark = pytest.mark.django_db(transaction=True)


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('id="classify-config"')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


def test_the_classify_page_shows_a_subject_and_the_tree_but_no_gold(client, demo_workflow):
    response = client.get(reverse("classify", args=[demo_workflow.pk]))
    assert response.status_code == 200
    config = page_config(response)
    assert config["subject"]["frames"][0]["url"].startswith("/media/")
    assert config["workflow"]["tree"]["first_task"] == "T0"
    assert "#hidden" not in config["subject"]["metadata"]
    assert "secret" not in response.content.decode()


def test_the_classify_page_says_when_the_workflow_is_finished(client, demo_workflow):
    demo_workflow.subjects.update(status="retired", is_gold=False)
    config = page_config(client.get(reverse("classify", args=[demo_workflow.pk])))
    assert config["subject"] is None and config["finished"] and "every galaxy" in config["message"]


def test_signing_up_carries_anonymous_classifications_over(client, demo_workflow):
    from zooapp.models import Classification

    subject = demo_workflow.subjects.filter(is_gold=False).first()
    client.post(reverse("api-classifications"), {
        "subject": subject.pk, "workflow_version": demo_workflow.current_version.pk,
        "idempotency_key": str(uuid.uuid4()), "annotations": annotations_for()}, content_type="application/json")
    response = client.post(reverse("signup"), {"username": "vera", "password1": "a-long-Passphrase-9",
                                               "password2": "a-long-Passphrase-9"})
    assert response.status_code == 302
    assert Classification.objects.get().volunteer.user.username == "vera"
    stats = client.get(reverse("me"))
    assert b'data-stat="classifications">1<' in stats.content


def test_favourites_toggle_and_show_on_the_stats_page(client, demo_workflow):
    subject = demo_workflow.subjects.first()
    url = reverse("api-subject-favourite", args=[subject.pk])
    assert client.post(url).json() == {"favourite": True}
    assert subject.external_id.encode() in client.get(reverse("me")).content
    assert client.post(url).json() == {"favourite": False}


def test_reloading_the_page_shows_the_same_unclassified_galaxy_again(client, demo_workflow):
    first = page_config(client.get(reverse("classify", args=[demo_workflow.pk])))["subject"]["id"]
    again = page_config(client.get(reverse("classify", args=[demo_workflow.pk])))["subject"]["id"]
    assert again == first
    client.post(reverse("api-classifications"), {
        "subject": first, "workflow_version": demo_workflow.current_version.pk,
        "idempotency_key": str(uuid.uuid4()), "annotations": annotations_for()}, content_type="application/json")
    after = page_config(client.get(reverse("classify", args=[demo_workflow.pk])))["subject"]["id"]
    assert after != first


def test_the_page_says_whether_the_galaxy_is_already_a_favourite(client, demo_workflow):
    subject_id = page_config(client.get(reverse("classify", args=[demo_workflow.pk])))["subject"]["id"]
    client.post(reverse("api-subject-favourite", args=[subject_id]))
    assert page_config(client.get(reverse("classify", args=[demo_workflow.pk])))["subject"]["favourite"] is True
