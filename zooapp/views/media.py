"""Subject images under MEDIA_URL, read through the storage backend (never Django's development view)."""
from __future__ import annotations

import mimetypes

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_safe

from zooapp.access import media_scope_for_user


@require_safe
def media(request, path: str):
    """Stream one stored file to a user who may read it (``media_scope_for_user``); 404 for a missing one, a
    path that tries to leave the storage, or a file of a project the user may not read."""
    try:
        exists = default_storage.exists(path)
    except (SuspiciousFileOperation, ValueError):
        exists = False
    if not exists:  # checked first, so a made-up path costs a stat, not a database query
        raise Http404("no such file")
    scope = media_scope_for_user(request.user, path)
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type)
    # An uploaded file is data: even if it were HTML or SVG, it must not run as part of this site.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = f"{scope}, max-age=86400"
    return response
