"""Who may see what. One helper per object kind, so permission bugs live here.

Rules:
- With CHAINSCAN_REQUIRE_LOGIN (default) the dashboard, host pages, diffs and
  the API need a signed-in user (API: a per-user token, or a browser session
  for reads).
- A team is a Django auth group: a signed-in user browses the scans that they
  or anyone sharing a group with them requested (alice and bob in "ops" see
  each other's history; charlie, in no group of theirs, sees none of it).
  Superusers browse everything. With login not required the dashboard is
  open, so every scan is browsable by everyone.
- A report's permalink is viewable by anyone holding it, unless
  CHAINSCAN_PUBLIC_PERMALINKS is false, which limits it to signed-in users:
  that is how teammates and incident channels share a report. The token
  carries 256 random bits. (With login not required the dashboard lists every
  token anyway, so permalinks stay open there.)
- Unknown tokens and hosts are 404 without saying whether anything exists:
  an invisible scan or host looks exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from .models import CheckResult, PrunedScan, Scan, Watch

View = Callable[..., HttpResponse]

# Permalink tokens are 43 characters (secrets.token_urlsafe(32)); anything far
# off is rejected before it reaches the database.
TOKEN_LENGTHS = range(20, 65)


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


# --- Scans by permalink ---------------------------------------------------------


class ScanPruned(Http404):
    """The permalink's scan was pruned as a routine rescan (``CHAINSCAN_KEEP_UNCHANGED_DAYS``).

    A 404 wherever nothing handles it; the middleware and the API answer 410
    with the host whose history holds the scans around it.
    """

    def __init__(self, pruned: PrunedScan) -> None:
        super().__init__("this report was pruned")
        self.pruned = pruned


def scan_for_permalink(request: HttpRequest, token: str) -> Scan:
    """The scan behind a permalink, or 404 (also when the viewer may not see it).

    Opening a permalink marks the scan as viewed (once): a scan someone read is
    never pruned. A pruned scan raises ``ScanPruned``.
    """
    if not settings.CHAINSCAN_PUBLIC_PERMALINKS and not dashboard_allowed(request):
        raise Http404("no such report")
    if len(token) not in TOKEN_LENGTHS:
        raise Http404("no such report")
    try:
        scan = Scan.objects.select_related("host").get(token=token)
    except Scan.DoesNotExist:
        pruned = PrunedScan.objects.select_related("host").filter(token=token).first()
        if pruned is not None:
            raise ScanPruned(pruned) from None
        raise Http404("no such report") from None
    if scan.viewed_at is None:
        scan.viewed_at = timezone.now()
        Scan.objects.filter(pk=scan.pk, viewed_at__isnull=True).update(viewed_at=scan.viewed_at)
    return scan


def check_for_permalink(request: HttpRequest, token: str) -> CheckResult:
    """A stored "Check a chain" result, under the same rule as a report's permalink."""
    if not settings.CHAINSCAN_PUBLIC_PERMALINKS and not dashboard_allowed(request):
        raise Http404("no such check")
    if len(token) not in TOKEN_LENGTHS:
        raise Http404("no such check")
    try:
        return CheckResult.objects.get(token=token)
    except CheckResult.DoesNotExist:
        raise Http404("no such check") from None


# --- Scans by browsing (host history, "the scan before") ---------------------------


def _team_scope(user: Any, field: str = "requested_by") -> Q:
    """Rows whose ``field`` (a user) is ``user`` or anyone sharing a group with them.

    One subquery, so a history page stays one SQL statement however big the team.
    """
    User = get_user_model()
    teammates = User.objects.filter(Q(pk=user.pk) | Q(groups__in=user.groups.values("pk"))).values(
        "pk"
    )
    return Q(**{f"{field}__in": teammates})


def browse_scope(user: Any, field: str = "requested_by") -> Q | None:
    """The scans ``user`` may browse, as a filter; ``None`` means all of them.

    ``field``: the user column of the rows filtered (watches: ``created_by``).
    """
    if not settings.CHAINSCAN_REQUIRE_LOGIN:
        return None
    if user is None or not user.is_authenticated:
        return Q(pk__in=[])
    if user.is_superuser:
        return None
    return _team_scope(user, field)


def record_scope(requested_by_id: int | None) -> Q:
    """The scans a newly finished scan is compared with (the requester's team).

    Decided when the scan is recorded, so a host scanned by two teams gets two
    independent change histories, each matching what that team browses.
    """
    if not settings.CHAINSCAN_REQUIRE_LOGIN:
        return Q()
    if requested_by_id is None:
        return Q(requested_by__isnull=True)
    user = get_user_model().objects.filter(pk=requested_by_id).first()
    return _team_scope(user) if user is not None else Q(requested_by__isnull=True)


def browsable_scans(request: HttpRequest) -> QuerySet[Scan]:
    scope = browse_scope(request.user)
    scans = Scan.objects.all()
    return scans if scope is None else scans.filter(scope)


def can_browse(request: HttpRequest, scan: Scan) -> bool:
    """May the viewer reach ``scan`` by browsing (not only by holding its link)?"""
    scope = browse_scope(request.user)
    return scope is None or Scan.objects.filter(scope, pk=scan.pk).exists()


# --- Watches ------------------------------------------------------------------


def watch_scope(user: Any) -> Q | None:
    """The watches ``user`` sees and manages, as a filter; ``None`` means all.

    Owned by a team exactly as scans are: the watch's creator and everyone
    sharing a group with them; superusers see every watch, and with login not
    required the dashboard is open, so every watch is everyone's.
    """
    return browse_scope(user, "created_by")


def team_watches(user: Any) -> QuerySet[Watch]:
    """Every watch ``user`` may see, change or delete (the one access helper for watches)."""
    scope = watch_scope(user)
    watches = Watch.objects.all()
    return watches if scope is None else watches.filter(scope)


def watch_for_user(user: Any, uid: str) -> Watch:
    """The watch with public id ``uid`` if ``user`` may manage it, else 404 (the same
    404 as for an id that does not exist)."""
    if not isinstance(uid, str) or not 2 <= len(uid) <= 16:
        raise Http404("no such watch")
    try:
        return team_watches(user).select_related("host").get(uid=uid)
    except Watch.DoesNotExist:
        raise Http404("no such watch") from None
