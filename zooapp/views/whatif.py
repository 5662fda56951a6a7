"""The "what if" page: simulate a workflow's own tree and rules before launch (project staff only)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from zooapp.access import get_workflow_for_user
from zooapp.services.simulation import whatif as whatif_services


@login_required
@require_http_methods(["GET", "POST"])
def whatif(request, workflow_id: int):
    workflow = get_workflow_for_user(request.user, workflow_id, staff=True)
    if request.method == "POST":
        whatif_services.workflow_whatif_request(workflow=workflow)
        messages.info(request, f"Simulating {whatif_services.WHATIF_GALAXIES} galaxies with this workflow's rules; "
                               "this page shows the result when it is ready.")
        return redirect("dashboard-whatif", workflow_id=workflow.pk)
    result = whatif_services.workflow_whatif_result(workflow_id=workflow.pk)
    return render(request, "zooapp/whatif.html", {"workflow": workflow, "result": result,
                                                  "n_galaxies": whatif_services.WHATIF_GALAXIES})
