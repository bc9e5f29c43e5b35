"""The JSON API for watches: /api/watches and /api/watches/<id>.

Same authentication, error shape and conventions as ``scans/api.py`` (whose
``api_view`` wraps every view here); documented in ``scans/openapi.py``. A
watch's ``id`` is its public id (``Watch.uid``), never a row number.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.paginator import EmptyPage, Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse

from . import monitoring
from .access import team_watches, watch_for_user
from .api import LOGIN_HINT, _permalink, api_view, error, json_object
from .models import Scan, Watch

# A thousand targets with tags fit easily; the scan API's 16 KB would not.
MAX_WATCH_BODY = 512 * 1024
SINGLE_FIELDS = {"host", "port", "ip", "interval", "tags", "note"}
MANY_FIELDS = {"targets", "interval", "tags"}
PATCH_FIELDS = {"interval", "tags", "note", "paused"}


class WatchListForm(forms.Form):
    verdict = forms.ChoiceField(choices=[(s, s) for s in monitoring.STATES], required=False)
    tag = forms.CharField(max_length=40, required=False)
    expiring_within = forms.IntegerField(min_value=0, max_value=36500, required=False)
    page = forms.IntegerField(min_value=1, max_value=1_000_000, required=False)


def watch_json(request: HttpRequest, watch: Watch) -> dict[str, Any]:
    """A watch as the API shows it (``last_scan`` and ``host`` must be joined in)."""
    scan = watch.last_scan
    return {
        "id": watch.uid,
        "url": request.build_absolute_uri(reverse("api-watch", args=[watch.uid])),
        "host": watch.host.hostname,
        "port": watch.host.port,
        "ip": list(watch.pinned_addresses),
        "interval": watch.interval,
        "tags": list(watch.tags),
        "paused": watch.paused,
        "next_run_at": watch.next_run_at.isoformat(),
        "last_scan": None
        if scan is None
        else {
            "token": scan.token,
            "url": _permalink(request, scan.token),
            "status": scan.status,
            "verdict": scan.verdict or None,
            "finished_at": scan.finished_at.isoformat() if scan.finished_at else None,
            "valid_until": scan.valid_until.isoformat() if scan.valid_until else None,
            "change": scan.change or None,
        },
    }


def _body(request: HttpRequest) -> dict[str, Any] | JsonResponse:
    return json_object(request, limit=MAX_WATCH_BODY)


def _unknown(data: dict[str, Any], allowed: set[str]) -> JsonResponse | None:
    unknown = set(data) - allowed
    if unknown:
        return error(400, "bad-request", f"unknown field(s): {', '.join(sorted(unknown))}")
    return None


def _fresh(uids: list[str]) -> dict[str, Watch]:
    """Watches re-read with what their JSON shows (one statement)."""
    rows = Watch.objects.select_related("host", "last_scan").filter(uid__in=uids)
    return {w.uid: w for w in rows}


def _specs(data: dict[str, Any]) -> list[monitoring.WatchSpec]:
    """The watches a POST body asks for. Raises WatchError."""
    interval = monitoring.clean_interval(data.get("interval"))
    tags = monitoring.clean_tags(data.get("tags"))
    if "targets" in data:
        targets = data["targets"]
        if not isinstance(targets, list) or not targets:
            raise monitoring.WatchError("bad-targets", "'targets' must be a non-empty list")
        limit = settings.CHAINSCAN_WATCH_IMPORT_MAX
        if len(targets) > limit:
            raise monitoring.WatchError("too-many", f"at most {limit} targets at a time")
        specs: list[monitoring.WatchSpec] = []
        for index, text in enumerate(targets):
            try:
                target = monitoring.clean_target(text)
            except monitoring.WatchError as exc:
                raise monitoring.WatchError("bad-targets", f"targets[{index}]: {exc}") from None
            specs.append(monitoring.WatchSpec(target=target, interval=interval, tags=tags))
        return specs
    target = monitoring.clean_target(data.get("host"))
    port = data.get("port")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise monitoring.WatchError("bad-port", "'port' must be a whole number from 1 to 65535")
        target = type(target)(host=target.host, port=port)
    note = data.get("note") or ""
    if not isinstance(note, str):
        raise monitoring.WatchError("bad-note", "'note' must be a string")
    pins = monitoring.clean_pins(data.get("ip"))
    return [monitoring.WatchSpec(target=target, pins=pins, interval=interval, tags=tags, note=note)]


@api_view(methods=("GET", "POST"), write=False)
def watches(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _watches_create(request)
    form = WatchListForm(request.GET)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return error(400, f"bad-{field.replace('_', '-')}", f"'{field}': {errors[0]}")
    flt = monitoring.WatchFilter(
        state=form.cleaned_data.get("verdict") or None,
        tag=(form.cleaned_data.get("tag") or "").strip().lower() or None,
        expiring_within=form.cleaned_data.get("expiring_within"),
    )
    rows = monitoring.watches_listed(team_watches(request.user), flt)
    paginator = Paginator(rows, settings.CHAINSCAN_OVERVIEW_PAGE_SIZE)
    try:
        page = paginator.page(form.cleaned_data.get("page") or 1)
    except EmptyPage:
        return error(404, "no-such-page", f"there are {paginator.num_pages} pages")
    query = request.GET.copy()

    def link(number: int) -> str:
        query["page"] = str(number)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    return JsonResponse(
        {
            "count": paginator.count,
            "page": page.number,
            "pages": paginator.num_pages,
            "next": link(page.number + 1) if page.has_next() else None,
            "previous": link(page.number - 1) if page.has_previous() else None,
            "watches": [watch_json(request, w) for w in page.object_list],
        }
    )


def _writer(request: HttpRequest) -> JsonResponse | None:
    """As ``api_view(write=True)`` does: a write counts only a token as identity (a
    session cookie rides along on cross-site requests, and the API is CSRF-exempt)."""
    scheme, _, _ = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        request.user = AnonymousUser()
        if settings.CHAINSCAN_REQUIRE_LOGIN:
            return error(401, "token-required", LOGIN_HINT)
    return None


def _watches_create(request: HttpRequest) -> HttpResponse:
    refused = _writer(request)
    if refused is not None:
        return refused
    data = _body(request)
    if isinstance(data, JsonResponse):
        return data
    bad = _unknown(data, MANY_FIELDS if "targets" in data else SINGLE_FIELDS)
    if bad is not None:
        return bad
    try:
        specs = _specs(data)
        results = monitoring.watches_create_many(user=request.user, specs=specs)
    except monitoring.WatchError as exc:
        return error(400, exc.code, exc.message)
    rows = _fresh([w.uid for w, _ in results])
    if "targets" in data:
        return JsonResponse(
            {"watches": [watch_json(request, rows[w.uid]) for w, _ in results]}, status=201
        )
    watch, created = results[0]
    return JsonResponse(watch_json(request, rows[watch.uid]), status=201 if created else 200)


@api_view(methods=("GET", "PATCH", "DELETE"))
def watch_detail(request: HttpRequest, uid: str) -> HttpResponse:
    refused = _writer(request) if request.method != "GET" else None
    if refused is not None:
        return refused
    watch = watch_for_user(request.user, uid)
    if request.method == "DELETE":
        monitoring.watch_delete(watch=watch)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        data = _body(request)
        if isinstance(data, JsonResponse):
            return data
        bad = _unknown(data, PATCH_FIELDS)
        if bad is not None:
            return bad
        paused = data.get("paused")
        note = data.get("note")
        if paused is not None and not isinstance(paused, bool):
            return error(400, "bad-paused", "'paused' must be true or false")
        if note is not None and not isinstance(note, str):
            return error(400, "bad-note", "'note' must be a string")
        try:
            monitoring.watch_update(
                watch=watch,
                interval=monitoring.clean_interval(data["interval"])
                if "interval" in data
                else None,
                tags=monitoring.clean_tags(data["tags"]) if "tags" in data else None,
                note=note,
                paused=paused,
            )
        except monitoring.WatchError as exc:
            return error(400, exc.code, exc.message)
    return JsonResponse(watch_json(request, _fresh([watch.uid])[watch.uid]))


@api_view(methods=("POST",), write=True)
def watch_scan(request: HttpRequest, uid: str) -> HttpResponse:
    """Scan now; a scan of this watch still queued or running is returned instead."""
    watch = watch_for_user(request.user, uid)
    scan: Scan = monitoring.watch_scan_now(watch=watch)
    return JsonResponse(
        {"token": scan.token, "url": _permalink(request, scan.token), "status": scan.status},
        status=202,
    )


urlpatterns = [
    path("api/watches", watches, name="api-watches"),
    path("api/watches/<str:uid>", watch_detail, name="api-watch"),
    path("api/watches/<str:uid>/scan", watch_scan, name="api-watch-scan"),
]
