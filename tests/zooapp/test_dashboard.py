import io
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import annotations_for, make_workflow, png_bytes
from zooapp.models import (Export, GoldAnswer, ModelVersion, Prediction, Retirement, RuleChange, Subject,
                           Volunteer)
from zooapp.services.classifications import classification_create

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()


def classify(workflow, subject, answer, name, boxes=None):
    classification_create(volunteer=Volunteer.objects.create(name=name), subject_id=subject.pk,
                          workflow_version_id=workflow.current_version.pk, annotations=annotations_for(answer, boxes),
                          idempotency_key=uuid.uuid4())


@pytest.fixture
def owner(db):
    return User.objects.create_user("owner", password="pw-owner-123")


@pytest.fixture
def busy(owner):
    """A workflow with votes, boxes, retirements and a serving classifier."""
    workflow = make_workflow(owner=owner, n_subjects=5, n_gold=1,
                             rules={"posterior_threshold": 0.6, "min_classifications": 2})
    subjects = list(Subject.objects.filter(workflow=workflow, is_gold=False).order_by("id"))
    box = {"tool": "clump", "x_min": 5, "y_min": 5, "x_max": 15, "y_max": 15}
    for i in range(3):
        classify(workflow, subjects[0], "featured", f"a{i}", [box])
        classify(workflow, subjects[1], "smooth", f"b{i}")
    classify(workflow, subjects[2], "artifact", "c0")
    holdout = {"T0": {"accuracy": 0.5, "interval": [0.09, 0.91], "n": 2, "ece": 0.2,
                      "confusion": [[1, 0, 0], [1, 0, 0], [0, 0, 0]]}}  # rows: known answer
    model = ModelVersion.objects.create(workflow=workflow, kind=ModelVersion.Kind.CLASSIFIER, number=1, file="m.pt",
                                        n_train=20, serving=True,
                                        metrics={"val_accuracy_T0": 0.75, "val_loss": 0.6, "holdout": holdout})
    for s, probs in ((subjects[0], [0.1, 0.8, 0.1]), (subjects[1], [0.3, 0.6, 0.1])):
        Prediction.objects.create(model_version=model, subject=s, task="T0", probs=probs)
    return workflow


def test_it_shows_project_staff_the_charts_and_counts(client, owner, busy):
    client.force_login(owner)
    response = client.get(reverse("dashboard", args=[busy.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") >= 7  # retirement, posteriors, priority, skills, box risk, agreement, metrics
    for text in ("Retirement over time", "Volunteer skill", "Clump boxes", "Machine and humans", "Queue make-up",
                 "gives the known", "val_accuracy_T0", 'data-count="retired"'):
        assert text in html
    assert response.context["status"]["counts"]["retired"] == 2
    assert response.context["agreement"]["n"] == 2 and response.context["agreement"]["agree"] == 1
    # Versions are compared on the common held-out set, each with its interval.
    assert "Classifier versions on the common held-out set" in html and "0.500 [0.090, 0.910]" in html
    assert response.context["comparison"][0]["n"] == 2 and response.context["comparison"][0]["serving"]
    assert response.context["boxes"]["n_with_boxes"] == 1
    assert 'onclick=' not in html and ' style="' not in html.split("<svg")[0]


def test_it_lets_a_staff_member_who_is_not_django_staff_in(client, busy):
    helper = User.objects.create_user("helper", password="pw-helper-123")
    busy.project.staff.add(helper)
    client.force_login(helper)
    page = client.get(reverse("dashboard", args=[busy.pk]))
    assert page.status_code == 200
    assert 'href="/dashboard/"' in page.content.decode()  # the nav shows project staff their dashboard
    assert busy.name in client.get(reverse("dashboard-index")).content.decode()


@pytest.mark.parametrize("name", ["dashboard", "dashboard-counts", "dashboard-subjects"])
def test_it_refuses_other_users_and_sends_visitors_to_log_in(client, busy, name):
    url = reverse(name, args=[busy.pk])
    assert client.get(url).status_code == 302
    outsider = User.objects.create_user("outsider", password="pw-out-123", is_staff=True)
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    assert busy.name not in client.get(reverse("dashboard-index")).content.decode()


def test_the_live_counts_endpoint_returns_fresh_numbers(client, owner, busy):
    client.force_login(owner)
    before = client.get(reverse("dashboard-counts", args=[busy.pk])).json()
    classify(busy, Subject.objects.filter(workflow=busy, n_classifications=0, is_gold=False).first(), "smooth", "z")
    after = client.get(reverse("dashboard-counts", args=[busy.pk])).json()
    assert after["classifications"] == before["classifications"] + 1
    assert {"retired", "active", "untouched", "machine_retired", "exports"} <= set(after)


def test_it_forecasts_completion_from_the_recent_retirement_rate(busy):
    from datetime import timedelta

    from zooapp.services.dashboard import retirement_timeline

    retirements = list(Retirement.objects.filter(subject__workflow=busy).order_by("id"))
    start = retirements[0].created_at
    for i, r in enumerate(retirements):
        Retirement.objects.filter(pk=r.pk).update(created_at=start + timedelta(days=i))
    timeline = retirement_timeline(workflow=busy)
    assert timeline["counts"] == [1, 2] and timeline["total"] == 4
    forecast = timeline["forecast"]
    assert forecast["rate_per_day"] == pytest.approx(1.0) and forecast["remaining"] == 2
    assert forecast["eta"] is not None and forecast["galaxies_per_day"] == 1


def test_editing_the_rules_is_audited_and_shown(client, owner, busy):
    client.force_login(owner)
    old = dict(busy.retirement_rules)
    form = {"task": "T0", "posterior_threshold": "0.95", "min_classifications": "4", "max_classifications": "30",
            "box_risk_threshold": "", "machine_threshold": "0.9"}
    response = client.post(reverse("dashboard-rules", args=[busy.pk]), form)
    assert response.status_code == 302
    change = RuleChange.objects.get(workflow=busy)
    assert change.user == owner and change.old == old
    assert change.new["posterior_threshold"] == 0.95 and change.new["machine_threshold"] == 0.9
    page = client.get(reverse("dashboard", args=[busy.pk])).content.decode()
    assert "<code>posterior_threshold</code>: <del>" in page and "<ins>0.95</ins>" in page and "owner" in page
    assert "{&#x27;" not in page  # a readable diff, not a Python dict
    from zooapp.services.dashboard import rules_diff

    assert rules_diff(old={"a": 1, "b": 2}, new={"a": 1, "b": 3, "c": 4}) == [
        {"rule": "b", "before": 2, "after": 3}, {"rule": "c", "before": None, "after": 4}]


def test_bad_rules_are_refused_with_a_message_and_change_nothing(client, owner, busy):
    client.force_login(owner)
    before = dict(busy.retirement_rules)
    form = {"task": "T0", "posterior_threshold": "0.95", "min_classifications": "9", "max_classifications": "3"}
    response = client.post(reverse("dashboard-rules", args=[busy.pk]), form)
    assert response.status_code == 400
    assert "max_classifications must be &gt;= min_classifications" in response.content.decode()
    busy.refresh_from_db()
    assert busy.retirement_rules == before and not RuleChange.objects.exists()


def test_reapplying_rules_retires_and_unretires_and_reports_the_counts(client, owner, busy):
    client.force_login(owner)
    retired_before = set(Subject.objects.filter(workflow=busy, status="retired").values_list("id", flat=True))
    strict = {"task": "T0", "posterior_threshold": "0.999", "min_classifications": "3", "max_classifications": "40"}
    client.post(reverse("dashboard-rules", args=[busy.pk]), strict)
    response = client.post(reverse("dashboard-reapply", args=[busy.pk]), follow=True)
    assert f"0 subjects retired, {len(retired_before)} un-retired" in response.content.decode()
    assert not Subject.objects.filter(workflow=busy, status="retired").exists()
    loose = {"task": "T0", "posterior_threshold": "0.5", "min_classifications": "1", "max_classifications": "40"}
    client.post(reverse("dashboard-rules", args=[busy.pk]), loose)
    response = client.post(reverse("dashboard-reapply", args=[busy.pk]), follow=True)
    assert "3 subjects retired, 0 un-retired" in response.content.decode()
    assert Retirement.objects.filter(subject__workflow=busy, action="unretire").count() == len(retired_before)


def test_an_export_started_on_the_page_runs_and_downloads_for_staff_only(client, owner, busy):
    client.force_login(owner)
    response = client.post(reverse("dashboard-export", args=[busy.pk]), {"choice": "catalogue:votable"})
    assert response.status_code == 302
    export = Export.objects.get(workflow=busy)
    assert (export.status, export.progress, export.requested_by) == ("done", 1.0, owner)
    page = client.get(reverse("dashboard", args=[busy.pk])).content.decode()
    assert reverse("dashboard-export-download", args=[export.pk]) in page
    download = client.get(reverse("dashboard-export-download", args=[export.pk]))
    assert download.status_code == 200 and b"VOTABLE" in b"".join(download.streaming_content)
    client.force_login(User.objects.create_user("outsider", password="pw-out-123"))
    assert client.get(reverse("dashboard-export-download", args=[export.pk])).status_code == 403


def manifest(*rows):
    text = "id,file,ra,dec,name\n" + "".join(f"{r},{r}.png,10.5,-3.25,galaxy {r}\n" for r in rows)
    return SimpleUploadedFile("manifest.csv", text.encode(), content_type="text/csv")


def image(name, seed):
    return SimpleUploadedFile(f"{name}.png", png_bytes(seed=seed), content_type="image/png")


def test_the_upload_page_is_resumable_and_reports_duplicates(client, owner, busy):
    client.force_login(owner)
    url = reverse("dashboard-subjects", args=[busy.pk])
    first = client.post(url, {"name": "batch", "manifest": manifest("g1", "g2", "g3"),
                              "images": [image("g1", 101), image("g2", 102)]})
    assert first.status_code == 200
    report = first.context["report"]
    assert (report.created, report.missing) == (["g1", "g2"], ["g3"])
    second = client.post(url, {"name": "batch", "manifest": manifest("g1", "g2", "g3"),
                               "images": [image("g3", 101)]})
    report = second.context["report"]
    assert report.skipped == ["g1", "g2"] and report.duplicates == [{"id": "g3", "duplicate_of": "g1"}]
    assert "same image as g1" in second.content.decode()
    g1 = Subject.objects.get(workflow=busy, external_id="g1")
    assert (g1.ra, g1.dec, g1.metadata["name"]) == (10.5, -3.25, "galaxy g1")


def test_a_bad_image_in_an_upload_stores_nothing(client, owner, busy):
    client.force_login(owner)
    before = Subject.objects.count()
    bad = SimpleUploadedFile("g2.png", b"not a png at all", content_type="image/png")
    response = client.post(reverse("dashboard-subjects", args=[busy.pk]),
                           {"name": "broken", "manifest": manifest("g1", "g2"), "images": [image("g1", 5), bad]})
    assert response.status_code == 400
    assert "manifest line 3 (g2)" in response.content.decode() and "not a readable image" in response.content.decode()
    assert Subject.objects.count() == before and not busy.subject_sets.filter(name="broken").exists()


def test_gold_answers_upload_marks_subjects_gold(client, owner, busy):
    client.force_login(owner)
    gold = SimpleUploadedFile("gold.csv", b"id,task,value\nS3,T0,featured\n", content_type="text/csv")
    response = client.post(reverse("dashboard-gold", args=[busy.pk]), {"gold": gold}, follow=True)
    assert "1 gold answers stored" in response.content.decode()
    assert GoldAnswer.objects.get(subject__external_id="S3", subject__workflow=busy).value == "featured"
    wrong = SimpleUploadedFile("gold.csv", b"id,task,value\nS3,T0,purple\n", content_type="text/csv")
    response = client.post(reverse("dashboard-gold", args=[busy.pk]), {"gold": wrong}, follow=True)
    assert "No gold answers stored" in response.content.decode()
    assert GoldAnswer.objects.get(subject__external_id="S3", subject__workflow=busy).value == "featured"


def test_every_dashboard_chart_renders_with_no_data(client, owner):
    empty = make_workflow(owner=owner, n_subjects=0, n_gold=0)
    client.force_login(owner)
    response = client.get(reverse("dashboard", args=[empty.pk]))
    assert response.status_code == 200
    assert "No subject retired yet" in response.content.decode()
    assert io.BytesIO(response.content).getvalue().count(b"<svg") >= 7


def test_it_counts_the_subjects_the_machine_retired(busy):
    from zooapp.services.dashboard import machine_retired_count, queue_makeup

    subject = Subject.objects.filter(workflow=busy, status="active", is_gold=False).first()
    Subject.objects.filter(pk=subject.pk).update(status="retired")
    Retirement.objects.create(subject=subject, reason="machine_threshold", agent="machine", rules={},
                              n_classifications=0)
    assert machine_retired_count(workflow=busy) == 1
    assert queue_makeup(workflow=busy)["machine_retired"] == 1
    Subject.objects.filter(pk=subject.pk).update(status="active")
    Retirement.objects.create(subject=subject, action="unretire", reason="rules_reapplied", rules={},
                              n_classifications=0)
    assert machine_retired_count(workflow=busy) == 0


def test_human_and_machine_classifications_are_counted_apart(client, owner, busy):
    from zooapp.models import Classification, Volunteer
    from zooapp.services.dashboard import workflow_status

    status = workflow_status(workflow=busy)
    humans = Classification.objects.filter(workflow=busy, volunteer__kind=Volunteer.Kind.HUMAN).count()
    assert status["human_classifications"] == humans
    assert status["machine_classifications"] == Classification.objects.filter(workflow=busy).count() - humans
    client.force_login(owner)
    page = client.get(reverse("dashboard", args=[busy.pk])).content.decode()
    assert "Human classifications" in page and "Machine votes" in page
    assert "retirements a day" not in page


def test_the_models_chart_puts_accuracy_and_training_speed_on_separate_axes():
    from zooapp.services.dashboard_charts import comparison_chart

    rows = [{"number": 1, "n": 50, "accuracy": 0.8, "lower": 0.7, "upper": 0.9, "serving": True}]
    svg = comparison_chart(rows, throughput=[(1, 180.0)])
    assert "held-out accuracy (fraction)" in svg and "training speed (images/s)" in svg
    assert "images/s" not in comparison_chart(rows)
