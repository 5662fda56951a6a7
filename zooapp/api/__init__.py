"""REST API: thin classes that check access, validate, call one service and serialise."""
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from zooapp.errors import ApplicationError


def exception_handler(exc, context):
    """Every error body has a `detail` string a person can act on.

    A service's ``ApplicationError`` becomes its own status with its message, so views need no try/except.
    """
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message}, status=exc.status_code)
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


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than ``ZOOLOOP_MAX_JSON_DEPTH`` with a 400.

    Python's decoder recurses once per level, so a body of a few thousand brackets would end in a
    RecursionError (a 500), and a merely deep one would reach code that recurses again.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.ZOOLOOP_MAX_JSON_DEPTH
        try:
            data = super().parse(stream, media_type, parser_context)
            deep = not _depth_within(data, limit)
        except RecursionError:
            deep = True
        if deep:
            raise ParseError(f"JSON parse error - the body is nested more than {limit} levels deep.")
        return data


def _depth_within(data, limit: int) -> bool:
    # Iterative, so that checking a deep body cannot itself overflow the stack.
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return True
