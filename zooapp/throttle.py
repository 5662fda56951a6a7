"""Rate limits: who a client is (behind our own proxies only), fixed windows on the cache, DRF throttles.

Every limit keys on :func:`client_address`, never on the raw X-Forwarded-For header: a client can
write anything there, so only the entries our own ``ZOOLOOP_TRUSTED_PROXIES`` appended count.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

log = logging.getLogger(__name__)
LOGIN_THROTTLED = "Too many sign-in attempts; please wait a while before trying again."


def client_address(request) -> str:
    """The connecting client's address, as seen by the outermost proxy we run.

    Each of our N trusted proxies appends the address it saw to X-Forwarded-For, so the N-th
    entry from the right is the client's; entries left of it are the client's own claims.
    """
    request = getattr(request, "_request", request)  # a DRF request wraps Django's
    remote = request.META.get("REMOTE_ADDR", "")
    n = settings.ZOOLOOP_TRUSTED_PROXIES
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if n <= 0 or not forwarded:
        return remote
    return forwarded[-min(n, len(forwarded))]


def _limit(rate: str) -> tuple[int, int]:
    count, period = rate.split("/")
    return int(count), {"sec": 1, "min": 60, "hour": 3600, "day": 86400}[period]


def _rate(scope: str) -> str:
    return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]


def window_allows(key: str, rate: str) -> bool:
    """Count one hit on ``key`` in a fixed window; False once the window holds more than the rate allows."""
    count, seconds = _limit(rate)
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key) <= count
    except ValueError:  # the window expired between add and incr: this is its first hit
        cache.add(key, 1, timeout=seconds)
        return True


def signup_allowed(request) -> bool:
    return window_allows(f"signup:{client_address(request)}", _rate("signup"))


def login_allowed(request, username: str) -> bool:
    """One sign-in attempt, counted per address and per user name (any address); False: answer 429.

    The one home for both the login page and ``/api/token/``, so they share the counters.
    """
    by_address = window_allows(f"login:addr:{client_address(request)}", _rate("login"))
    by_user = window_allows(f"login:user:{username.strip().lower()[:150]}", _rate("login_user"))
    return by_address and by_user


class ClientAddressMixin:
    """DRF throttles identify anonymous clients by :func:`client_address`."""

    def get_ident(self, request) -> str:
        return client_address(request)


class ClassifyRateThrottle(ClientAddressMixin, ScopedRateThrottle):
    """DRF's scoped throttle, open when its cache is unreachable.

    A classification is the one write that must not be lost: if the shared cache (Redis)
    is down, volunteers keep classifying unthrottled for a while rather than getting 500s.
    """

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError:
            log.warning("rate limit not applied: the cache is unreachable", exc_info=True)
            return True


class FeedbackRateThrottle(ClientAddressMixin, SimpleRateThrottle):
    """Gold feedback per client address (signed in or not): one address cannot harvest many gold answers."""

    scope = "feedback"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TagRateThrottle(ClientAddressMixin, SimpleRateThrottle):
    """Tag writes per signed-in user, else per client address; reads are not counted."""

    scope = "tag"

    def get_cache_key(self, request, view) -> str | None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        ident = f"user-{request.user.pk}" if request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class QuestionRateThrottle(TagRateThrottle):
    """Volunteers' answers to a project's extra questions (after Done), counted like tag writes but apart
    from them: a volunteer answers about most galaxies they classify, and tags only a few."""

    scope = "question"


class LoginRateThrottle(ClientAddressMixin, SimpleRateThrottle):
    """``/api/token/``'s throttle: :func:`login_allowed` on the posted user name."""

    scope = "login"

    def allow_request(self, request, view) -> bool:
        username = request.data.get("username", "") if hasattr(request.data, "get") else ""
        return login_allowed(request, str(username))

    def wait(self) -> float:
        return float(_limit(_rate("login_user"))[1])
