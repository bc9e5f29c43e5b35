"""Accounts: the answer to a throttled sign-in, and each user's own API tokens.

Sign-in throttling is django-axes (a maintained library) with its cache
handler: failures are counted per account and per client address in Django's
cache, which is Redis in production (CACHE_URL) so every web process shares
the count. The client address is ``scans.clients.client_ip``, so the same
proxy rules as the rate limits apply.
"""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a page (429 + Retry-After) saying when to try again."""
    cool_off = get_cool_off(request)
    seconds = max(1, math.ceil(cool_off.total_seconds())) if cool_off else 0
    minutes = max(1, math.ceil(seconds / 60))
    response = render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes, "seconds": seconds},
        status=429,
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
