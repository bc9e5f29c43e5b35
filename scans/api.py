"""The JSON API. Serialises the engine's report data classes, the same JSON as
``chainscan scan --json``, plus the scan's status and permalink.

Authentication: ``Authorization: Bearer <token>`` (a per-user token made in the
admin or with ``manage.py api_token``). A signed-in browser session may read
(GET) but not write: writes need a token, so no cross-site form can submit
scans on a user's behalf. With CHAINSCAN_REQUIRE_LOGIN every endpoint but the
OpenAPI document needs one or the other.

Every error, including 404 and 405, is ``{"error": {"code", "message"}}``;
``/api/openapi.json`` documents each response and a test holds the code to it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.paginator import EmptyPage, Paginator
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path, reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from . import history, ratelimit, services
from .access import ScanPruned, browsable_scans, scan_for_permalink
from .clients import client_ip
from .engine.diff import diff_to_json
from .engine.policy import parse_ip
from .engine.targets import Target, TargetError, parse_target
from .forms import MAX_PINNED, HistoryPageForm
from .models import ApiToken, Host, Scan
from .reports import scan_json, scans_with_report_data

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
NOT_FOUND = "no such resource"
LOGIN_HINT = "send an API token: Authorization: Bearer …"

ApiView = Callable[..., HttpResponse]


def error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


class BadToken(Exception):
    """A Bearer token was sent and matches no active user's token (or has expired)."""

    def __init__(self, code: str = "bad-token", message: str = "the API token is not valid"):
        super().__init__(message)
        self.code, self.message = code, message


# Methods that change nothing: all a read-only token may use.
READ_METHODS = ("GET", "HEAD", "OPTIONS")
READ_ONLY_MESSAGE = "this API token is read-only: it may GET but not change anything"


def _token(request: HttpRequest) -> ApiToken | None:
    """The request's Bearer token row (its user loaded); ``None`` without one.

    Other schemes (a reverse proxy's Basic auth) are not ours and are ignored.
    """
    scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    if not key.strip():
        raise BadToken
    try:
        row = ApiToken.objects.select_related("user").get(
            key_hash=ApiToken.hash_key(key.strip()), user__is_active=True
        )
    except ApiToken.DoesNotExist:
        raise BadToken from None
    if row.expired:
        raise BadToken("token-expired", "the API token has expired; make a new one")
    now = timezone.now()
    # Record use at most once a minute: a write per request would cost every
    # API call a commit (the load benchmark posts hundreds a second).
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


def api_view(
    *, methods: Sequence[str] = ("GET",), write: bool = False
) -> Callable[[ApiView], ApiView]:
    """Method check, authentication, and JSON for every error the view raises."""

    def decorator(view: ApiView) -> ApiView:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error(405, "method-not-allowed", f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                token = _token(request)
            except BadToken as exc:
                return error(401, exc.code, exc.message)
            if token is not None and token.read_only and request.method not in READ_METHODS:
                return error(403, "read-only-token", READ_ONLY_MESSAGE)
            if token is not None:
                request.user = token.user
            elif write and request.method != "GET":
                # A session cookie rides along on cross-site requests, and this
                # view is CSRF-exempt: writes count only a token as identity.
                request.user = AnonymousUser()
            if settings.CHAINSCAN_REQUIRE_LOGIN and not request.user.is_authenticated:
                return error(401, "token-required", LOGIN_HINT)
            try:
                return view(request, *args, **kwargs)
            except ScanPruned as gone:
                return _pruned(request, gone)
            except Http404:
                return error(404, "not-found", NOT_FOUND)
            except (OperationalError, InterfaceError):
                raise  # the database is full or down: a 503 (DatabaseOverloadMiddleware)
            except Exception:
                log.exception("API error on %s %s", request.method, request.path)
                return error(500, "internal-error", "chainscan hit an internal error")

        return wrapper

    return decorator


def _pruned(request: HttpRequest, gone: ScanPruned) -> JsonResponse:
    """410: the scan was a routine rescan, pruned; its host's history remains."""
    slug = str(gone.pruned.host)
    return JsonResponse(
        {
            "error": {
                "code": "pruned",
                "message": "this scan was a routine rescan with no change and has been pruned",
            },
            "host": slug,
            "history": request.build_absolute_uri(reverse("api-host-scans", args=[slug])),
        },
        status=410,
    )


def _permalink(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("report", args=[token]))


def _target(data: dict[str, Any]) -> Target | JsonResponse:
    host = data.get("host")
    if not isinstance(host, str) or not host.strip():
        return error(400, "bad-host", "'host' must be a host name such as example.com")
    try:
        target = parse_target(host)
    except TargetError as exc:
        return error(400, "bad-host", str(exc))
    port = data.get("port")
    if port is None:
        return target
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return error(400, "bad-port", "'port' must be a whole number from 1 to 65535")
    return Target(host=target.host, port=port)


def _pins(data: dict[str, Any]) -> list[str] | JsonResponse:
    ips = data.get("ip") or []
    if isinstance(ips, str):
        ips = [ips]
    if not isinstance(ips, list) or len(ips) > MAX_PINNED:
        return error(400, "bad-ip", f"'ip' must be an address or a list of at most {MAX_PINNED}")
    pins: list[str] = []
    for ip in ips:
        parsed = parse_ip(ip) if isinstance(ip, str) else None
        if parsed is None:
            return error(400, "bad-ip", f"{ip!r} is not an IP address")
        if str(parsed) not in pins:
            pins.append(str(parsed))
    return pins


def json_object(
    request: HttpRequest,
    *,
    limit: int = MAX_BODY,
    example: str = '{"host": "example.com"}',
) -> dict[str, Any] | JsonResponse:
    """The request's JSON object body, or the API's error answer (413, 400)."""
    if len(request.body) > limit:
        return error(413, "too-large", f"the request body is larger than {limit} bytes")
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return error(400, "bad-json", "the body is not JSON")
    if not isinstance(data, dict):
        return error(400, "bad-request", f"send a JSON object such as {example}")
    return data


@api_view(methods=("POST",), write=True)
def scans_create(request: HttpRequest) -> HttpResponse:
    """Queue a scan: ``{"host": "example.com", "port": 443, "ip": ["192.0.2.1"]}``."""
    data = json_object(request)
    if isinstance(data, JsonResponse):
        return data
    unknown = set(data) - {"host", "port", "ip"}
    if unknown:
        return error(400, "bad-request", f"unknown field(s): {', '.join(sorted(unknown))}")
    target = _target(data)
    if isinstance(target, JsonResponse):
        return target
    pins = _pins(data)
    if isinstance(pins, JsonResponse):
        return pins
    busy = ratelimit.team_check(request)
    if busy is not None:
        return error(429, "team-busy", busy)
    limited = ratelimit.check(request)
    if limited is not None:
        return error(429, "rate-limited", limited)
    scan = services.scan_request(
        targets=[target], user=request.user, client_ip=client_ip(request), pin=pins
    )[0]
    return JsonResponse(
        {"token": scan.token, "url": _permalink(request, scan.token), "status": scan.status},
        status=202,
    )


@api_view()
def scans_detail(request: HttpRequest, token: str) -> HttpResponse:
    """A scan by its permalink token: status, and the full report once finished."""
    scan = scan_for_permalink(request, token)
    if scan.is_finished:
        scan = scans_with_report_data(Scan.objects.filter(pk=scan.pk)).get()
    body = scan_json(scan)
    # The change is worked out against the requester's team: only for a caller
    # who may browse the scan it was compared with (overlapping groups).
    previous = [scan.previous_id] if scan.previous_id else []
    visible = history.change_visible(scan, history.visible_ids(previous, browsable_scans(request)))
    if scan.is_finished and not visible:
        body["change"] = body["change_summary"] = None
    body["url"] = _permalink(request, scan.token)
    return JsonResponse(body)


@api_view()
def host_scans(request: HttpRequest, slug: str) -> HttpResponse:
    """A host's scans the caller may browse, newest first, one page at a time."""
    try:
        target = parse_target(slug)
    except TargetError:
        raise Http404 from None
    host = Host.objects.filter(hostname=target.host, port=target.port).first()
    if host is None:
        raise Http404
    form = HistoryPageForm(request.GET)
    if not form.is_valid():
        return error(400, "bad-page", "'page' must be a whole number from 1")
    scans = browsable_scans(request)
    paginator = Paginator(history.history(host, scans), settings.CHAINSCAN_HISTORY_PAGE_SIZE)
    if paginator.count == 0:
        raise Http404  # nothing the caller may see: as if the host did not exist
    try:
        page = paginator.page(form.cleaned_data.get("page") or 1)
    except EmptyPage:
        return error(404, "no-such-page", f"there are {paginator.num_pages} pages")
    rows = history.rows(page.object_list, scans)
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
            "scans": [_history_item(request, row) for row in rows],
        }
    )


def _history_item(request: HttpRequest, row: history.Row) -> dict[str, Any]:
    # The change, its summary and the diff link only when the caller may browse
    # the scan it was worked out against: a diff link would hand out its token,
    # a summary would describe it (row.change is empty otherwise).
    s, before = row.scan, row.previous
    diff_url = None
    if before is not None and row.change not in ("", Scan.Change.FIRST, Scan.Change.SAME):
        diff_url = request.build_absolute_uri(reverse("api-diff", args=[s.token, before.token]))
    return {
        "token": s.token,
        "url": _permalink(request, s.token),
        "status": s.status,
        "verdict": s.verdict or None,
        "change": row.change or None,
        "change_summary": (s.change_summary if row.change else "") or None,
        "changed": list(row.parts),
        "diff": diff_url,
        "requested_at": s.requested_at.isoformat(),
        "finished_at": s.finished_at.isoformat() if s.finished_at else None,
        "error": s.error or None,
    }


@api_view()
def scans_diff(request: HttpRequest, token: str, other: str) -> HttpResponse:
    """What changed between two scans of one host (whichever token comes first)."""
    first = scan_for_permalink(request, token)
    second = scan_for_permalink(request, other)
    try:
        older, newer, diff = history.compare(first, second)
    except history.NotComparable as exc:
        status = 400 if exc.code == "different-hosts" else 409
        return error(status, exc.code, exc.message)
    body = diff_to_json(diff)
    body.update({"from": older.token, "to": newer.token})
    return JsonResponse(body)


# --- Alerts: channels and incidents ------------------------------------------------


CHANNEL_FIELDS = {"kind", "name", "url", "secret", "to", "remind_hours"}


def _channel_form(data: dict[str, Any], editing: Any = None) -> Any:
    """A bound ChannelForm from a JSON body (``to`` a list), or the 400 that says
    what is wrong with it. Editing: absent fields keep their saved value."""
    from .channels import ChannelForm

    allowed = CHANNEL_FIELDS - {"kind"} | {"enabled"} if editing is not None else CHANNEL_FIELDS
    unknown = set(data) - allowed
    if unknown:
        return error(400, "bad-request", f"unknown field(s): {', '.join(sorted(unknown))}")
    to = data.get("to", editing.to if editing is not None else [])
    if not isinstance(to, list) or not all(isinstance(a, str) for a in to):
        return error(400, "bad-channel", "'to' must be a list of email addresses")
    fields = {k: v for k, v in data.items() if k not in ("to", "enabled")}
    if editing is not None:
        fields = {"name": editing.name, "remind_hours": editing.remind_hours, **fields}
    form = ChannelForm({**fields, "to": ",".join(to)}, editing=editing)
    if not form.is_valid():
        problems = "; ".join(
            f"{field}: {' '.join(map(str, e))}" for field, e in form.errors.items()
        )
        return error(400, "bad-channel", problems)
    return form


@api_view(methods=("GET", "POST"), write=True)
def channels_api(request: HttpRequest) -> HttpResponse:
    """List the team's channels, or add one: ``{"kind", "name", "url", "secret", "to"}``."""
    from .channels import channel_create, channel_json, channels_for

    if request.method == "GET":
        rows = channels_for(request.user).order_by("name")
        return JsonResponse({"channels": [channel_json(c) for c in rows]})
    data = json_object(request)
    if isinstance(data, JsonResponse):
        return data
    form = _channel_form(data)
    if isinstance(form, JsonResponse):
        return form
    channel = channel_create(user=request.user, data=form.cleaned_data)
    return JsonResponse(channel_json(channel), status=201)


@api_view(methods=("GET", "PATCH", "DELETE"), write=True)
def channel_api(request: HttpRequest, public_id: str) -> HttpResponse:
    """One channel of the caller's team: read it, change it (absent fields, and an
    empty URL or secret, keep their value), or delete it."""
    from .channels import channel_json, channel_update, channels_for

    channel = channels_for(request.user).filter(public_id=public_id[:16]).first()
    if channel is None:
        raise Http404
    if request.method == "DELETE":
        channel.delete()
        return HttpResponse(status=204)
    if request.method == "PATCH":
        data = json_object(request)
        if isinstance(data, JsonResponse):
            return data
        enabled = data.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            return error(400, "bad-channel", "'enabled' must be true or false")
        form = _channel_form(data, editing=channel)
        if isinstance(form, JsonResponse):
            return form
        channel_update(channel=channel, data=form.cleaned_data, enabled=enabled)
    return JsonResponse(channel_json(channel))


@api_view(methods=("POST",), write=True)
def channel_test_api(request: HttpRequest, public_id: str) -> HttpResponse:
    """Queue a test message on a channel of the caller's team."""
    from .channels import channels_for
    from .notify import channel_test

    channel = channels_for(request.user).filter(public_id=public_id[:16]).first()
    if channel is None:
        raise Http404
    row = channel_test(channel=channel)
    return JsonResponse({"id": row.pk, "event": row.event, "status": row.status}, status=202)


@api_view()
def incidents_api(request: HttpRequest) -> HttpResponse:
    """The team's incidents, newest first (``?open=true``: only open ones)."""
    from .channels import incidents_for

    only_open = request.GET.get("open", "").lower()
    if only_open not in ("", "true", "false"):
        return error(400, "bad-request", "'open' must be true or false")
    rows = incidents_for(request.user).select_related("watch__host", "opened_by", "resolved_by")
    if only_open == "true":
        rows = rows.filter(resolved_at=None)
    elif only_open == "false":
        rows = rows.exclude(resolved_at=None)
    return JsonResponse(
        {
            "incidents": [
                _incident_json(request, i) for i in rows.order_by("-opened_at", "-pk")[:500]
            ]
        }
    )


def _incident_json(request: HttpRequest, incident: Any) -> dict[str, Any]:
    host = incident.watch.host
    return {
        "id": incident.pk,
        "kind": incident.kind,
        "key": incident.key,
        "host": host.hostname,
        "port": host.port,
        "title": incident.title,
        "summary": incident.summary,
        "opened_at": incident.opened_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "opened_by": _permalink(request, incident.opened_by.token),
        "resolved_by": _permalink(request, incident.resolved_by.token)
        if incident.resolved_by
        else None,
    }


def openapi(request: HttpRequest) -> HttpResponse:
    """The OpenAPI document: public, it describes the API and reveals no data."""
    from .openapi import document

    if request.method != "GET":
        return error(405, "method-not-allowed", "use GET")
    return JsonResponse(document(request.build_absolute_uri("/")))


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return error(404, "not-found", NOT_FOUND)


urlpatterns = [
    path("api/scans", scans_create, name="api-scans"),
    path("api/scans/<str:token>", scans_detail, name="api-scan"),
    path("api/scans/<str:token>/diff/<str:other>", scans_diff, name="api-diff"),
    path("api/hosts/<str:slug>/scans", host_scans, name="api-host-scans"),
    path("api/channels", channels_api, name="api-channels"),
    path("api/channels/<str:public_id>", channel_api, name="api-channel"),
    path("api/channels/<str:public_id>/test", channel_test_api, name="api-channel-test"),
    path("api/incidents", incidents_api, name="api-incidents"),
    path("api/openapi.json", openapi, name="api-openapi"),
    # Anything else under /api/ is a JSON 404 too, not the HTML error page.
    re_path(r"^api/(?P<rest>.*)$", not_found),
]
