"""Hostile and broken uploads: each is refused with a message naming the file, and nothing is half-made."""
from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from tests.conftest import make_workflow, png_bytes
from zooapp.models import Classification, Subject, SubjectFrame, SubjectSet

pytestmark = pytest.mark.django_db


def png_of(width: int, height: int) -> bytes:
    """A flat PNG: a few hundred bytes on disk, width * height pixels once decoded."""
    buf = io.BytesIO()
    Image.new("L", (width, height)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def fits_bytes(data) -> bytes:
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(data=data)]).writeto(buf)
    return buf.getvalue()


BAD_FILES = {
    "truncated.png": (lambda: png_bytes()[:60], "not a readable image"),
    "text.jpg": (lambda: b"this is not a JPEG at all", "not a readable image"),
    "empty.png": (lambda: b"", "empty"),
    "header-only.fits": (lambda: fits_bytes(None), "no image data"),
    "truncated.fits": (lambda: fits_bytes(np.ones((64, 64), dtype=np.float32))[:3000], "FITS"),
    "all-nan.fits": (lambda: fits_bytes(np.full((16, 16), np.nan, dtype=np.float32)), "no finite pixel values"),
    "bomb.png": (lambda: png_of(3000, 3000), "pixels"),
    "mild-bomb.png": (lambda: png_of(1300, 1000), "pixels"),  # 1.3 x the limit: Pillow only warns here
    "picture.gif": (lambda: b"GIF89a", "unsupported file type"),
}


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.ZOOLOOP_MAX_IMAGE_PIXELS = 1_000_000
    settings.ZOOLOOP_MAX_IMAGE_BYTES = 200_000


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("curator")


@pytest.fixture
def workflow(staff):
    return make_workflow(owner=staff, n_subjects=1, n_gold=0)


def media_files() -> list[Path]:
    root = Path(django_settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def upload(client: APIClient, workflow, files: dict[str, bytes]):
    manifest = "id,file\n" + "".join(f"{Path(name).stem},{name}\n" for name in files)
    return client.post(reverse("api-subject-uploads", args=[workflow.pk]), {
        "name": "hostile", "manifest": SimpleUploadedFile("manifest.csv", manifest.encode()),
        "images": [SimpleUploadedFile(name, content) for name, content in files.items()]}, format="multipart")


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_in_an_upload_is_a_400_naming_it_and_stores_nothing(staff, workflow, name):
    make, fragment = BAD_FILES[name]
    client = APIClient()
    client.force_authenticate(staff)
    before = media_files()
    response = upload(client, workflow, {"good.png": png_bytes(seed=3), name: make()})
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert fragment in detail and Path(name).stem in detail, detail
    assert not SubjectSet.objects.filter(name="hostile").exists()
    assert Subject.objects.count() == 1 and SubjectFrame.objects.count() == 1
    assert media_files() == before


def test_an_image_over_the_byte_limit_is_refused_before_it_is_decoded(staff, workflow):
    client = APIClient()
    client.force_authenticate(staff)
    noise = np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="PNG")
    assert len(buf.getvalue()) > 200_000
    response = upload(client, workflow, {"big.png": buf.getvalue()})
    assert response.status_code == 400 and "limit" in response.json()["detail"]
    assert not SubjectSet.objects.filter(name="hostile").exists()


def test_an_image_just_inside_the_limits_is_accepted(staff, workflow):
    client = APIClient()
    client.force_authenticate(staff)
    response = upload(client, workflow, {"wide.png": png_of(1000, 1000)})
    assert response.status_code == 201, response.content
    assert Subject.objects.get(external_id="wide").width == 1000


@pytest.mark.parametrize("name", ["bomb.png", "header-only.fits", "truncated.fits"])
def test_the_ingest_command_refuses_a_bad_file_with_a_clear_error_and_stores_nothing(workflow, tmp_path, name):
    make, fragment = BAD_FILES[name]
    (tmp_path / "good.png").write_bytes(png_bytes(seed=3))
    (tmp_path / name).write_bytes(make())
    (tmp_path / "manifest.csv").write_text(f"id,file\ngood,good.png\nbad,{name}\n")
    before = media_files()
    with pytest.raises(CommandError, match=fragment):
        call_command("ingest", str(tmp_path), "--workflow", str(workflow.pk))
    assert Subject.objects.count() == 1 and media_files() == before


def test_a_request_body_over_the_limit_is_a_413_with_a_json_message(client, workflow, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = {"subject": workflow.subjects.get().pk, "workflow_version": workflow.current_version.pk,
            "idempotency_key": str(uuid.uuid4()), "annotations": [{"task": "T0", "value": "x" * 20_000}]}
    response = client.post(reverse("api-classifications"), json.dumps(body), content_type="application/json")
    assert response.status_code == 413
    assert "larger than the limit of 10000 bytes" in response.json()["detail"]
    assert not Classification.objects.exists()
