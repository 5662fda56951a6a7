"""Who is classifying: signed-in people, anonymous visitors (by session token) and machines."""
from __future__ import annotations

import uuid

from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.utils import timezone

from zooapp.models import Classification, Favourite, Volunteer

SESSION_KEY = "zooloop_volunteer_token"


def volunteer_lookup(*, user, session) -> Volunteer | None:
    """The volunteer behind a read, or None for a visitor who has never written anything.

    Reads never create rows: a crawler without cookies must grow neither the volunteer
    table nor the session table.
    """
    if user is not None and user.is_authenticated:
        volunteer, _ = Volunteer.objects.get_or_create(user=user, defaults={"name": user.get_username()})
        return volunteer
    token = session.get(SESSION_KEY)
    return Volunteer.objects.filter(anonymous_token=token).first() if token else None


def volunteer_for_session(*, user, session, token: uuid.UUID | None = None) -> Volunteer:
    """The volunteer behind a write: the user's own, or an anonymous one kept in the session (made now if new).

    ``token`` is the one a read handed the visitor (``zooapp.visitor``): requests racing on a
    first write carry the same token and so resolve to one volunteer, which get_or_create
    makes once under the unique constraint; without it each would make its own.
    """
    found = volunteer_lookup(user=user, session=session)
    if found is not None:
        return found
    volunteer, _ = Volunteer.objects.get_or_create(anonymous_token=token or uuid.uuid4(), user=None)
    session[SESSION_KEY] = str(volunteer.anonymous_token)
    return volunteer


@transaction.atomic
def volunteer_claim_anonymous(*, user, session) -> Volunteer:
    """Carry an anonymous visitor's classifications over to the account they just made or logged into."""
    token = session.pop(SESSION_KEY, None)
    anonymous = Volunteer.objects.filter(anonymous_token=token, user__isnull=True).first() if token else None
    existing = Volunteer.objects.filter(user=user).first()
    if anonymous is None:
        return existing or volunteer_for_session(user=user, session=session)
    if existing is None:
        anonymous.user = user
        anonymous.name = user.get_username()
        anonymous.anonymous_token = None
        anonymous.save(update_fields=["user", "name", "anonymous_token"])
        return anonymous
    _move_work(source=anonymous, target=existing)
    return existing


def _move_work(*, source: Volunteer, target: Volunteer) -> None:
    # A subject both identities classified keeps the account's classification; the rest move over.
    seen = set(Classification.objects.filter(volunteer=target).values_list("subject_id", flat=True))
    Classification.objects.filter(volunteer=source).exclude(subject_id__in=seen).update(volunteer=target)
    for fav in Favourite.objects.filter(volunteer=source):
        try:
            with transaction.atomic():
                Favourite.objects.filter(pk=fav.pk).update(volunteer=target)
        except IntegrityError:
            fav.delete()


def favourite_toggle(*, volunteer: Volunteer, subject_id: int) -> bool:
    deleted, _ = Favourite.objects.filter(volunteer=volunteer, subject_id=subject_id).delete()
    if deleted:
        return False
    Favourite.objects.get_or_create(volunteer=volunteer, subject_id=subject_id)
    return True


def favourite_ids(*, volunteer: Volunteer) -> set[int]:
    return set(volunteer.favourites.values_list("subject_id", flat=True))


def sessions_clear_expired() -> int:
    """Delete expired sessions (Django keeps them until someone does); returns how many went."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
