"""Pages for admins and project staff."""
from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import get_object_or_404, render

from zooapp.models import Workflow
from zooapp.services.dashboard import workflow_status


@staff_member_required
def dashboard_index(request):
    workflows = Workflow.objects.select_related("project").order_by("id")
    return render(request, "zooapp/dashboard_index.html",
                  {"rows": [workflow_status(workflow=w) for w in workflows]})


@staff_member_required
def dashboard(request, workflow_id: int):
    workflow = get_object_or_404(Workflow.objects.select_related("project"), pk=workflow_id)
    return render(request, "zooapp/dashboard.html", {"workflow": workflow, "status": workflow_status(workflow=workflow)})
