"""HTML pages: function views that check access, call one service or selector, and render."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from zooapp.selection import queue_resume
from zooapp.selectors import workflow_get_for_volunteer, workflow_list_for_volunteers
from zooapp.serializers import subject_payload
from zooapp.services.dashboard import volunteer_stats
from zooapp.services.gold import help_examples
from zooapp.services.tags import tag_names_popular
from zooapp.services.volunteers import favourite_ids, volunteer_claim_anonymous, volunteer_lookup
from zooapp.throttle import LOGIN_THROTTLED, login_allowed, signup_allowed
from zooapp.views.tags import tag_urls
from zooapp.visitor import visitor_on_screen, visitor_remember, visitor_skipped

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


def favicon(request):
    """Browsers and crawlers ask for /favicon.ico whatever the page says: send them to the static file."""
    return redirect(static("favicon.ico"), permanent=True)


def home(request):
    return render(request, "zooapp/home.html", {"workflows": workflow_list_for_volunteers()})


def classify(request, workflow_id: int):
    workflow = workflow_get_for_volunteer(workflow_id=workflow_id)
    version = workflow.current_version
    volunteer = volunteer_lookup(user=request.user, session=request.session)  # made on the first classification
    on_screen = visitor_on_screen(request, workflow_id=workflow.pk) if volunteer is None else None
    skipped = visitor_skipped(request, workflow_id=workflow.pk) if volunteer is None else ()
    result = queue_resume(workflow=workflow, volunteer=volunteer, on_screen=on_screen, exclude_ids=skipped)
    config = {
        "workflow": {"id": workflow.pk, "name": workflow.name, "project": workflow.project.name,
                     "version": version.pk, "tree": version.tree},
        "subject": subject_payload(result.subjects[0], favourites=favourite_ids(volunteer=volunteer)
                                   if volunteer else set()) if result.subjects else None,
        "finished": result.finished, "message": result.message,
        "urls": {"classifications": reverse("api-classifications"),
                 "queue": reverse("api-workflow-queue", args=[workflow.pk]),
                 "feedback": reverse("api-classification-feedback", args=[0]).replace("/0/", "/{id}/"),
                 "favourite": reverse("api-subject-favourite", args=[0]).replace("/0/", "/{id}/"),
                 "stats": reverse("me"), "tags": tag_urls(),
                 "questions": reverse("api-subject-questions", args=[0]).replace("/0/", "/{id}/")},
        "tag_suggestions": tag_names_popular(workflow_id=workflow.pk),
        "examples": help_examples(workflow=workflow),  # pictures from the project's own retired galaxies
        "user": {"authenticated": request.user.is_authenticated, "username": request.user.get_username(),
                 "n_classifications": volunteer.classifications.count() if volunteer else 0},
        "field_guide": [{**g, "image": f"/static/{g['image']}"} for g in FIELD_GUIDE],
    }
    response = render(request, "zooapp/classify.html", {"config": config, "workflow": workflow})
    if volunteer is None and result.subjects:  # a cookie, not a row, remembers what a reload shows again
        visitor_remember(request, response, workflow_id=workflow.pk, subject_id=result.subjects[0].pk)
    return response


def me(request):
    volunteer = volunteer_lookup(user=request.user, session=request.session)
    stats = volunteer_stats(volunteer=volunteer) if volunteer else {
        "volunteer": None, "n_classifications": 0, "n_retired_helped": 0, "favourites": [], "recent": []}
    return render(request, "zooapp/me.html", {"stats": stats})


def _safe_next(request) -> str:
    """Where sign-up returns to: the page the volunteer came from (a galaxy), never another site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure())
    return target if safe else ""


@require_http_methods(["GET", "POST"])
def signup(request):
    form = UserCreationForm(request.POST or None)
    context = {"form": form, "next": _safe_next(request)}
    if request.method == "POST":
        if not signup_allowed(request):
            messages.error(request, "Too many sign-ups from your address; please try again in an hour.")
            return render(request, "registration/signup.html", context, status=429)
        if form.is_valid():
            user = form.save()
            volunteer_claim_anonymous(user=user, session=request.session)
            login(request, user)
            messages.success(request, "Welcome! Your earlier classifications are now on your account.")
            return redirect(context["next"] or "home")
    return render(request, "registration/signup.html", context, status=400 if form.errors else 200)


class ClaimingLoginView(LoginView):
    """Log in, carrying over the anonymous classifications made in this browser; attempts are throttled."""

    def post(self, request, *args, **kwargs):
        if not login_allowed(request, request.POST.get("username", "")):
            messages.error(request, LOGIN_THROTTLED)
            response = self.render_to_response(self.get_context_data(form=self.get_form()))
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        volunteer_claim_anonymous(user=form.get_user(), session=self.request.session)
        return super().form_valid(form)
