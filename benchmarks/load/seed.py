"""Seed a load-test database: one workflow of the demo tree with N subjects that never retire.

Run inside the stack's environment (DATABASE_URL set): python -m benchmarks.load.seed --subjects 2000
Prints {"workflow": id, "version": id} as JSON.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zooapp.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402
from PIL import Image  # noqa: E402

from zooapp.models import Project, SubjectSet  # noqa: E402
from zooapp.services.demo import DEMO_TREE  # noqa: E402
from zooapp.services.projects import workflow_create  # noqa: E402
from zooapp.services.subjects import DisplayImage, subject_create  # noqa: E402


def _image(seed: int) -> DisplayImage:
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return DisplayImage(png=buf.getvalue(), width=64, height=64, wcs_header=None, centre_radec=None)


def seed(*, subjects: int) -> dict:
    owner = get_user_model().objects.create(username=f"load-{uuid.uuid4().hex[:6]}")
    project = Project.objects.create(name="Load test", slug=f"load-{uuid.uuid4().hex[:8]}", owner=owner)
    workflow = workflow_create(project=project, name="Load", tree=DEMO_TREE, gold_rate_start=0.0,
                               gold_rate_end=0.0, retrain_every=10**9)
    workflow.retirement_rules = {**workflow.retirement_rules, "min_classifications": 10**6,
                                 "max_classifications": 10**6}
    workflow.save(update_fields=["retirement_rules"])
    subject_set = SubjectSet.objects.create(project=project, workflow=workflow, name="load")
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
