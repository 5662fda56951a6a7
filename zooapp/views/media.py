"""Subject images under MEDIA_URL, read through the storage backend (never Django's development view)."""
from __future__ import annotations

import mimetypes

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_safe


@require_safe
def media(request, path: str):
    """Stream one stored file; 404 for a missing one or a path that tries to leave the storage."""
    try:
        exists = default_storage.exists(path)
    except (SuspiciousFileOperation, ValueError):
        exists = False
    if not exists:
        raise Http404("no such file")
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type)
    # An uploaded file is data: even if it were HTML or SVG, it must not run as part of this site.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "public, max-age=86400"
    return response
