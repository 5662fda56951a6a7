"""Generated galaxies (issue #18) never enter a subject set; admins see them, marked, on the models page."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from aggregation.schema import galaxy_zoo_tree
from ml.diffusion.conditions import answer_condition
from ml.diffusion.marker import generated_pnginfo
from ml.diffusion.sample import save_generated
from tests.conftest import make_workflow, png_bytes
from zooapp.models import ModelVersion, Subject, SubjectSet
from zooapp.services.generated import generated_examples
from zooapp.services.machine.versions import version_record

pytestmark = pytest.mark.django_db


def generated_png(seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", pnginfo=generated_pnginfo({"model": "diffusion-v1"}))
    return buf.getvalue()


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("curator", password="pw-curator-123")


@pytest.fixture
def workflow(staff):
    return make_workflow(owner=staff, n_subjects=1, n_gold=0)


@pytest.fixture
def generated_dir(tmp_path) -> Path:
    tree = galaxy_zoo_tree()
    conds = np.stack([answer_condition("T2.yes", tree)] * 3)
    images = torch.randint(0, 255, (3, 3, 16, 16), dtype=torch.uint8)
    save_generated(images, conds, tmp_path / "gen", names=["T2.yes"] * 3, meta={"model": "m"}, tree=tree)
    return tmp_path / "gen"


def test_an_upload_with_a_generated_image_is_refused_naming_it_and_stores_nothing(staff, workflow):
    client = APIClient()
    client.force_authenticate(staff)
    files = {"real.png": png_bytes(seed=3), "dreamt.png": generated_png()}
    manifest = "id,file\n" + "".join(f"{Path(n).stem},{n}\n" for n in files)
    response = client.post(reverse("api-subject-uploads", args=[workflow.pk]), {
        "name": "mixed", "manifest": SimpleUploadedFile("manifest.csv", manifest.encode()),
        "images": [SimpleUploadedFile(n, c) for n, c in files.items()]}, format="multipart")
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert "dreamt.png is a generated image" in detail and "diffusion-v1" in detail
    assert not SubjectSet.objects.filter(name="mixed").exists() and Subject.objects.count() == 1


def test_the_ingest_command_refuses_a_folder_of_generated_images(workflow, generated_dir):
    with pytest.raises(CommandError, match="gen-00000.png is a generated image"):
        call_command("ingest", str(generated_dir), "--workflow", str(workflow.pk))
    assert Subject.objects.count() == 1


def test_the_same_pixels_without_the_marker_are_an_ordinary_image(staff, workflow):
    plain = io.BytesIO()
    Image.open(io.BytesIO(generated_png())).save(plain, format="PNG")  # re-saved: Pillow drops the text chunk
    client = APIClient()
    client.force_authenticate(staff)
    response = client.post(reverse("api-subject-uploads", args=[workflow.pk]), {
        "name": "plain", "manifest": SimpleUploadedFile("manifest.csv", b"id,file\nplain,plain.png\n"),
        "images": [SimpleUploadedFile("plain.png", plain.getvalue())]}, format="multipart")
    assert response.status_code == 201, response.content


def test_a_version_records_how_many_generated_images_it_trained_on(workflow, generated_dir):
    result = {"checkpoint": "m.pt", "n_train": 40, "n_val": 0, "metrics": {}, "n_generated": 3}
    version = version_record(workflow=workflow, kind="classifier", number=1, result=result,
                             n_generated=result["n_generated"], generated_ratio=1.5, generated_dir=str(generated_dir))
    version.refresh_from_db()
    assert version.trained_on_generated and version.n_generated == 3 and version.generated_ratio == 1.5
    plain = version_record(workflow=workflow, kind="classifier", number=2, result={**result, "n_generated": 0})
    assert not plain.trained_on_generated and plain.generated_ratio is None


def test_the_models_page_shows_generated_examples_marked_as_generated(client, staff, workflow, generated_dir):
    ModelVersion.objects.create(workflow=workflow, kind="classifier", number=1, file="a.pt", n_train=20)
    ModelVersion.objects.create(workflow=workflow, kind="classifier", number=2, file="b.pt", n_train=20,
                                n_generated=3, generated_ratio=1.5, generated_dir=str(generated_dir))
    client.force_login(staff)
    html = client.get(reverse("dashboard", args=[workflow.pk])).content.decode()
    assert "Trained on generated" in html and ">none<" in html.replace("\n", "").replace(" ", "")
    assert 'class="generated-badge">generated</strong> 3 diffusion-generated' in html
    assert html.count('alt="generated galaxy (T2.yes)"') == 3 and "data:image/png;base64," in html


def test_only_marked_files_count_as_generated_examples(workflow, generated_dir):
    Image.new("RGB", (8, 8)).save(generated_dir / "gen-00001.png")  # overwritten without the marker
    version = ModelVersion.objects.create(workflow=workflow, kind="classifier", number=1, file="a.pt", n_train=2,
                                          n_generated=3, generated_dir=str(generated_dir))
    assert len(generated_examples(version=version)) == 2
    version.generated_dir = str(generated_dir / "missing")
    assert generated_examples(version=version) == []
