"""HTML views: the form, the report at its permalink, host history, diffs, the chain check."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from . import history, presenters, ratelimit, scanning, services
from .access import (
    browsable_scans,
    can_browse,
    check_for_permalink,
    dashboard_allowed,
    dashboard_view,
    scan_for_permalink,
    team_watches,
)
from .clients import client_ip
from .engine.analysis import analyse
from .engine.certs import certificate_file, chain_file, describe, pem_bundle
from .engine.report import EndpointReport, Report
from .engine.targets import Target, TargetError, parse_target
from .forms import (
    CheckForm,
    CompareForm,
    DiffForm,
    DownloadForm,
    HistoryPageForm,
    PemForm,
    ScanForm,
    ServerFixForm,
)
from .models import CheckResult, Host, Scan
from .reports import report_from_scan, scans_with_report_data, served_chains


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@dashboard_view
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest, form_only: bool = False) -> HttpResponse:
    """The scan form. A signed-in user whose team watches anything lands on the
    overview instead; the form stays one click away (/scan)."""
    if (
        request.method == "GET"
        and not form_only
        and _QUEUED_KEY not in request.session
        and _watching(request)
    ):
        return redirect("overview")
    form = ScanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        cost = len(form.cleaned_data["targets"])
        limited = ratelimit.team_check(request, cost=cost) or ratelimit.check(request, cost=cost)
        if limited is not None:
            form.add_error(None, limited)
            return render(request, "scans/home.html", _home_context(request, form), status=429)
        with transaction.atomic():
            scans = services.scan_request(
                targets=form.cleaned_data["targets"],
                user=request.user,
                client_ip=client_ip(request),
                pin=form.cleaned_data["addresses"],
            )
            if form.cleaned_data["watch"]:
                _watch_scanned(request, scans)
        if len(scans) == 1:
            return redirect("report", token=scans[0].token)
        if form.cleaned_data["watch"]:
            return redirect("overview")
        # Post/redirect/get: the page after it lists what was queued, once.
        request.session[_QUEUED_KEY] = [s.token for s in scans]
        return redirect("home")
    status = 400 if request.method == "POST" else 200
    context = _home_context(request, form)
    if request.method == "GET":
        tokens = request.session.pop(_QUEUED_KEY, None) or []
        context["queued"] = list(
            Scan.objects.filter(token__in=tokens[:100])
            .select_related("host")
            .order_by("host__hostname")
        )
    return render(request, "scans/home.html", context, status=status)


_QUEUED_KEY = "chainscan_queued"
RECENT_HOSTS = 25


def _watching(request: HttpRequest) -> bool:
    return request.user.is_authenticated and team_watches(request.user).exists()


def _watch_scanned(request: HttpRequest, scans: list[Scan]) -> None:
    """The scan form's "Keep watching": each scan just requested is its watch's first."""
    from . import monitoring

    monitoring.watches_create_many(
        user=request.user,
        specs=[
            monitoring.WatchSpec(
                target=Target(s.host.hostname, s.host.port), pins=tuple(s.pinned_addresses)
            )
            for s in scans
        ],
        seed_scans=scans,
    )


def _home_context(request: HttpRequest, form: ScanForm) -> dict[str, object]:
    return {"form": form, "recent": _recent_by_host(request)}


def _recent_by_host(request: HttpRequest) -> list[presenters.HostActivity]:
    """The hosts the viewer scanned lately, newest first: the latest scan of each
    and the verdict of the latest finished one. Three queries, however many scans."""
    scans = browsable_scans(request)
    if request.user.is_authenticated and settings.CHAINSCAN_REQUIRE_LOGIN:
        scans = scans.filter(requested_by=request.user)
    newest = scans.filter(host=OuterRef("pk")).order_by("-requested_at", "-id")
    hosts = (
        Host.objects.annotate(
            latest_id=Subquery(newest.values("pk")[:1]),
            finished_id=Subquery(newest.filter(status__in=history.FINISHED).values("pk")[:1]),
            latest_at=Subquery(newest.values("requested_at")[:1]),
        )
        .filter(latest_id__isnull=False)
        .order_by("-latest_at", "-latest_id")[:RECENT_HOSTS]
    )
    rows = list(hosts.values_list("pk", "latest_id", "finished_id"))
    ids = {i for _, a, b in rows for i in (a, b) if i}
    by_id = Scan.objects.select_related("host").in_bulk(ids)
    return [
        presenters.HostActivity(by_id[latest], by_id.get(finished) if finished else None)
        for _, latest, finished in rows
    ]


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
        # The team's watch of this host and these addresses, if any.
        "watched": team_watches(request.user)
        .filter(host=scan.host, pinned_addresses=sorted(scan.pinned_addresses))
        .first()
        if request.user.is_authenticated
        else None,
    }
    if scan.is_finished:
        full = scans_with_report_data(Scan.objects.filter(pk=scan.pk)).get()
        rep = report_from_scan(full)
        views = presenters.endpoint_views(rep.endpoints)
        base = reverse("report-download", args=[scan.token])
        for view in views:
            view.download_base = f"{base}?endpoint={view.index}&"
        context["report"] = rep
        context["endpoints"] = views
        context["summary"] = presenters.summary(rep, views)
        context["store_words"] = presenters.trust_store_words(scan.trust_store)
        context["scan_findings"] = rep.findings
        # ?server=nginx: the fix for another server than the one the endpoint named.
        server_form = ServerFixForm(request.GET)
        context["server_form"] = server_form
        context["server_choice"] = (
            server_form.cleaned_data["server"] if server_form.is_valid() else ""
        )
        # Linking the scan before hands out its token: only to viewers who may
        # browse it anyway (a shared permalink does not open the host's history).
        previous = scan.previous
        context["previous"] = previous if previous and can_browse(request, previous) else None
        context["newer"] = _newer_scan(request, scan)
    # The canonical link, whatever URL (fragment, query string) rendered this.
    context["permalink"] = request.build_absolute_uri(reverse("report", args=[scan.token]))
    return context


def _newer_scan(request: HttpRequest, scan: Scan) -> Scan | None:
    """The newest finished scan of the same host after ``scan``, if the viewer may browse it.

    A shared incident link must not keep saying BROKEN after the fix; a
    viewer holding only the link learns nothing of the host's later scans.
    """
    if not dashboard_allowed(request):
        return None
    latest = history.latest_finished(scan.host, browsable_scans(request))
    if latest is None or latest.pk == scan.pk:
        return None
    newer = Scan.objects.only("token", "verdict", "finished_at", "requested_at").get(pk=latest.pk)
    if (newer.requested_at, newer.pk) <= (scan.requested_at, scan.pk):
        return None
    return newer


def _download(endpoint: EndpointReport, form: DownloadForm, name: str) -> HttpResponse:
    """A file of ``endpoint``'s expected chain (the fix), as the form asks; engine serialises."""
    chain = endpoint.expected
    fmt = form.cleaned_data["fmt"]
    if fmt == "cer":
        path = [*chain, *([endpoint.anchor] if endpoint.anchor else [])]
        index = form.cleaned_data.get("cert") or 0
        if index >= len(path) or path[index].parse_error:
            raise Http404("no such certificate")
        cert = path[index]
        out = certificate_file(cert)
        filename = f"{(cert.common_name or cert.sha256[:16])}{out.suffix}"
    else:
        try:
            out = chain_file(chain, fmt)
        except ValueError:
            raise Http404("this chain is empty") from None
        filename = f"{name}-{fmt}{out.suffix}"
    response = HttpResponse(out.data, content_type=out.content_type)
    # Names come from certificates: keep them to characters safe in a header.
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in filename)[:120]
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response


def _stored_endpoint(scan: Scan, form: DownloadForm | PemForm) -> EndpointReport:
    """The finished scan's endpoint that a valid download form names (404 if none)."""
    rep = report_from_scan(scans_with_report_data(Scan.objects.filter(pk=scan.pk)).get())
    index = form.cleaned_data.get("endpoint") or 0
    if index >= len(rep.endpoints):
        raise Http404("no such endpoint")
    return rep.endpoints[index]


@require_GET
def report_download(request: HttpRequest, token: str) -> HttpResponse:
    """The fix of one address in the formats servers take: PEM, PKCS#7, DER per certificate."""
    scan = scan_for_permalink(request, token)
    form = DownloadForm(request.GET)
    if not form.is_valid() or not scan.is_finished:
        raise Http404("no such file")
    return _download(_stored_endpoint(scan, form), form, scan.host.hostname)


@require_GET
def report_pem(request: HttpRequest, token: str) -> HttpResponse:
    """The served or expected chain as PEM: the expected one is the fix, ready to install."""
    scan = scan_for_permalink(request, token)
    form = PemForm(request.GET)
    if not form.is_valid() or not scan.is_finished:
        raise Http404("no such chain")
    endpoint = _stored_endpoint(scan, form)
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
    rows = history.rows(page.object_list, scans)
    finished = [r.scan for r in rows if r.scan.is_finished and r.scan.verdict]
    chains = served_chains(s.pk for s in finished)
    # The two scans the compare form starts with: the newest finished one and
    # the one before it.
    picked = [s.token for s in finished[:2]]
    return render(
        request,
        "scans/host.html",
        {
            "host": host,
            "page": page,
            "rows": rows,
            "latest": history.latest_finished(host, scans),
            "timeline": presenters.timeline([(s, chains.get(s.pk, [])) for s in finished]),
            "compare_newer": picked[0] if picked else "",
            "compare_older": picked[1] if len(picked) > 1 else "",
        },
    )


@dashboard_view
@require_GET
def host_compare(request: HttpRequest, slug: str) -> HttpResponse:
    """The history page's "compare" form: two scans of this host, then their diff."""
    host = _host_from_slug(slug)
    form = CompareForm(request.GET)
    if not form.is_valid():
        return render(request, "scans/compare_error.html", {"host": host, "form": form}, status=400)
    older = scan_for_permalink(request, form.cleaned_data["older"])
    newer = scan_for_permalink(request, form.cleaned_data["newer"])
    if older.host_id != host.pk or newer.host_id != host.pk:
        raise Http404("both scans must be of this host")
    return redirect("diff", token=newer.token, other=older.token)


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
    """Analyse a pasted or uploaded chain, store the result, and open it at its permalink.

    No network: learned issuers only, no AIA fetch.
    """
    form = CheckForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        at = (
            dt.datetime.combine(data["at"], dt.time(12), tzinfo=dt.UTC)
            if data.get("at")
            else timezone.now().astimezone(dt.UTC)
        )
        trust = scanning.trust_store()
        analysis = analyse(
            data["chain"],
            hostname=data["host"],
            trust=trust,
            at=at,
            issuers=scanning.LearnedIssuers(),
            fetcher=None,
            limits=scanning.scan_config().analysis,
        )
        endpoint = presenters.checked_endpoint(analysis)
        rep = Report(
            host=data["host"] or "",
            port=0,
            trust_store=trust.name,
            evaluated_at=at,
            endpoints=(endpoint,),
            verdict=endpoint.verdict,
        )
        # Pruning rides on new checks (indexed by age): the table stays bounded
        # without a scheduler entry of its own.
        cutoff = timezone.now() - dt.timedelta(days=settings.CHAINSCAN_CHECK_RETENTION_DAYS)
        CheckResult.objects.filter(created_at__lt=cutoff).delete()
        result = CheckResult.objects.create(
            created_by=request.user if request.user.is_authenticated else None,
            hostname=data["host"] or "",
            evaluated_at=at,
            verdict=endpoint.verdict.value,
            report=rep.to_json(include_der=True),
            pem=pem_bundle([describe(d) for d in data["chain"]]),
        )
        return redirect("check-result", token=result.token)
    status = 400 if form.errors else 200
    return render(request, "scans/check.html", {"form": form}, status=status)


@require_GET
def check_result(request: HttpRequest, token: str) -> HttpResponse:
    """A stored check, at its permalink: the result first, then what was pasted."""
    result = check_for_permalink(request, token)
    rep = Report.from_json(result.report)
    views = presenters.endpoint_views(rep.endpoints)
    views[0].download_base = reverse("check-download", args=[result.token]) + "?"
    context = {
        "result": result,
        "report": rep,
        "endpoint": views[0],
        "summary": presenters.summary(rep, views, subject="The chain"),
        "store_words": presenters.trust_store_words(rep.trust_store),
        "permalink": request.build_absolute_uri(reverse("check-result", args=[result.token])),
        "form": CheckForm(initial={"host": result.hostname}),
        "can_scan": dashboard_allowed(request),
    }
    return render(request, "scans/check_result.html", context)


@require_GET
def check_download(request: HttpRequest, token: str) -> HttpResponse:
    """The fix for a checked chain, in the formats servers take."""
    result = check_for_permalink(request, token)
    form = DownloadForm(request.GET)
    if not form.is_valid():
        raise Http404("no such file")
    rep = Report.from_json(result.report)
    return _download(rep.endpoints[0], form, result.hostname or "checked")
