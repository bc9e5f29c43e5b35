"""HTML views: the form, the report at its permalink, host history, diffs, the chain check."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from . import history, presenters, ratelimit, scanning, services
from .access import (
    browsable_scans,
    can_browse,
    dashboard_allowed,
    dashboard_view,
    scan_for_permalink,
)
from .clients import client_ip
from .engine.analysis import analyse
from .engine.certs import pem_bundle
from .engine.targets import TargetError, parse_target
from .forms import CheckForm, DiffForm, HistoryPageForm, PemForm, ScanForm
from .models import Host, Scan
from .reports import report_from_scan, scans_with_report_data


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@dashboard_view
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    form = ScanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        cost = len(form.cleaned_data["targets"])
        limited = ratelimit.team_check(request, cost=cost) or ratelimit.check(request, cost=cost)
        if limited is not None:
            form.add_error(None, limited)
            return render(request, "scans/home.html", _home_context(request, form), status=429)
        scans = services.scan_request(
            targets=form.cleaned_data["targets"],
            user=request.user,
            client_ip=client_ip(request),
            pin=form.cleaned_data["addresses"],
        )
        if len(scans) == 1:
            return redirect("report", token=scans[0].token)
        return redirect("home")
    status = 400 if request.method == "POST" else 200
    return render(request, "scans/home.html", _home_context(request, form), status=status)


def _home_context(request: HttpRequest, form: ScanForm) -> dict[str, object]:
    recent = Scan.objects.select_related("host").order_by("-requested_at", "-id")
    if request.user.is_authenticated and settings.CHAINSCAN_REQUIRE_LOGIN:
        recent = recent.filter(requested_by=request.user)
    return {"form": form, "recent": recent[:25]}


@dashboard_view
@require_GET
def recent_fragment(request: HttpRequest) -> HttpResponse:
    return render(request, "scans/_recent.html", _home_context(request, ScanForm()))


@require_GET
def report(request: HttpRequest, token: str) -> HttpResponse:
    scan = scan_for_permalink(request, token)
    return render(request, "scans/report.html", _report_context(request, scan))


@require_GET
def report_fragment(request: HttpRequest, token: str) -> HttpResponse:
    """The live part of a report: polls while queued/running, then the finished body."""
    scan = scan_for_permalink(request, token)
    return render(request, "scans/_report_body.html", _report_context(request, scan))


def _report_context(request: HttpRequest, scan: Scan) -> dict[str, object]:
    context: dict[str, object] = {
        "scan": scan,
        "host": scan.host,
        # Someone who opened a shared permalink without an account can read it,
        # not start scans.
        "can_scan": dashboard_allowed(request),
        "pins": ", ".join(scan.pinned_addresses),
    }
    if scan.is_finished:
        full = scans_with_report_data(Scan.objects.filter(pk=scan.pk)).get()
        rep = report_from_scan(full)
        context["report"] = rep
        context["endpoints"] = presenters.endpoint_views(rep.endpoints)
        context["scan_findings"] = rep.findings
        # Linking the scan before hands out its token: only to viewers who may
        # browse it anyway (a shared permalink does not open the host's history).
        previous = scan.previous
        context["previous"] = previous if previous and can_browse(request, previous) else None
    # The canonical link, whatever URL (fragment, query string) rendered this.
    context["permalink"] = request.build_absolute_uri(reverse("report", args=[scan.token]))
    return context


@require_GET
def report_pem(request: HttpRequest, token: str) -> HttpResponse:
    """The served or expected chain as PEM: the expected one is the fix, ready to install."""
    scan = scan_for_permalink(request, token)
    form = PemForm(request.GET)
    if not form.is_valid() or not scan.is_finished:
        raise Http404("no such chain")
    full = scans_with_report_data(Scan.objects.filter(pk=scan.pk)).get()
    rep = report_from_scan(full)
    index = form.cleaned_data.get("endpoint") or 0
    if index >= len(rep.endpoints):
        raise Http404("no such endpoint")
    endpoint = rep.endpoints[index]
    chain = endpoint.expected if form.cleaned_data["kind"] == "expected" else endpoint.served
    if not chain:
        raise Http404("this chain is empty")
    response = HttpResponse(pem_bundle(chain), content_type="application/x-pem-file")
    name = f"{scan.host.hostname}-{form.cleaned_data['kind']}-chain.pem"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _host_from_slug(slug: str) -> Host:
    try:
        target = parse_target(slug)
    except TargetError:
        raise Http404("no such host") from None
    host = Host.objects.filter(hostname=target.host, port=target.port).first()
    if host is None:
        raise Http404("no such host")
    return host


@dashboard_view
@require_GET
def host_history(request: HttpRequest, slug: str) -> HttpResponse:
    """Every scan of a host the viewer may browse, newest first, with change marks."""
    host = _host_from_slug(slug)
    form = HistoryPageForm(request.GET)
    page_number = (form.cleaned_data.get("page") or 1) if form.is_valid() else 1
    scans = browsable_scans(request)
    paginator = Paginator(
        history.history(host, scans),
        settings.CHAINSCAN_HISTORY_PAGE_SIZE,
        allow_empty_first_page=True,
    )
    if paginator.count == 0:
        # No scan of this host the viewer may see: as if the host did not exist.
        raise Http404("no such host")
    page = paginator.get_page(page_number)
    return render(
        request,
        "scans/host.html",
        {
            "host": host,
            "page": page,
            "rows": history.rows(page.object_list),
            "latest": history.latest_finished(host, scans),
        },
    )


@dashboard_view
@require_GET
def host_latest(request: HttpRequest, slug: str) -> HttpResponse:
    """A stable link to the newest finished report of a host."""
    host = _host_from_slug(slug)
    latest = history.latest_finished(host, browsable_scans(request))
    if latest is None:
        raise Http404("no finished scan yet")
    return redirect("report", token=latest.token)


@dashboard_view
@require_GET
def scan_diff(request: HttpRequest, token: str, other: str | None = None) -> HttpResponse:
    """Two scans of one host compared; by default with the scan before, as the viewer knows it."""
    scan = scan_for_permalink(request, token)
    form = DiffForm(request.GET)
    if other is None and form.is_valid() and form.cleaned_data.get("against"):
        other = form.cleaned_data["against"]
    if other is None:
        before = history.previous_for_viewer(scan, browsable_scans(request))
        if before is None:
            raise Http404("this is the first scan of its host; there is nothing to compare")
    else:
        before = scan_for_permalink(request, other)
    try:
        older, newer, diff = history.compare(before, scan)
    except history.NotComparable as exc:
        raise Http404(exc.message) from None
    return render(
        request,
        "scans/diff.html",
        {"host": scan.host, "older": older, "newer": newer, "diff": diff},
    )


@dashboard_view
@require_http_methods(["GET", "POST"])
def check_chain(request: HttpRequest) -> HttpResponse:
    """Analyse a pasted chain right away. No network: learned issuers only, no AIA fetch."""
    form = CheckForm(request.POST or None)
    context: dict[str, object] = {"form": form}
    if request.method == "POST" and form.is_valid():
        analysis = analyse(
            form.cleaned_data["pem"],
            hostname=form.cleaned_data["host"],
            trust=scanning.trust_store(),
            at=timezone.now().astimezone(dt.UTC),
            issuers=scanning.LearnedIssuers(),
            fetcher=None,
            limits=scanning.scan_config().analysis,
        )
        endpoint = presenters.checked_endpoint(analysis)
        context.update(
            {
                "endpoint": presenters.endpoint_view(endpoint),
                "trust_store": scanning.trust_store().name,
            }
        )
    return render(request, "scans/check.html", context, status=400 if form.errors else 200)
