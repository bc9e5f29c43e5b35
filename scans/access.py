"""Who may see what. One helper per object kind, so permission bugs live here.

Rules (README "Access"):
- With CHAINSCAN_REQUIRE_LOGIN (default) the dashboard, host pages, diffs and
  the API need a signed-in user (API: a per-user token).
- A report's permalink is viewable by anyone holding it, unless
  CHAINSCAN_PUBLIC_PERMALINKS is false: that is how teammates and incident
  channels share a report. The token carries 256 random bits.
- Unknown tokens are 404 without saying whether anything exists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from .models import Host, Scan

View = Callable[..., HttpResponse]


def dashboard_allowed(request: HttpRequest) -> bool:
    return not settings.CHAINSCAN_REQUIRE_LOGIN or request.user.is_authenticated


def dashboard_view(view: View) -> View:
    """Decorator for pages that need a signed-in user when login is required."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not dashboard_allowed(request):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def scan_for_permalink(request: HttpRequest, token: str) -> Scan:
    """The scan behind a permalink, or 404 (also when the viewer may not see it)."""
    if not settings.CHAINSCAN_PUBLIC_PERMALINKS and not dashboard_allowed(request):
        raise Http404("no such report")
    if not 20 <= len(token) <= 64:
        raise Http404("no such report")
    try:
        return Scan.objects.select_related("host").get(token=token)
    except Scan.DoesNotExist:
        raise Http404("no such report") from None


def host_for_dashboard(hostname: str, port: int) -> Host:
    try:
        return Host.objects.get(hostname=hostname, port=port)
    except Host.DoesNotExist:
        raise Http404("no such host") from None
