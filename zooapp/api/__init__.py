"""REST API: thin classes that check access, validate, call one service and serialise."""
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """Every error body has a `detail` string a person can act on."""
    if isinstance(exc, RequestDataTooBig):  # Django's own answer would be an HTML 400 page
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"detail": f"The request body is larger than the limit of {limit} bytes."},
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": _flatten(response.data), "errors": response.data}
    elif response is not None and isinstance(response.data, list):
        response.data = {"detail": _flatten(response.data)}
    return response


def _flatten(errors) -> str:
    if isinstance(errors, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in errors.items())
    if isinstance(errors, list):
        return " ".join(_flatten(e) for e in errors)
    return str(errors)


class AnonymousSessionCsrfMixin:
    """CSRF checks for anonymous volunteers' writes too.

    DRF checks CSRF only for signed-in session users, but an anonymous volunteer is
    also identified by a session cookie, so a forged form could classify in their
    name. Token-authenticated clients send no cookie and are not checked.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS and request.auth is None and not request.user.is_authenticated:
            SessionAuthentication().enforce_csrf(request)
