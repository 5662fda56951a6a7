"""Seed a load-test database: one workflow of the demo tree with N subjects that never retire.

Run inside the stack's environment (DATABASE_URL set): python -m benchmarks.load.seed --subjects 2000
Prints {"workflow": id, "version": id} as JSON.
"""
from __future__ import annotations

import argparse
import io
import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zooapp.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.db import transaction  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.workflows import endless_workflow_create  # noqa: E402
from zooapp.models import SubjectSet  # noqa: E402
from zooapp.services.subjects import DisplayImage, subject_create  # noqa: E402


def _image(seed: int) -> DisplayImage:
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return DisplayImage(png=buf.getvalue(), width=64, height=64, wcs_header=None, centre_radec=None)


def seed(*, subjects: int) -> dict:
    workflow = endless_workflow_create(title="Load test", name="Load", prefix="load")
    subject_set = SubjectSet.objects.create(project=workflow.project, workflow=workflow, name="load")
    images = [_image(i) for i in range(16)]
    with transaction.atomic():
        for i in range(subjects):
            subject_create(subject_set=subject_set, external_id=f"L{i}", image=images[i % 16], ra=None, dec=None,
                           metadata={})
    return {"workflow": workflow.pk, "version": workflow.current_version.pk}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=2000)
    print(json.dumps(seed(subjects=parser.parse_args().subjects)))
