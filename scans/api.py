"""The JSON API. Serialises the engine's report data classes, the same JSON as
``chainscan scan --json``, plus the scan's status and permalink.

Authentication: ``Authorization: Bearer <token>`` (a per-user token made in the
admin or with ``manage.py api_token``). A signed-in browser session may read
(GET) but not write: writes need a token, so no cross-site form can submit
scans on a user's behalf. Errors are ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.paginator import EmptyPage, Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import ratelimit, services
from .access import scan_for_permalink
from .engine.diff import diff_reports, diff_to_json
from .engine.policy import parse_ip
from .engine.targets import TargetError, parse_target
from .forms import MAX_PINNED
from .models import ApiToken, Host, Scan
from .reports import report_from_scan, scan_json, scans_with_report_data

MAX_BODY = 16 * 1024


def error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _token_user(request: HttpRequest) -> Any:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    row = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=ApiToken.hash_key(key.strip()), user__is_active=True)
        .first()
    )
    if row is None:
        return None
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    return row.user


def api_view(
    *, write: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Authenticate (token, or session for reads) and turn 404s into JSON."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = _token_user(request)
            if request.META.get("HTTP_AUTHORIZATION") and user is None:
                return error(401, "bad-token", "the API token is not valid")
            if user is not None:
                request.user = user
            elif write and settings.CHAINSCAN_REQUIRE_LOGIN:
                return error(401, "token-required", "send an API token: Authorization: Bearer …")
            request.api_authenticated = user is not None or request.user.is_authenticated  # type: ignore[attr-defined]
            try:
                return view(request, *args, **kwargs)
            except Http404:
                return error(404, "not-found", "no such resource")

        return wrapper

    return decorator


def _require_dashboard(request: HttpRequest) -> JsonResponse | None:
    if settings.CHAINSCAN_REQUIRE_LOGIN and not getattr(request, "api_authenticated", False):
        return error(401, "login-required", "send an API token: Authorization: Bearer …")
    return None


def _permalink(request: HttpRequest, scan: Scan) -> str:
    return request.build_absolute_uri(reverse("report", args=[scan.token]))


@api_view(write=True)
@require_http_methods(["POST"])
def scans_create(request: HttpRequest) -> HttpResponse:
    if len(request.body) > MAX_BODY:
        return error(413, "too-large", f"the request body is larger than {MAX_BODY} bytes")
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return error(400, "bad-json", "the body is not JSON")
    if not isinstance(data, dict):
        return error(400, "bad-request", 'send a JSON object such as {"host": "example.com"}')
    unknown = set(data) - {"host", "port", "ip"}
    if unknown:
        return error(400, "bad-request", f"unknown field(s): {', '.join(sorted(unknown))}")
    host = data.get("host")
    if not isinstance(host, str) or not host.strip():
        return error(400, "bad-host", "'host' must be a host name such as example.com")
    try:
        target = parse_target(host)
        port = data.get("port")
        if port is not None:
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                return error(400, "bad-port", "'port' must be a whole number from 1 to 65535")
            target = type(target)(host=target.host, port=port)
    except TargetError as exc:
        return error(400, "bad-host", str(exc))
    ips = data.get("ip") or []
    if isinstance(ips, str):
        ips = [ips]
    if not isinstance(ips, list) or len(ips) > MAX_PINNED:
        return error(400, "bad-ip", f"'ip' must be an address or a list of at most {MAX_PINNED}")
    pins = []
    for ip in ips:
        parsed = parse_ip(ip) if isinstance(ip, str) else None
        if parsed is None:
            return error(400, "bad-ip", f"{ip!r} is not an IP address")
        pins.append(str(parsed))
    limited = ratelimit.check(request)
    if limited is not None:
        return error(429, "rate-limited", limited)
    from .views import client_ip

    scan = services.scan_request(
        targets=[target], user=request.user, client_ip=client_ip(request), pin=pins
    )[0]
    return JsonResponse(
        {"token": scan.token, "url": _permalink(request, scan), "status": scan.status},
        status=202,
    )


@api_view()
@require_GET
def scans_detail(request: HttpRequest, token: str) -> HttpResponse:
    scan = scan_for_permalink(request, token)
    if scan.is_finished:
        scan = scans_with_report_data(Scan.objects.filter(pk=scan.pk)).get()
    body = scan_json(scan)
    body["url"] = _permalink(request, scan)
    return JsonResponse(body)


@api_view()
@require_GET
def host_scans(request: HttpRequest, slug: str) -> HttpResponse:
    denied = _require_dashboard(request)
    if denied:
        return denied
    try:
        target = parse_target(slug)
    except TargetError:
        raise Http404 from None
    host = Host.objects.filter(hostname=target.host, port=target.port).first()
    if host is None:
        raise Http404
    try:
        page_number = int(request.GET.get("page", "1"))
    except ValueError:
        return error(400, "bad-page", "'page' must be a whole number")
    scans = (
        Scan.objects.filter(host=host)
        .order_by("-requested_at", "-id")
        .only(
            "token",
            "status",
            "verdict",
            "change",
            "change_summary",
            "requested_at",
            "finished_at",
            "error",
            "host_id",
        )
    )
    paginator = Paginator(scans, settings.CHAINSCAN_HISTORY_PAGE_SIZE, allow_empty_first_page=True)
    try:
        page = paginator.page(page_number)
    except EmptyPage:
        return error(404, "no-such-page", f"there are {paginator.num_pages} pages")
    base = request.build_absolute_uri(request.path)
    return JsonResponse(
        {
            "host": host.hostname,
            "port": host.port,
            "count": paginator.count,
            "page": page.number,
            "pages": paginator.num_pages,
            "next": f"{base}?page={page.number + 1}" if page.has_next() else None,
            "previous": f"{base}?page={page.number - 1}" if page.has_previous() else None,
            "scans": [
                {
                    "token": s.token,
                    "url": request.build_absolute_uri(reverse("report", args=[s.token])),
                    "status": s.status,
                    "verdict": s.verdict or None,
                    "change": s.change or None,
                    "change_summary": s.change_summary or None,
                    "requested_at": s.requested_at.isoformat(),
                    "finished_at": s.finished_at.isoformat() if s.finished_at else None,
                    "error": s.error or None,
                }
                for s in page.object_list
            ],
        }
    )


@api_view()
@require_GET
def scans_diff(request: HttpRequest, token: str, other: str) -> HttpResponse:
    denied = _require_dashboard(request)
    if denied:
        return denied
    first = scan_for_permalink(request, token)
    second = scan_for_permalink(request, other)
    if first.host_id != second.host_id:
        return error(400, "different-hosts", "both scans must be of the same host and port")
    if not (first.is_finished and second.is_finished):
        return error(409, "not-finished", "both scans must be finished")
    older, newer = sorted([first, second], key=lambda s: (s.requested_at, s.pk))
    reports = {
        s.pk: report_from_scan(s)
        for s in scans_with_report_data(Scan.objects.filter(pk__in=[older.pk, newer.pk]))
    }
    body = diff_to_json(diff_reports(reports[older.pk], reports[newer.pk]))
    body.update({"from": older.token, "to": newer.token})
    return JsonResponse(body)


@require_GET
def openapi(request: HttpRequest) -> HttpResponse:
    from .openapi import document

    return JsonResponse(document(request.build_absolute_uri("/")))


urlpatterns = [
    path("api/scans", scans_create, name="api-scans"),
    path("api/scans/<str:token>", scans_detail, name="api-scan"),
    path("api/scans/<str:token>/diff/<str:other>", scans_diff, name="api-diff"),
    path("api/hosts/<str:slug>/scans", host_scans, name="api-host-scans"),
    path("api/openapi.json", openapi, name="api-openapi"),
]
