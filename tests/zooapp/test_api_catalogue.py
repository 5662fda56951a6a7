import uuid

import pytest
import yaml
from astropy.table import Table
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import annotations_for, make_workflow, png_bytes
from zooapp.models import Export, GoldAnswer, Subject, SubjectTruth

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()


@pytest.fixture
def owner(db):
    return User.objects.create_user("owner", password="pw-owner-123")


@pytest.fixture
def workflow(owner):
    return make_workflow(owner=owner, n_subjects=3, n_gold=1)


def api_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def outsider(db):
    return User.objects.create_user("outsider", password="pw-out-123", is_staff=True)


def _classify(workflow, subject, name="v"):
    from zooapp.models import Volunteer
    from zooapp.services.classifications import classification_create

    classification_create(volunteer=Volunteer.objects.create(name=name), subject_id=subject.pk,
                          workflow_version_id=workflow.current_version.pk, idempotency_key=uuid.uuid4(),
                          annotations=annotations_for("smooth"))


def test_staff_start_an_export_poll_it_and_download_it(owner, workflow):
    _classify(workflow, Subject.objects.get(workflow=workflow, external_id="S1"))
    api = api_for(owner)
    response = api.post("/api/exports/", {"workflow": workflow.pk, "kind": "catalogue", "format": "ecsv"},
                        format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "done" and body["progress"] == 1.0  # eager Celery ran it on commit
    detail = api.get(f"/api/exports/{body['id']}/").json()
    assert detail["download_url"].endswith(f"/api/exports/{body['id']}/download/")
    download = api.get(f"/api/exports/{body['id']}/download/")
    assert download.status_code == 200
    table = Table.read(b"".join(download.streaming_content).decode(), format="ascii.ecsv")
    assert list(table["external_id"]) == ["S1"]  # S2 was never classified, so it is not catalogued
    assert [e["id"] for e in api.get(f"/api/exports/?workflow={workflow.pk}").json()["results"]] == [body["id"]]


def test_api_exports_can_be_retired_only_or_one_workflow_version(owner, workflow):
    import csv
    import io

    s1, s2 = Subject.objects.filter(workflow=workflow, is_gold=False).order_by("id")
    _classify(workflow, s1, "a")
    _classify(workflow, s2, "b")
    Subject.objects.filter(pk=s1.pk).update(status=Subject.Status.RETIRED)
    api = api_for(owner)

    def rows(payload):
        response = api.post("/api/exports/", {"workflow": workflow.pk, **payload}, format="json")
        assert response.status_code == 201, response.json()
        body = b"".join(api.get(f"/api/exports/{response.json()['id']}/download/").streaming_content).decode()
        return response.json(), body

    body, text = rows({"kind": "catalogue", "format": "ecsv", "retired_only": True})
    assert body["options"] == {"retired_only": True}
    assert list(Table.read(text, format="ascii.ecsv")["external_id"]) == ["S1"]
    _, text = rows({"kind": "classifications", "format": "csv", "workflow_version": 1})
    assert len(list(csv.DictReader(io.StringIO(text)))) == 2
    bad = api.post("/api/exports/", {"workflow": workflow.pk, "kind": "classifications", "format": "csv",
                                     "workflow_version": 7}, format="json")
    assert bad.status_code == 400 and "has no version 7" in bad.json()["detail"]
    bad = api.post("/api/exports/", {"workflow": workflow.pk, "kind": "catalogue", "format": "csv",
                                     "workflow_version": 1}, format="json")
    assert bad.status_code == 400 and "classifications export only" in bad.json()["detail"]
    assert Export.objects.count() == 2


def test_an_export_request_with_a_bad_format_is_a_400_with_detail(owner, workflow):
    response = api_for(owner).post("/api/exports/", {"workflow": workflow.pk, "kind": "coco", "format": "fits"},
                                   format="json")
    assert response.status_code == 400
    assert "can be written as json" in response.json()["detail"]
    assert not Export.objects.exists()


def test_an_export_not_yet_written_is_a_404_that_says_so_on_the_api_and_the_dashboard(owner, workflow):
    export = Export.objects.create(workflow=workflow, kind="catalogue", format="csv", requested_by=owner)
    response = api_for(owner).get(f"/api/exports/{export.pk}/download/")
    assert response.status_code == 404 and "not ready for download" in response.json()["detail"]
    client = Client()
    client.force_login(owner)
    page = client.get(reverse("dashboard-export-download", args=[export.pk]))
    assert page.status_code == 404 and "not ready for download" in page.json()["detail"]


def test_export_lists_filter_by_workflow_and_refuse_a_malformed_one(owner, workflow):
    api = api_for(owner)
    other = make_workflow(owner=owner, n_subjects=1, n_gold=0)
    mine = Export.objects.create(workflow=workflow, kind="coco", format="json", requested_by=owner)
    Export.objects.create(workflow=other, kind="coco", format="json", requested_by=owner)
    assert [e["id"] for e in api.get("/api/exports/", {"workflow": workflow.pk}).json()["results"]] == [mine.pk]
    bad = api.get("/api/exports/", {"workflow": "first"})
    assert bad.status_code == 400 and "workflow: must be a workflow id" in bad.json()["detail"]
    assert api.get("/api/exports/not-an-id/").status_code == 404


def test_others_cannot_start_see_or_download_exports(owner, outsider, workflow):
    export_id = api_for(owner).post("/api/exports/", {"workflow": workflow.pk, "kind": "coco", "format": "json"},
                                    format="json").json()["id"]
    for client in (api_for(outsider), APIClient()):
        assert client.post("/api/exports/", {"workflow": workflow.pk, "kind": "coco", "format": "json"},
                           format="json").status_code == 403
        assert client.get(f"/api/exports/{export_id}/").status_code == 403
        assert client.get(f"/api/exports/{export_id}/download/").status_code == 403
    assert api_for(outsider).get("/api/exports/").json()["results"] == []
    assert Export.objects.count() == 1


def upload(client, workflow, rows, images):
    manifest = "id,file\n" + "".join(f"{r},{r}.png\n" for r in rows)
    return client.post(reverse("api-subject-uploads", args=[workflow.pk]), {
        "name": "api set", "manifest": SimpleUploadedFile("m.csv", manifest.encode()),
        "images": [SimpleUploadedFile(f"{name}.png", png_bytes(seed=seed)) for name, seed in images]},
        format="multipart")


def test_the_subject_upload_api_resumes_and_reports_duplicates(owner, workflow):
    api = api_for(owner)
    first = upload(api, workflow, ["a", "b"], [("a", 50)])
    assert first.status_code == 201
    assert first.json() | {"subject_set": None} == {"subject_set": None, "created": ["a"], "skipped": [],
                                                    "duplicates": [], "missing": ["b"]}
    second = upload(api, workflow, ["a", "b"], [("a", 50), ("b", 0)])  # seed 0 is subject S0's image
    assert second.status_code == 200
    assert second.json()["skipped"] == ["a"]
    assert second.json()["duplicates"] == [{"id": "b", "duplicate_of": "S0"}]
    assert Subject.objects.filter(subject_set__name="api set").count() == 1


def test_the_subject_upload_api_refuses_files_not_in_the_manifest_and_outsiders(owner, outsider, workflow):
    response = upload(api_for(owner), workflow, ["a"], [("zzz", 1)])
    assert response.status_code == 400 and "not named in the manifest" in response.json()["detail"]
    assert upload(api_for(outsider), workflow, ["a"], [("a", 1)]).status_code == 403
    assert not Subject.objects.filter(subject_set__name="api set").exists()


def test_gold_answers_and_truth_are_for_project_staff_only(owner, outsider, workflow):
    subject = Subject.objects.get(workflow=workflow, external_id="S1")
    SubjectTruth.objects.create(subject=subject, values={"T0": "featured"})
    gold_url, truth_url = (reverse(n, args=[workflow.pk]) for n in ("api-gold-answers", "api-truth"))
    gold = api_for(owner).get(gold_url).json()
    assert gold["results"] == [{"subject": workflow.subjects.get(external_id="S0").pk, "external_id": "S0",
                                "task": "T0", "value": "smooth"}]
    assert api_for(owner).get(truth_url).json()["results"][0]["values"] == {"T0": "featured"}
    for client in (api_for(outsider), APIClient()):
        assert client.get(gold_url).status_code == 403
        assert client.get(truth_url).status_code == 403
    assert api_for(owner).get(reverse("api-gold-answers", args=[99999])).status_code == 404


def test_gold_answers_can_be_uploaded_through_the_api(owner, outsider, workflow):
    url = reverse("api-gold-answers", args=[workflow.pk])
    csv_file = SimpleUploadedFile("gold.csv", b"id,task,value\nS2,T0,artifact\n")
    assert api_for(outsider).post(url, {"file": csv_file}, format="multipart").status_code == 403
    csv_file.seek(0)
    response = api_for(owner).post(url, {"file": csv_file}, format="multipart")
    assert response.json() == {"stored": 1}
    assert GoldAnswer.objects.get(subject__external_id="S2", subject__workflow=workflow).value == "artifact"
    bad = SimpleUploadedFile("gold.csv", b"id,task,value\nS2,T9,artifact\n")
    response = api_for(owner).post(url, {"file": bad}, format="multipart")
    assert response.status_code == 400 and "is not in the workflow" in response.json()["detail"]


def test_the_schema_documents_the_new_endpoints(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    paths = schema["paths"]
    for path in ("/api/exports/", "/api/exports/{id}/", "/api/exports/{id}/download/",
                 "/api/workflows/{id}/subject-uploads/", "/api/workflows/{id}/gold-answers/",
                 "/api/workflows/{id}/truth/"):
        assert path in paths, sorted(paths)
    assert "post" in paths["/api/exports/"] and "multipart/form-data" in str(
        paths["/api/workflows/{id}/subject-uploads/"]["post"]["requestBody"]["content"])


def test_an_image_over_the_size_limit_is_refused_with_a_clear_message(owner, workflow, settings):
    settings.ZOOLOOP_MAX_IMAGE_BYTES = 100
    response = upload(api_for(owner), workflow, ["a"], [("a", 1)])
    assert response.status_code == 400
    assert "the limit is 100 bytes" in response.json()["detail"]
    assert not Subject.objects.filter(subject_set__name="api set").exists()


def test_too_many_files_in_one_batch_is_a_400(owner, workflow, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    response = upload(api_for(owner), workflow, ["a", "b", "c"], [("a", 1), ("b", 2), ("c", 3)])
    assert response.status_code == 400
    assert "then the same manifest again" in response.json()["detail"]
