"""Accounts: the answer to a throttled sign-in, and each user's own API tokens.

The token page lets a signed-in user create and revoke their own tokens
(never anyone else's: only superusers make tokens for others, in the admin).
A new token's secret is shown once, in the page that answers the POST, with
no-store caching; it never travels in a redirect or the messages cookie.

Sign-in throttling is django-axes (a maintained library) with its cache
handler: failures are counted per account and per client address in Django's
cache, which is Redis in production (CACHE_URL) so every web process shares
the count. The client address is ``scans.clients.client_ip``, so the same
proxy rules as the rate limits apply.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from axes.helpers import get_cool_off
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from .forms import ApiTokenCreateForm, ApiTokenRevokeForm
from .models import ApiToken


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


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """The signed-in user's API tokens: list, create (secret shown once), revoke."""
    owner: Any = request.user  # login_required: a real user
    form = ApiTokenCreateForm()
    if request.method == "POST" and request.POST.get("action") == "revoke":
        revoke = ApiTokenRevokeForm(request.POST)
        if not revoke.is_valid():
            raise Http404("no such token")
        deleted, _ = ApiToken.objects.filter(pk=revoke.cleaned_data["token"], user=owner).delete()
        if not deleted:
            raise Http404("no such token")  # someone else's looks like a missing one
        return redirect("tokens")
    created = None
    if request.method == "POST":
        form = ApiTokenCreateForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data["expires_in_days"]
            created, _ = ApiToken.issue(
                user=owner,
                name=form.cleaned_data["name"],
                expires_at=timezone.now() + dt.timedelta(days=days) if days else None,
                read_only=form.cleaned_data["read_only"],
            )
            form = ApiTokenCreateForm()
    response = render(
        request,
        "scans/tokens.html",
        {
            "form": form,
            "created": created,
            "tokens": ApiToken.objects.filter(user=owner).order_by("-created_at"),
        },
        status=400 if form.errors else 200,
    )
    if created is not None:
        add_never_cache_headers(response)
    return response
