"""The benchmarks' throwaway workflow: every batch does the same work because nothing ever retires or retrains.

Import after ``django.setup()`` (each benchmark script sets Django up itself).
"""
from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model

from zooapp.models import Project, Workflow
from zooapp.services.demo import DEMO_TREE
from zooapp.services.projects import workflow_create

NEVER_RETRAIN = 10**9
NEVER_RETIRE = 10**6  # more classifications of one subject than any benchmark makes


def endless_workflow_create(*, title: str, name: str, prefix: str, machine_agent: bool = True) -> Workflow:
    """A new owner, project and demo-tree workflow with no gold, no retraining and no retirement."""
    owner = get_user_model().objects.create(username=f"{prefix}-{uuid.uuid4().hex[:6]}")
    project = Project.objects.create(name=title, slug=f"{prefix}-{uuid.uuid4().hex[:8]}", owner=owner)
    workflow = workflow_create(project=project, name=name, tree=DEMO_TREE, gold_rate_start=0.0,
                               gold_rate_end=0.0, retrain_every=NEVER_RETRAIN, machine_agent=machine_agent)
    workflow.retirement_rules = {**workflow.retirement_rules, "min_classifications": NEVER_RETIRE,
                                 "max_classifications": NEVER_RETIRE}
    workflow.save(update_fields=["retirement_rules"])
    return workflow
