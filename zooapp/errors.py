"""Errors a service raises when a request cannot be carried out.

A service raises a subclass of ``ApplicationError`` with a message a person can act on,
having changed nothing. The API's exception handler (``zooapp.api.exception_handler``)
turns any of them into ``{"detail": message}`` with the class's ``status_code``, so views
need no try/except; HTML views catch them to show the message on the page.
"""
from __future__ import annotations


class ApplicationError(Exception):
    """A request the application refuses; ``message`` says why and what to do instead."""

    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationFailed(ApplicationError, ValueError):
    """Bad input (400). Also a ValueError, so callers that catch ValueError keep working."""

    status_code = 400


class NotFound(ApplicationError):
    """The thing asked for does not exist, or not yet (404)."""

    status_code = 404


class Conflict(ApplicationError):
    """The request clashes with the stored state (409)."""

    status_code = 409
