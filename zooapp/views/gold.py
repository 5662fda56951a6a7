"""The experts' page: gold answers for a workflow, one at a time or as a CSV, for anyone with the gold right."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from zooapp.access import get_workflow_for_builder
from zooapp.errors import ApplicationError
from zooapp.services.gold import gold_answer_choices, gold_answer_set, gold_subject_list
from zooapp.services.subject_uploads import gold_answers_upload
from zooapp.views.dashboard import GoldForm


@login_required
@require_http_methods(["GET", "POST"])
def expert_gold(request, workflow_id: int):
    """GET: the gold galaxies and their answers, and both forms; POST: one answer (``answer``) or a CSV (``gold``)."""
    workflow = get_workflow_for_builder(request.user, workflow_id, right="gold")
    if request.method == "POST":
        _store(request, workflow)
        return redirect("expert-gold", workflow.pk)
    try:
        choices = gold_answer_choices(workflow=workflow)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        choices = []
    return render(request, "zooapp/expert_gold.html", {
        "workflow": workflow, "choices": choices, "gold": gold_subject_list(workflow=workflow),
        "gold_form": GoldForm()})


def _store(request, workflow) -> None:
    try:
        if "gold" in request.FILES:
            form = GoldForm(request.POST, request.FILES)
            if not form.is_valid():
                raise ApplicationError("choose a CSV file with columns id, task, value")
            n = gold_answers_upload(workflow=workflow, upload=form.cleaned_data["gold"])
            messages.success(request, f"{n} gold answers stored.")
            return
        task, _, value = request.POST.get("answer", "").partition(":")
        answer = gold_answer_set(workflow=workflow, external_id=request.POST.get("external_id", ""), task=task,
                                 value=value)
        messages.success(request, f"Gold answer stored: galaxy {answer.subject.external_id}, {task} = {value}.")
    except ApplicationError as exc:
        messages.error(request, f"Nothing stored: {exc.message}")
