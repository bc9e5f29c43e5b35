"""Submission rate limits, per user and per client address (CHAINSCAN_SUBMIT_RATE).

A fixed-window counter in Django's cache: Redis in production (CACHE_URL), so
every web process shares it; process memory on a laptop.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from .clients import client_ip


def _keys(request: HttpRequest, window: int) -> list[str]:
    bucket = int(time.time() // window)
    keys = [f"rl:ip:{client_ip(request) or '?'}:{bucket}"]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        keys.append(f"rl:user:{user.pk}:{bucket}")
    return keys


def check(request: HttpRequest, *, cost: int = 1) -> str | None:
    """Count ``cost`` submissions; return a message if over the limit, else ``None``."""
    limit, window = settings.CHAINSCAN_SUBMIT_RATE
    if not limit:
        return None
    over = False
    for key in _keys(request, window):
        cache.add(key, 0, timeout=window + 1)
        try:
            count = cache.incr(key, cost)
        except ValueError:  # expired between add and incr
            cache.set(key, cost, timeout=window + 1)
            count = cost
        over = over or count > limit
    if over:
        unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(window, f"{window} s")
        return (
            f"Too many scans requested: the limit is {limit} per {unit}. "
            "Wait a little and submit again."
        )
    return None
