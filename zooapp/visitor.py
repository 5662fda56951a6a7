"""The signed cookie of a visitor who has not written anything yet (reads create no rows).

It carries what rows would otherwise hold: the anonymous token that the visitor's first
write gives its new `Volunteer` (so retries racing on that first write are one volunteer,
not one each), the subject on screen per workflow (so a reload resumes it), and the
subjects they skipped per workflow (so a skipped galaxy does not come back, as a
`SubjectView` keeps it away for a volunteer with a row; the last `SKIP_MEMORY` are kept).
Signed, so a client can neither pick another visitor's token nor forge its screen; a
crawler that drops cookies simply gets neither.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from django.conf import settings

COOKIE = "zooloop_visitor"
SALT = "zooloop.visitor"
SKIP_MEMORY = 50  # skipped subjects remembered per workflow: bounds the cookie (about 8 bytes each)


@dataclass(frozen=True)
class Visitor:
    token: uuid.UUID
    screen: dict[str, int] = field(default_factory=dict)  # workflow id (str, as JSON keys are) -> subject id
    skipped: dict[str, list[int]] = field(default_factory=dict)  # workflow id -> subject ids, oldest first


def visitor_read(request) -> Visitor | None:
    """The visitor's cookie, or None when absent, tampered with or malformed."""
    raw = request.get_signed_cookie(COOKIE, default=None, salt=SALT, max_age=settings.SESSION_COOKIE_AGE)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        screen = {str(k): int(v) for k, v in dict(data.get("screen", {})).items()}
        skipped = {str(k): [int(i) for i in v][-SKIP_MEMORY:] for k, v in dict(data.get("skipped", {})).items()}
        return Visitor(token=uuid.UUID(str(data["token"])), screen=screen, skipped=skipped)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def visitor_on_screen(request, *, workflow_id: int) -> int | None:
    visitor = visitor_read(request)
    return visitor.screen.get(str(workflow_id)) if visitor else None


def visitor_skipped(request, *, workflow_id: int, also: int | None = None) -> list[int]:
    """The subjects the visitor skipped in this workflow, with ``also`` (one they are skipping now)."""
    visitor = visitor_read(request)
    skipped = list(visitor.skipped.get(str(workflow_id), [])) if visitor else []
    return skipped + [also] if also is not None and also not in skipped else skipped


def visitor_remember(request, response, *, workflow_id: int | None = None, subject_id: int | None = None,
                     skipped_id: int | None = None) -> None:
    """Set the cookie: the visitor's token (a new one if none yet) and, if given, the subject on screen
    and one more subject they skipped."""
    visitor = visitor_read(request) or Visitor(token=uuid.uuid4())
    screen, skipped = dict(visitor.screen), dict(visitor.skipped)
    if workflow_id is not None and subject_id is not None:
        screen[str(workflow_id)] = subject_id
    if workflow_id is not None and skipped_id is not None:
        skipped[str(workflow_id)] = visitor_skipped(request, workflow_id=workflow_id, also=skipped_id)[-SKIP_MEMORY:]
    body = {"token": str(visitor.token), "screen": screen, **({"skipped": skipped} if skipped else {})}
    value = json.dumps(body, separators=(",", ":"))
    response.set_signed_cookie(COOKIE, value, salt=SALT, max_age=settings.SESSION_COOKIE_AGE, httponly=True,
                               samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)


def visitor_forget(response) -> None:
    """Drop the cookie once the visitor has a volunteer row: the session identifies them from then on."""
    response.delete_cookie(COOKIE, samesite="Lax")
