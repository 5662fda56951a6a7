"""A small fixed-window rate limit on the cache, for HTML forms (the API uses DRF's throttles)."""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache


def _limit(rate: str) -> tuple[int, int]:
    count, period = rate.split("/")
    return int(count), {"sec": 1, "min": 60, "hour": 3600, "day": 86400}[period]


def signup_allowed(request) -> bool:
    count, seconds = _limit(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["signup"])
    key = f"signup:{request.META.get('REMOTE_ADDR', '')}"
    cache.add(key, 0, timeout=seconds)
    return cache.incr(key) <= count
