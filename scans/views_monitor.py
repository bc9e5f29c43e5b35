"""Monitoring pages: the overview of a team's watches, adding and managing watches,
the per-watch badge and the Prometheus metrics.

Every write goes through ``scans.monitoring``; every read of watches through
``access.team_watches`` (the one access helper for watches).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import history, metrics, monitoring
from .access import (
    browsable_scans,
    can_browse,
    dashboard_allowed,
    dashboard_view,
    scan_for_permalink,
    team_watches,
    watch_for_user,
)
from .alerts import one_line
from .engine.targets import Target
from .models import Watch
from .reports import top_findings
from .views import _host_from_slug

# --- Forms ---------------------------------------------------------------------------

FILTER_STATES = [
    ("", "any state"),
    ("broken", "broken"),
    ("failed", "could not scan"),
    ("warning", "warning"),
    ("pending", "no result yet"),
    ("ok", "ok"),
    ("expiring", "chain expiring soon"),
    ("changed", "changed in 7 days"),
    ("paused", "paused"),
]
BULK_ACTIONS = [
    ("pause", "Pause"),
    ("resume", "Resume"),
    ("scan", "Scan now"),
    ("interval", "Set interval to…"),
    ("add-tag", "Add tag…"),
    ("remove-tag", "Remove tag…"),
    ("delete", "Stop watching"),
]


class OverviewForm(forms.Form):
    q = forms.CharField(max_length=100, required=False)
    state = forms.ChoiceField(choices=FILTER_STATES, required=False)
    tag = forms.CharField(max_length=40, required=False)
    page = forms.IntegerField(min_value=1, max_value=1_000_000, required=False)

    def watch_filter(self) -> monitoring.WatchFilter:
        data = self.cleaned_data if self.is_valid() else {}
        state = data.get("state") or None
        return monitoring.WatchFilter(
            state=state if state in monitoring.STATE_FILTERS else None,
            tag=(data.get("tag") or "").strip().lower() or None,
            expiring_within=settings.CHAINSCAN_OVERVIEW_EXPIRY_DAYS
            if state == "expiring"
            else None,
            changed_within=7 if state == "changed" else None,
            search=(data.get("q") or "").strip() or None,
            paused=True if state == "paused" else None,
        )


class BulkForm(forms.Form):
    """The overview's action select; the ticked rows are ``watches`` (public ids)."""

    action = forms.ChoiceField(choices=BULK_ACTIONS)
    value = forms.CharField(max_length=100, required=False)

    def ticked(self) -> list[str]:
        ids = self.data.getlist("watches") if hasattr(self.data, "getlist") else []
        # Any id shape; the team's scope decides what they reach.
        return [i for i in ids[: settings.CHAINSCAN_WATCH_IMPORT_MAX] if len(i) <= 16]


class WatchImportForm(forms.Form):
    hosts = forms.CharField(
        label="Hosts",
        required=False,
        max_length=200_000,
        widget=forms.Textarea(
            attrs={
                "rows": 8,
                "spellcheck": "false",
                "autocapitalize": "off",
                "placeholder": "example.com\nmail.example.com:8443,prod;mail,1h\n# comments are fine",
            }
        ),
        help_text="One per line: host[:port], optionally followed by ,tags,interval "
        "(tags separated by ; or spaces; interval in seconds or 90m, 6h, 1d).",
    )
    csv_file = forms.FileField(
        label="…or a CSV file",
        required=False,
        help_text="Columns host[:port],tags,interval; a header line is skipped.",
    )
    tags = forms.CharField(label="Tags for all", max_length=400, required=False)
    interval = forms.CharField(
        label="Interval", max_length=20, required=False, help_text="Default: once a day."
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        text = data.get("hosts") or ""
        upload = data.get("csv_file")
        if upload is not None:
            if upload.size > 1_000_000:
                raise forms.ValidationError("the CSV file is larger than 1 MB")
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("the CSV file is not UTF-8 text") from None
        if not text.strip():
            raise forms.ValidationError("paste some hosts or choose a CSV file")
        try:
            tags = monitoring.clean_tags(data.get("tags") or "")
            interval = monitoring.clean_interval(data.get("interval") or None)
        except monitoring.WatchError as exc:
            raise forms.ValidationError(exc.message) from None
        result = monitoring.parse_watch_list(text, tags=tags, interval=interval)
        if result.errors:
            raise forms.ValidationError(
                [forms.ValidationError(f"line {n}: {m}" if n else m) for n, m in result.errors[:50]]
                + (
                    [forms.ValidationError(f"…and {len(result.errors) - 50} more bad lines")]
                    if len(result.errors) > 50
                    else []
                )
            )
        data["specs"] = result.specs
        return data


class WatchEditForm(forms.Form):
    interval = forms.CharField(max_length=20, help_text="Seconds, or 90m, 6h, 1d, 1w.")
    tags = forms.CharField(max_length=400, required=False, help_text="Separated by spaces.")
    note = forms.CharField(
        max_length=monitoring.MAX_NOTE, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    paused = forms.BooleanField(required=False)

    def clean_interval(self) -> int:
        try:
            return monitoring.clean_interval(self.cleaned_data["interval"])
        except monitoring.WatchError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_tags(self) -> tuple[str, ...]:
        try:
            return monitoring.clean_tags(self.cleaned_data.get("tags") or "")
        except monitoring.WatchError as exc:
            raise forms.ValidationError(exc.message) from None


# --- The overview ----------------------------------------------------------------------


@dataclass
class OverviewRow:
    """One watch as the overview shows it."""

    watch: Watch
    state: str
    days_left: int | None
    # Why it is not ok, in one line: the last scan's headline finding (broken,
    # warning) or the reason it could not scan.
    headline: str = ""


def headlines(watches: list[Watch]) -> dict[int, str]:
    """Why each watch that is not ok is not, in one line (by watch pk): its last
    scan's headline finding (broken, warning) or why it could not scan. Two
    statements for any number of watches."""
    states = {w.pk: monitoring.watch_state(w) for w in watches}
    top = top_findings(
        w.last_scan_id for w in watches if states[w.pk] in ("broken", "warning") and w.last_scan_id
    )
    out: dict[int, str] = {}
    for w in watches:
        scan = w.last_scan
        if scan is not None and states[w.pk] == "failed":
            out[w.pk] = one_line(scan.error, 160)
        elif scan is not None and scan.pk in top:
            out[w.pk] = top[scan.pk].title
    return out


def overview_rows(watches: list[Watch], now: dt.datetime) -> list[OverviewRow]:
    """Rows of one overview page: whatever a row shows beyond the watch and its
    scans is read here for the whole page at once (a constant number of queries).
    Open incidents have their own box above the table (templatetags ``alerts``)."""
    why = headlines(watches)
    return [
        OverviewRow(
            watch=w,
            state=monitoring.watch_state(w),
            days_left=monitoring.days_left(w.last_scan.valid_until if w.last_scan else None, now),
            headline=why.get(w.pk, ""),
        )
        for w in watches
    ]


def _overview_context(request: HttpRequest) -> dict[str, Any]:
    form = OverviewForm(request.GET)
    flt = form.watch_filter()
    now = timezone.now()
    watches = team_watches(request.user)
    listed = monitoring.watches_listed(watches, flt, now)
    paginator = Paginator(listed, settings.CHAINSCAN_OVERVIEW_PAGE_SIZE)
    page = paginator.get_page((form.cleaned_data.get("page") if form.is_valid() else None) or 1)
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "form": form,
        "counts": monitoring.watch_counts(watches, now),
        "page": page,
        "rows": overview_rows(list(page.object_list), now),
        "query": query.urlencode(),
        "state": form.cleaned_data.get("state") if form.is_valid() else "",
        "expiry_days": settings.CHAINSCAN_OVERVIEW_EXPIRY_DAYS,
        "refresh": settings.CHAINSCAN_OVERVIEW_REFRESH,
        "bulk_actions": BULK_ACTIONS,
        "now": now,
    }


@dashboard_view
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "scans/overview.html", _overview_context(request))


@dashboard_view
@require_GET
def overview_fragment(request: HttpRequest) -> HttpResponse:
    """The live part of the overview (counts and rows); the page polls it."""
    return render(request, "scans/_overview_live.html", _overview_context(request))


CSV_COLUMNS = (
    "host",
    "port",
    "ip",
    "state",
    "chain_expires_at",
    "days_left",
    "expires_first",
    "last_change",
    "last_change_at",
    "last_scan_at",
    "next_run_at",
    "interval",
    "tags",
    "paused",
    "report",
    "why",
)


# Watches read (and headline findings looked up) per round trip of the export.
CSV_CHUNK = 2000


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (certificate names are hostile)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
def overview_csv(request: HttpRequest) -> HttpResponseBase:
    """Every watch matching the overview's filters (all pages), as CSV."""
    if not dashboard_allowed(request):  # dashboard_view's check (its type is HttpResponse)
        return redirect_to_login(request.get_full_path())
    form = OverviewForm(request.GET)
    now = timezone.now()
    rows = monitoring.watches_listed(team_watches(request.user), form.watch_filter(), now)

    def chunks():  # type: ignore[no-untyped-def]
        chunk: list[Watch] = []
        for w in rows.iterator(chunk_size=CSV_CHUNK):
            chunk.append(w)
            if len(chunk) == CSV_CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def lines():  # type: ignore[no-untyped-def]
        writer = csv.writer(_Echo())
        yield writer.writerow(CSV_COLUMNS)
        for chunk in chunks():
            yield from chunk_lines(writer, chunk)

    def chunk_lines(writer, chunk: list[Watch]):  # type: ignore[no-untyped-def]
        why = headlines(chunk)
        for w in chunk:
            scan, change = w.last_scan, w.last_change
            yield writer.writerow(
                [
                    _cell(v)
                    for v in (
                        w.host.hostname,
                        w.host.port,
                        " ".join(w.pinned_addresses),
                        monitoring.watch_state(w),
                        scan.valid_until.isoformat() if scan and scan.valid_until else "",
                        monitoring.days_left(scan.valid_until if scan else None, now),
                        scan.expires_first if scan else "",
                        change.change if change else "",
                        change.finished_at.isoformat() if change and change.finished_at else "",
                        scan.finished_at.isoformat() if scan and scan.finished_at else "",
                        w.next_run_at.isoformat(),
                        w.interval,
                        " ".join(w.tags),
                        "yes" if w.paused else "no",
                        request.build_absolute_uri(reverse("report", args=[scan.token]))
                        if scan
                        else "",
                        why.get(w.pk, ""),
                    )
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="chainscan-watches.csv"'
    return response


# --- Adding watches ----------------------------------------------------------------------


def _created_message(request: HttpRequest, results: list[tuple[Watch, bool]]) -> None:
    new = sum(1 for _, created in results if created)
    known = len(results) - new
    parts = [f"Now watching {new} new host{'s' if new != 1 else ''}"] if new else []
    if known:
        parts.append(f"{known} {'was' if known == 1 else 'were'} already watched")
    messages.success(request, "; ".join(parts) + ".")


@dashboard_view
@require_http_methods(["GET", "POST"])
def watch_new(request: HttpRequest) -> HttpResponse:
    """Paste a list of hosts or upload a CSV: all or nothing."""
    form = WatchImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        results = monitoring.watches_create_many(
            user=request.user, specs=form.cleaned_data["specs"]
        )
        _created_message(request, results)
        return redirect("overview")
    status = 400 if request.method == "POST" else 200
    return render(request, "scans/watch_new.html", {"form": form}, status=status)


@dashboard_view
@require_POST
def watch_from_report(request: HttpRequest, token: str) -> HttpResponse:
    """ "Watch this host" on a report: the same host, port and pinned addresses.
    The team's own finished report becomes the watch's first result."""
    scan = scan_for_permalink(request, token)
    seed = scan if can_browse(request, scan) else None
    results = [
        monitoring.watch_create(
            user=request.user,
            target=Target(scan.host.hostname, scan.host.port),
            pins=scan.pinned_addresses,
            seed_scan=seed,
        )
    ]
    _created_message(request, results)
    return redirect("overview")


@dashboard_view
@require_POST
def watch_from_host(request: HttpRequest, slug: str) -> HttpResponse:
    host = _host_from_slug(slug)
    latest = history.latest_finished(host, browsable_scans(request))
    if latest is None:
        raise Http404("no such host")
    results = [
        monitoring.watch_create(
            user=request.user,
            target=Target(host.hostname, host.port),
            seed_scan=latest if not latest.pinned_addresses else None,
        )
    ]
    _created_message(request, results)
    return redirect("overview")


# --- Managing watches -----------------------------------------------------------------------


def _apply(request: HttpRequest, action: str, watches: Any, value: str) -> str:
    """Run one overview action on a queryset of the team's watches; the message to show."""
    if action in ("pause", "resume"):
        n = monitoring.watches_update(watches=watches, paused=action == "pause")
        return f"{'Paused' if action == 'pause' else 'Resumed'} {n} watch{'es' if n != 1 else ''}."
    if action == "scan":
        scans = monitoring.watches_scan_now(watches=watches)
        return f"Scanning {len(scans)} host{'s' if len(scans) != 1 else ''} now."
    if action == "delete":
        n = monitoring.watches_delete(watches=watches)
        return f"Stopped watching {n} host{'s' if n != 1 else ''}; their history stays."
    if action == "interval":
        n = monitoring.watches_update(watches=watches, interval=monitoring.clean_interval(value))
        return f"Changed the interval of {n} watch{'es' if n != 1 else ''}."
    if action in ("add-tag", "remove-tag"):
        tags = monitoring.clean_tags(value)
        if not tags:
            raise monitoring.WatchError("bad-tags", "type the tag in the box next to the action")
        if action == "add-tag":
            n = monitoring.watches_update(watches=watches, add_tags=tags)
        else:
            n = monitoring.watches_update(watches=watches, remove_tags=tags)
        return (
            f"{'Tagged' if action == 'add-tag' else 'Untagged'} {n} watch{'es' if n != 1 else ''}."
        )
    raise monitoring.WatchError("bad-action", "unknown action")


def _back(request: HttpRequest) -> HttpResponse:
    # Back to the same filtered page (the query string rides along as a hidden field).
    query = request.POST.get("back", "")
    url = reverse("overview")
    return redirect(
        f"{url}?{query}" if query and query.isprintable() and "\n" not in query else url
    )


@dashboard_view
@require_POST
def watches_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    if not form.is_valid() or not form.ticked():
        messages.error(request, "Tick at least one watch and choose an action.")
        return _back(request)
    watches = team_watches(request.user).filter(uid__in=form.ticked())
    try:
        with transaction.atomic():
            messages.success(
                request,
                _apply(request, form.cleaned_data["action"], watches, form.cleaned_data["value"]),
            )
    except monitoring.WatchError as exc:
        messages.error(request, exc.message)
    return _back(request)


@dashboard_view
@require_POST
def watch_action(request: HttpRequest, uid: str) -> HttpResponse:
    """One row's button (pause, resume, scan, delete)."""
    watch = watch_for_user(request.user, uid)
    action = request.POST.get("action", "")
    if action not in ("pause", "resume", "scan", "delete"):
        messages.error(request, "Unknown action.")
        return _back(request)
    messages.success(request, _apply(request, action, Watch.objects.filter(pk=watch.pk), ""))
    return _back(request)


@dashboard_view
@require_http_methods(["GET", "POST"])
def watch_edit(request: HttpRequest, uid: str) -> HttpResponse:
    watch = watch_for_user(request.user, uid)
    initial = {
        "interval": str(watch.interval),
        "tags": " ".join(watch.tags),
        "note": watch.note,
        "paused": watch.paused,
    }
    form = WatchEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        monitoring.watch_update(
            watch=watch,
            interval=form.cleaned_data["interval"],
            tags=form.cleaned_data["tags"],
            note=form.cleaned_data["note"],
            paused=form.cleaned_data["paused"],
        )
        messages.success(request, f"Saved the watch of {watch.host}.")
        return redirect("overview")
    status = 400 if request.method == "POST" else 200
    return render(request, "scans/watch_edit.html", {"form": form, "watch": watch}, status=status)


# --- Badge and metrics ------------------------------------------------------------------------

BADGE_COLOURS = {
    "ok": "#2e7d32",
    "warning": "#b26a00",
    "broken": "#c62828",
    "failed": "#6d4c41",
    "pending": "#607d8b",
}


@require_GET
def badge(request: HttpRequest, token: str) -> HttpResponse:
    """A small SVG for wikis and READMEs: the verdict and days left. No login: the
    URL's 128 random bits are the secret; it shows no host name."""
    if not 8 <= len(token) <= 32:
        raise Http404("no such badge")
    watch = Watch.objects.select_related("last_scan").filter(badge_token=token).first()
    if watch is None:
        raise Http404("no such badge")
    state = monitoring.watch_state(watch)
    days = monitoring.days_left(watch.last_scan.valid_until if watch.last_scan else None)
    label = {"failed": "could not scan", "pending": "pending"}.get(state, state)
    text = f"{label} · {days} d" if days is not None and state != "failed" else label
    response = render(
        request,
        "scans/badge.svg",
        {
            "text": text,
            "colour": BADGE_COLOURS[state],
            # ~6.5 px per character of 11 px Verdana, the shields.io convention.
            "left": 50,
            "right": 12 + int(6.5 * len(text)),
        },
        content_type="image/svg+xml; charset=utf-8",
    )
    response["Cache-Control"] = f"public, max-age={settings.CHAINSCAN_BADGE_MAX_AGE}"
    # An SVG opened directly is a document: it may run no script of its own.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    return metrics.metrics_response(request)


urlpatterns = [
    path("watches", overview, name="overview"),
    path("watches/live", overview_fragment, name="overview-live"),
    path("watches.csv", overview_csv, name="overview-csv"),
    path("watches/new", watch_new, name="watch-new"),
    path("watches/bulk", watches_bulk, name="watches-bulk"),
    path("watches/<str:uid>/edit", watch_edit, name="watch-edit"),
    path("watches/<str:uid>/action", watch_action, name="watch-action"),
    path("r/<str:token>/watch", watch_from_report, name="watch-from-report"),
    path("hosts/<str:slug>/watch", watch_from_host, name="watch-from-host"),
    path("badge/<str:token>.svg", badge, name="badge"),
    path("metrics", metrics_view, name="metrics"),
]
