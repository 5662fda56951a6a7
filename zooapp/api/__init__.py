"""REST API: thin classes that check access, validate, call one service and serialise."""
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """Every error body has a `detail` string a person can act on."""
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
