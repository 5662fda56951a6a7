"""Rate limits: a small fixed-window one on the cache for HTML forms, and the API's classification throttle."""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.throttling import ScopedRateThrottle

log = logging.getLogger(__name__)


def _limit(rate: str) -> tuple[int, int]:
    count, period = rate.split("/")
    return int(count), {"sec": 1, "min": 60, "hour": 3600, "day": 86400}[period]


def signup_allowed(request) -> bool:
    count, seconds = _limit(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["signup"])
    key = f"signup:{request.META.get('REMOTE_ADDR', '')}"
    cache.add(key, 0, timeout=seconds)
    return cache.incr(key) <= count


class ClassifyRateThrottle(ScopedRateThrottle):
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
