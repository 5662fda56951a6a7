"""HTML pages: function views that check access, call one service or selector, and render."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from zooapp.models import Workflow
from zooapp.selection import queue_resume
from zooapp.serializers import subject_payload
from zooapp.services.dashboard import volunteer_stats
from zooapp.services.volunteers import favourite_ids, volunteer_claim_anonymous, volunteer_for_session
from zooapp.throttle import signup_allowed

FIELD_GUIDE = [
    {"title": "Smooth", "text": "Fuzzy and rounded, fading evenly from a bright centre; no disk, arms or bar.",
     "image": "img/fieldguide/smooth.png"},
    {"title": "Featured", "text": "A disk, spiral arms, a bar, a ring or clumps: anything more than a smooth blob.",
     "image": "img/fieldguide/featured.png"},
    {"title": "Edge-on disk", "text": "A disk seen from the side: a thin, bright needle, often with a bulge.",
     "image": "img/fieldguide/edge_on.png"},
    {"title": "Clumps", "text": "Compact bright knots of young stars inside the disk, away from the centre.",
     "image": "img/fieldguide/clumps.png"},
    {"title": "Star or artifact", "text": "A point of light with spikes, a satellite trail or an image defect.",
     "image": "img/fieldguide/artifact.png"},
]


def home(request):
    workflows = Workflow.objects.filter(active=True).select_related("project").order_by("id")
    return render(request, "zooapp/home.html", {"workflows": workflows})


def classify(request, workflow_id: int):
    workflow = get_object_or_404(Workflow.objects.select_related("project"), pk=workflow_id, active=True)
    version = workflow.current_version
    volunteer = volunteer_for_session(user=request.user, session=request.session)
    result = queue_resume(workflow=workflow, volunteer=volunteer)
    config = {
        "workflow": {"id": workflow.pk, "name": workflow.name, "project": workflow.project.name,
                     "version": version.pk, "tree": version.tree},
        "subject": subject_payload(result.subjects[0], favourites=favourite_ids(volunteer=volunteer))
        if result.subjects else None,
        "finished": result.finished, "message": result.message,
        "urls": {"classifications": reverse("api-classifications"),
                 "queue": reverse("api-workflow-queue", args=[workflow.pk]),
                 "feedback": reverse("api-classification-feedback", args=[0]).replace("/0/", "/{id}/"),
                 "favourite": reverse("api-subject-favourite", args=[0]).replace("/0/", "/{id}/"),
                 "stats": reverse("me")},
        "user": {"authenticated": request.user.is_authenticated, "username": request.user.get_username(),
                 "n_classifications": volunteer.classifications.count()},
        "field_guide": [{**g, "image": f"/static/{g['image']}"} for g in FIELD_GUIDE],
    }
    return render(request, "zooapp/classify.html", {"config": config, "workflow": workflow})


def me(request):
    volunteer = volunteer_for_session(user=request.user, session=request.session)
    return render(request, "zooapp/me.html", {"stats": volunteer_stats(volunteer=volunteer)})


@require_http_methods(["GET", "POST"])
def signup(request):
    form = UserCreationForm(request.POST or None)
    if request.method == "POST":
        if not signup_allowed(request):
            messages.error(request, "Too many sign-ups from your address; please try again in an hour.")
            return render(request, "registration/signup.html", {"form": form}, status=429)
        if form.is_valid():
            user = form.save()
            volunteer_claim_anonymous(user=user, session=request.session)
            login(request, user)
            messages.success(request, "Welcome! Your earlier classifications are now on your account.")
            return redirect("home")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


class ClaimingLoginView(LoginView):
    """Log in, carrying over the anonymous classifications made in this browser."""

    def form_valid(self, form):
        volunteer_claim_anonymous(user=form.get_user(), session=self.request.session)
        return super().form_valid(form)
