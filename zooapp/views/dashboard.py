"""Pages for project staff: the workflow dashboard, retirement rules, exports and subject uploads.

Every view loads its workflow through ``zooapp.access`` with ``staff=True``: the project's
owner, its staff list and superusers get in; anyone else signed in gets 403.
"""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from zooapp.access import get_export_for_user, get_workflow_for_user
from zooapp.errors import ApplicationError
from zooapp.selectors import workflow_list_for_staff
from zooapp.services.dashboard import (retirement_questions, workflow_dashboard, workflow_live_counts,
                                      workflow_status)
from zooapp.services.exports import FORMATS, download_name, export_file_path, export_start
from zooapp.services.retirement import RulesRejected, workflow_rules_reapply, workflow_rules_update
from zooapp.services.subject_uploads import gold_answers_upload, subject_set_upload

EXPORT_CHOICES = [(f"{kind}:{fmt}", f"{kind} · {fmt}") for kind, fmts in FORMATS.items() for fmt in fmts]


class RulesForm(forms.Form):
    task = forms.ChoiceField(help_text="The question whose posterior decides retirement.")
    posterior_threshold = forms.FloatField(min_value=0.5, max_value=1.0)
    min_classifications = forms.IntegerField(min_value=0)
    max_classifications = forms.IntegerField(min_value=1)
    box_risk_threshold = forms.FloatField(min_value=0.0, required=False,
                                          help_text="Leave empty to ignore the boxes.")
    machine_threshold = forms.FloatField(min_value=0.5, max_value=1.0, required=False,
                                         help_text="Leave empty so the machine never retires alone.")

    def __init__(self, *args, questions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task"].choices = [(q, q) for q in questions]


class ExportForm(forms.Form):
    choice = forms.ChoiceField(choices=EXPORT_CHOICES, label="What to export")


class UploadForm(forms.Form):
    name = forms.CharField(max_length=200, label="Subject set name")
    manifest = forms.FileField(help_text="CSV with columns id, file, and optionally ra, dec and metadata columns.")


class GoldForm(forms.Form):
    gold = forms.FileField(label="Gold answers CSV", help_text="Columns id, task, value.")


@login_required
def dashboard_index(request):
    return render(request, "zooapp/dashboard_index.html",
                  {"rows": [workflow_status(workflow=w) for w in workflow_list_for_staff(user=request.user)]})


@login_required
def dashboard(request, workflow_id: int, rules_form: RulesForm | None = None):
    workflow = get_workflow_for_user(request.user, workflow_id, staff=True)
    data = workflow_dashboard(workflow=workflow)
    form = rules_form or RulesForm(initial=workflow.retirement_rules, questions=data["questions"])
    config = {"countsUrl": reverse("dashboard-counts", args=[workflow.pk]), "pollSeconds": 5,
              "downloadUrl": reverse("dashboard-export-download", args=[0])}
    return render(request, "zooapp/dashboard.html", {"workflow": workflow, **data, "rules_form": form,
                                                     "export_form": ExportForm(), "config": config},
                  status=400 if rules_form else 200)


@login_required
@require_GET
def dashboard_counts(request, workflow_id: int):
    workflow = get_workflow_for_user(request.user, workflow_id, staff=True)
    return JsonResponse(workflow_live_counts(workflow=workflow))


@login_required
@require_POST
def dashboard_rules(request, workflow_id: int):
    workflow = get_workflow_for_user(request.user, workflow_id, staff=True)
    form = RulesForm(request.POST, questions=retirement_questions(workflow=workflow))
    if form.is_valid():
        try:
            workflow_rules_update(workflow=workflow, user=request.user, rules=form.cleaned_data)
        except RulesRejected as exc:
            form.add_error(None, str(exc))
    if not form.is_valid():
        return dashboard(request, workflow_id, rules_form=form)
    messages.success(request, "Retirement rules saved. Re-apply them to change subjects already classified.")
    return redirect(reverse("dashboard", args=[workflow.pk]) + "#rules")


@login_required
@require_POST
def dashboard_reapply(request, workflow_id: int):
    workflow = get_workflow_for_user(request.user, workflow_id, staff=True)
    changed = workflow_rules_reapply(workflow_id=workflow.pk)
    messages.success(request, f"Rules re-applied: {changed['retired']} subjects retired, "
                              f"{changed['unretired']} un-retired.")
    return redirect(reverse("dashboard", args=[workflow.pk]) + "#rules")


@login_required
@require_POST
def dashboard_export(request, workflow_id: int):
    workflow = get_workflow_for_user(request.user, workflow_id, staff=True)
    form = ExportForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed exports.")
    else:
        kind, fmt = form.cleaned_data["choice"].split(":")
        try:
            export_start(workflow=workflow, kind=kind, fmt=fmt, user=request.user)
            messages.success(request, f"Export started: {kind} as {fmt}. It appears below when ready.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return redirect(reverse("dashboard", args=[workflow.pk]) + "#exports")


@login_required
@require_GET
def export_download(request, export_id: int):
    export = get_export_for_user(request.user, export_id)
    try:
        path = export_file_path(export=export)
    except ApplicationError as exc:
        return JsonResponse({"detail": exc.message}, status=exc.status_code)
    return FileResponse(path.open("rb"), as_attachment=True, filename=download_name(export))


@login_required
def dashboard_subjects(request, workflow_id: int):
    workflow = get_workflow_for_user(request.user, workflow_id, staff=True)
    form, gold_form, report = UploadForm(request.POST or None, request.FILES or None), GoldForm(), None
    if request.method == "POST" and form.is_valid():
        try:
            report = subject_set_upload(workflow=workflow, name=form.cleaned_data["name"],
                                        manifest=form.cleaned_data["manifest"], images=request.FILES.getlist("images"))
        except ApplicationError as exc:
            form.add_error(None, exc.message)
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "zooapp/admin_subjects.html", {"workflow": workflow, "form": form, "gold_form": gold_form,
                                                          "report": report}, status=status)


@login_required
@require_POST
def dashboard_gold(request, workflow_id: int):
    workflow = get_workflow_for_user(request.user, workflow_id, staff=True)
    form = GoldForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            n = gold_answers_upload(workflow=workflow, upload=form.cleaned_data["gold"])
            messages.success(request, f"{n} gold answers stored.")
        except ApplicationError as exc:
            messages.error(request, f"No gold answers stored: {exc.message}")
    else:
        messages.error(request, "Choose a CSV file with columns id, task, value.")
    return redirect("dashboard-subjects", workflow.pk)
