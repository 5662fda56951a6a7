import csv
import io
import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.io.votable import parse_single_table
from astropy.table import Table
from astropy.wcs import WCS
from django.core.management import call_command
from PIL import Image

from tests.conftest import annotations_for, make_workflow
from zooapp.models import (ConsensusBox, Export, ModelVersion, Prediction, Retirement, Subject, SubjectPosterior,
                           Volunteer)
from zooapp.services.classifications import classification_create
from zooapp.services.exports import ExportRejected, export_file_path, export_start
from zooapp.services.subjects import image_to_display, subject_create

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zooniverse"
CLUMP = {"tool": "clump", "x_min": 10, "y_min": 12, "x_max": 20, "y_max": 24}


def classify(workflow, subject, answer, boxes=None, name="v"):
    volunteer = Volunteer.objects.create(name=name)
    classification_create(volunteer=volunteer, subject_id=subject.pk, workflow_version_id=workflow.current_version.pk,
                          annotations=annotations_for(answer, boxes), idempotency_key=uuid.uuid4())


@pytest.fixture
def classified(admin_user):
    """Three galaxies: one retired as featured with a clump, one with split votes, one unseen."""
    workflow = make_workflow(owner=admin_user, n_subjects=4, n_gold=1,
                             rules={"posterior_threshold": 0.6, "min_classifications": 2})
    first, second, _ = Subject.objects.filter(workflow=workflow, is_gold=False).order_by("id")
    for i in range(3):
        classify(workflow, first, "featured", [CLUMP], name=f"a{i}")
    classify(workflow, second, "smooth", name="b0")
    classify(workflow, second, "featured", name="b1")
    model = ModelVersion.objects.create(workflow=workflow, kind="classifier", number=1, file="m.pt", n_train=10,
                                        serving=True, metrics={"val_accuracy_T0": 0.8})
    Prediction.objects.create(model_version=model, subject=first, task="T0", probs=[0.1, 0.85, 0.05])
    return workflow


def run_export(workflow, kind, fmt, user=None):
    export = export_start(workflow=workflow, kind=kind, fmt=fmt, user=user)
    export.refresh_from_db()
    assert export.status == Export.Status.DONE, export.error
    assert export.progress == 1.0
    return export, export_file_path(export=export)


def read_catalogue(path, fmt):
    if fmt == "votable":
        return parse_single_table(str(path)).to_table(use_names_over_ids=True)
    return Table.read(path, format={"fits": "fits", "ecsv": "ascii.ecsv", "csv": "ascii.csv"}[fmt])


@pytest.mark.parametrize("fmt", ["fits", "votable", "ecsv", "csv"])
def test_it_writes_the_galaxy_catalogue_with_values_from_the_database(classified, fmt):
    export, path = run_export(classified, "catalogue", fmt)
    table = read_catalogue(path, fmt)
    assert len(table) == export.n_rows == 2  # gold subjects and the unseen one are not catalogued
    first = Subject.objects.filter(workflow=classified, is_gold=False).order_by("id").first()
    row = table[list(table["subject_id"]).index(first.pk)]
    post = SubjectPosterior.objects.get(subject=first, task="T0")
    probs = post.probabilities
    assert row["ra"] == pytest.approx(first.ra) and row["dec"] == pytest.approx(first.dec)
    assert row["t01_smooth_or_features_a02_features_or_disk_count"] == 3
    assert row["t01_smooth_or_features_total_votes"] == 3
    assert row["t01_smooth_or_features_a02_features_or_disk_fraction"] == pytest.approx(1.0)
    assert row["t01_smooth_or_features_a02_features_or_disk_weighted_fraction"] == pytest.approx(
        post.weighted_counts[1] / sum(post.weighted_counts))
    assert row["t01_smooth_or_features_a02_features_or_disk_posterior"] == pytest.approx(probs[1])
    lo, hi = (row[f"t01_smooth_or_features_a02_features_or_disk_posterior_{end}"] for end in ("lo", "hi"))
    assert lo <= probs[1] <= hi and hi - lo > 0.01
    assert (row["total_classifications"], row["total_votes"]) == (3, 6)  # T0 and T2; boxes are not votes
    assert row["t01_smooth_or_features_a02_features_or_disk_machine"] == pytest.approx(0.85)
    reason = Retirement.objects.filter(subject=first).latest("id").reason
    assert str(row["retirement_reason"]) == reason and row["n_clumps"] == 1
    if fmt != "csv":
        assert str(table["ra"].unit) == "deg"


def test_it_labels_columns_with_units_and_ucds_in_every_format(classified):
    _, fits_path = run_export(classified, "catalogue", "fits")
    header = fits.getheader(fits_path, 1)
    names = [header[f"TTYPE{i}"] for i in range(1, header["TFIELDS"] + 1)]
    assert header[f"TUCD{names.index('ra') + 1}"] == "pos.eq.ra;meta.main"
    assert header[f"TUNIT{names.index('dec') + 1}"] == "deg"
    assert header["WORKFLOW"] == classified.pk
    _, vot_path = run_export(classified, "catalogue", "votable")
    ucds = {f.name: f.ucd for f in parse_single_table(str(vot_path)).fields}
    assert ucds["dec"] == "pos.eq.dec;meta.main"
    assert ucds["t01_smooth_or_features_a01_smooth_posterior"] == "stat.probability"
    assert ucds["t01_smooth_or_features_a01_smooth_count"] == "meta.number"
    _, ecsv_path = run_export(classified, "catalogue", "ecsv")
    ecsv = Table.read(ecsv_path, format="ascii.ecsv")
    assert ecsv["t01_smooth_or_features_a01_smooth_posterior_hi"].meta["ucd"] == "stat.probability;stat.max"
    assert "credible interval" in ecsv["t01_smooth_or_features_a01_smooth_posterior_hi"].description


def _fits_with_one_bright_pixel(path, *, row, col, shape=(40, 50)):
    wcs = WCS(naxis=2)
    wcs.wcs.crpix, wcs.wcs.cdelt = [25.5, 20.5], [-0.001, 0.001]
    wcs.wcs.crval, wcs.wcs.ctype = [150.0, 2.0], ["RA---TAN", "DEC--TAN"]
    data = np.zeros(shape)
    data[row, col] = 1000.0
    fits.PrimaryHDU(data=data, header=wcs.to_header()).writeto(path)
    return wcs


def test_it_puts_each_clump_on_the_sky_through_the_flipped_wcs(classified, tmp_path):
    wcs = _fits_with_one_bright_pixel(tmp_path / "g.fits", row=30, col=12)
    image = image_to_display(tmp_path / "g.fits")
    pixels = np.asarray(Image.open(io.BytesIO(image.png)).convert("L"))
    y_disp, x_disp = np.unravel_index(pixels.argmax(), pixels.shape)
    assert (y_disp, x_disp) == (40 - 1 - 30, 12)  # the display is the FITS image flipped top to bottom
    subject = subject_create(subject_set=classified.subject_sets.first(), external_id="wcs", image=image,
                             ra=None, dec=None, metadata={})
    ConsensusBox.objects.create(subject=subject, x_min=x_disp, y_min=y_disp, x_max=x_disp + 1, y_max=y_disp + 1,
                                p_real=0.9, n_workers=3, n_seen=4)
    _, path = run_export(classified, "clumps", "fits")
    table = Table.read(path)
    assert len(table) == 2
    row = table[list(table["subject_id"]).index(subject.pk)]
    ra, dec = (float(v) for v in wcs.pixel_to_world_values(12, 30))
    assert (row["ra"], row["dec"]) == pytest.approx((ra, dec), abs=1e-9)
    assert (row["p_real"], row["n_workers"], row["n_seen"]) == (pytest.approx(0.9), 3, 4)
    other = table[list(table["subject_id"]).index(subject.pk) - 1]
    box = ConsensusBox.objects.get(pk=other["clump_id"])
    assert (other["x_min"], other["y_max"]) == pytest.approx((box.x_min, box.y_max))
    assert other["ra"] is np.ma.masked or np.isnan(other["ra"])  # PNG subjects have no WCS: NaN
    assert str(table["x_min"].unit) == "pix"


def test_it_writes_consensus_boxes_as_coco(classified):
    export, path = run_export(classified, "coco", "json")
    doc = json.loads(path.read_text())
    box = ConsensusBox.objects.get(subject__workflow=classified)
    (ann,) = doc["annotations"]
    assert ann["image_id"] == box.subject_id and ann["category_id"] == 1
    assert ann["bbox"] == pytest.approx([box.x_min, box.y_min, box.x_max - box.x_min, box.y_max - box.y_min])
    assert doc["categories"] == [{"id": 1, "name": "clump", "supercategory": "galaxy_feature"}]
    image_ids = {i["id"] for i in doc["images"]}
    assert box.subject_id in image_ids and len(image_ids) == 2  # the subject without clumps is a negative
    assert export.n_rows == 1


def test_it_writes_raw_classifications_in_the_zooniverse_format(classified):
    _, path = run_export(classified, "classifications", "csv")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    sample = FIXTURES / "panoptes_classification_export_question_tasks.csv"
    with sample.open(newline="") as fh:
        assert list(csv.DictReader(fh).fieldnames) == list(rows[0])
    assert len(rows) == 5
    featured = next(r for r in rows if r["user_name"] == "a0")
    annotations = json.loads(featured["annotations"])
    assert annotations[0] == {"task": "T0", "task_label": classified.current_version.tree["tasks"]["T0"]["question"],
                              "value": "Features or disk"}
    assert annotations[2]["value"][0] | {"details": []} == {
        "tool": 0, "tool_label": "clump", "frame": 0, "x": 10.0, "y": 12.0, "width": 10.0, "height": 12.0,
        "details": []}
    subject_data = json.loads(featured["subject_data"])
    assert list(subject_data) == [featured["subject_ids"]]
    assert "#hidden" not in subject_data[featured["subject_ids"]]
    assert subject_data[featured["subject_ids"]]["retired"]["retirement_reason"]
    assert featured["user_ip"] == "" and featured["created_at"].endswith(" UTC")


def test_it_refuses_an_unknown_kind_or_format_and_creates_nothing(classified):
    with pytest.raises(ExportRejected, match="can be written as"):
        export_start(workflow=classified, kind="coco", fmt="fits", user=None)
    with pytest.raises(ExportRejected, match="unknown export kind"):
        export_start(workflow=classified, kind="everything", fmt="csv", user=None)
    assert Export.objects.count() == 0


def test_the_export_command_still_writes_the_catalogue(classified, tmp_path, capsys):
    call_command("export", "--workflow", str(classified.pk), "--out", str(tmp_path))
    out = capsys.readouterr().out
    for suffix in (".fits", ".vot.xml", ".ecsv", ".csv"):
        assert (tmp_path / f"workflow-{classified.pk}-catalogue{suffix}").is_file()
    assert "(2 rows)" in out  # the subject nobody classified is left out ...
    call_command("export", "--workflow", str(classified.pk), "--out", str(tmp_path), "--include-unclassified",
                 "--format", "csv")
    unseen = Table.read(tmp_path / f"workflow-{classified.pk}-catalogue.csv")
    assert len(unseen) == 3 and np.isnan(unseen["t01_smooth_or_features_a01_smooth_posterior"][-1])  # ... unless asked
    call_command("export", "--workflow", str(classified.pk), "--out", str(tmp_path), "--retired-only",
                 "--format", "csv")
    assert len(Table.read(tmp_path / f"workflow-{classified.pk}-catalogue.csv")) == 1


def test_a_failed_export_keeps_its_error_for_the_page_and_leaves_no_file(classified, monkeypatch, settings):
    from zooapp.services import exports

    def broken(table, path, fmt):
        path.write_bytes(b"half a file")
        raise RuntimeError("disk full")

    monkeypatch.setattr(exports, "write_table", broken)
    export = export_start(workflow=classified, kind="catalogue", fmt="fits", user=None)
    export.refresh_from_db()
    assert (export.status, export.error, export.file_name) == ("failed", "disk full", "")
    with pytest.raises(ExportRejected, match="not ready"):
        export_file_path(export=export)
    assert not [p for p in settings.ZOOLOOP_EXPORT_DIR.rglob("*") if p.is_file()]


@pytest.mark.parametrize("task", ["zooapp.tasks.export_catalogue", "zooapp.tasks.import_zooniverse"])
def test_exports_and_imports_go_to_the_exports_queue(task):
    from zooapp.celery import app

    assert app.amqp.router.route({}, task)["queue"].name == "exports"
