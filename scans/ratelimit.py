"""Submission limits: a rate per user and per client address (CHAINSCAN_SUBMIT_RATE),
and a cap on the scans a team has unfinished (CHAINSCAN_TEAM_MAX_UNFINISHED).

A fixed-window counter in Django's cache: Redis in production (CACHE_URL), so
every web process shares it; process memory on a laptop.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest

from .access import _team_scope
from .clients import client_ip
from .models import Scan


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


def team_check(request: HttpRequest, *, cost: int = 1) -> str | None:
    """A message if ``cost`` more scans would take the requester's team past its cap.

    A team (the user and everyone sharing a group with them; everyone not
    signed in counts as one) may have CHAINSCAN_TEAM_MAX_UNFINISHED scans
    queued or running: one team cannot fill the queue, nor the disk faster
    than the workers drain it. Checked before the scans are created, without
    a lock: simultaneous submissions may pass it by a few, never by a burst.
    """
    limit = settings.CHAINSCAN_TEAM_MAX_UNFINISHED
    if not limit:
        return None
    user = request.user
    scope = _team_scope(user) if user.is_authenticated else Q(requested_by__isnull=True)
    unfinished = Scan.objects.filter(
        scope, status__in=[Scan.Status.QUEUED, Scan.Status.RUNNING]
    ).count()
    if unfinished + cost <= limit:
        return None
    return (
        f"Your team has {unfinished} scans queued or running; the limit is {limit}. "
        "Wait for some to finish and submit again."
    )
