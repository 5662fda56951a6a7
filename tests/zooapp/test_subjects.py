import csv
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from django.core.management import CommandError, call_command

from tests.conftest import make_workflow, png_bytes
from zooapp.models import Subject, SubjectSet, SubjectTruth, GoldAnswer
from zooapp.services.subjects import IngestError, asinh_stretch, subject_set_ingest, subject_set_synthesize

pytestmark = pytest.mark.django_db(transaction=True)
DEMO = Path(__file__).resolve().parents[2] / "zooapp" / "demo"


def write_manifest(folder: Path, rows: list[dict]) -> Path:
    path = folder / "manifest.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def fits_with_wcs(path: Path, data: np.ndarray | None) -> None:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [16.5, 16.5]
    wcs.wcs.cdelt = [-0.0001, 0.0001]
    hdu = fits.PrimaryHDU(data=data, header=wcs.to_header())
    hdu.writeto(path)


def test_it_ingests_png_and_fits_keeping_the_wcs_and_metadata(admin_user, tmp_path):
    workflow = make_workflow(owner=admin_user, n_subjects=0)
    (tmp_path / "a.png").write_bytes(png_bytes())
    fits_with_wcs(tmp_path / "b.fits", np.random.default_rng(0).normal(10, 1, (32, 32)))
    manifest = write_manifest(tmp_path, [{"id": "A", "file": "a.png", "ra": "1.5", "dec": "-2", "mag": "17.2"},
                                         {"id": "B", "file": "b.fits", "ra": "", "dec": "", "mag": ""}])
    subject_set_ingest(workflow=workflow, name="mixed", folder=tmp_path, manifest=manifest)
    a, b = Subject.objects.get(external_id="A"), Subject.objects.get(external_id="B")
    assert (a.ra, a.dec, a.metadata, a.width) == (1.5, -2.0, {"mag": "17.2"}, 64)
    assert b.wcs_header["CTYPE1"] == "RA---TAN"
    assert b.ra == pytest.approx(150.0, abs=1e-3) and b.dec == pytest.approx(2.0, abs=1e-3)
    assert b.frames.get().image.read()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("make_bad, fragment", [
    (lambda d: (d / "x.png").write_bytes(b"not an image"), "not a readable image"),
    (lambda d: fits_with_wcs(d / "x.png", None) or (d / "x.png").rename(d / "x.fits"), "no image data"),
])
def test_a_bad_file_stops_the_ingest_and_leaves_nothing_behind(admin_user, tmp_path, make_bad, fragment):
    workflow = make_workflow(owner=admin_user, n_subjects=0)
    (tmp_path / "ok.png").write_bytes(png_bytes())
    make_bad(tmp_path)
    bad = "x.fits" if (tmp_path / "x.fits").exists() else "x.png"
    manifest = write_manifest(tmp_path, [{"id": "ok", "file": "ok.png"}, {"id": "bad", "file": bad}])
    with pytest.raises(IngestError, match=fragment):
        subject_set_ingest(workflow=workflow, name="s", folder=tmp_path, manifest=manifest)
    assert not Subject.objects.exists() and not SubjectSet.objects.filter(name="s").exists()


def test_the_ingest_command_reports_a_missing_column_clearly(admin_user, tmp_path):
    workflow = make_workflow(owner=admin_user, n_subjects=0)
    (tmp_path / "manifest.csv").write_text("name,path\nA,a.png\n")
    with pytest.raises(CommandError, match="lacks column"):
        call_command("ingest", str(tmp_path), "--workflow", str(workflow.pk))


def test_the_asinh_stretch_maps_the_range_to_bytes_and_keeps_order():
    out = asinh_stretch(np.linspace(0, 100, 1000).reshape(10, 100))
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out.ravel().astype(int)) >= 0)


def test_a_synthetic_survey_keeps_its_truth_apart_and_makes_gold(admin_user, tmp_path):
    workflow = make_workflow(owner=admin_user, n_subjects=0)
    subject_set_synthesize(workflow=workflow, name="synth", n=6, seed=3, out_dir=tmp_path, n_gold=2,
                           progress=False)
    assert Subject.objects.filter(subject_set__name="synth").count() == 6
    truth = SubjectTruth.objects.first().values
    assert truth["T0"] in {"smooth", "featured", "artifact"} and "clumps" in truth
    assert GoldAnswer.objects.filter(subject__is_gold=True).count() >= 2
    assert all("truth" not in str(s.metadata) for s in Subject.objects.all())


def test_synthetic_subjects_can_carry_a_frame_per_band_for_the_flipbook(admin_user, tmp_path):
    workflow = make_workflow(owner=admin_user, n_subjects=0)
    subject_set_synthesize(workflow=workflow, name="bands", n=1, seed=4, out_dir=tmp_path, progress=False,
                           band_frames_wanted=True)
    subject = Subject.objects.get(subject_set__name="bands")
    assert list(subject.frames.values_list("label", flat=True)) == ["gri", "g", "r", "i"]
