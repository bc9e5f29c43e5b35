"""GET /metrics: the team's watches in Prometheus' text exposition format.

A custom ``prometheus_client`` collector reads the database on each scrape, so
every web process answers the same (no per-process counters to aggregate).
Behind an API token (``Authorization: Bearer``, the API's tokens): the token's
user sees their team's watches, a superuser's token every watch.

Per watch, labelled ``host`` and ``port`` only (pinned addresses would make
label sets that alerting rules cannot join on; when a team watches one
host:port more than once, through different pins, the series show the watch
whose last scan is the most recent):

- ``chainscan_chain_expiry_timestamp_seconds``: the earliest ``not_after`` on the
  expected chain (and its root) of the last finished scan — the meaning of
  blackbox_exporter's ``probe_ssl_last_chain_expiry_timestamp_seconds``;
- ``chainscan_verdict{verdict="ok|warning|broken|failed"}``: 1 for the current one;
- ``chainscan_last_scan_timestamp_seconds``;
- ``chainscan_findings{severity="error|warning|info"}``: findings of the last scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import api
from .access import team_watches
from .models import Scan, Watch

VERDICTS = ("ok", "warning", "broken", "failed")
SEVERITIES = ("error", "warning", "info")


class WatchCollector(Collector):
    """Reads the watches of one queryset (one statement) on every collect()."""

    def __init__(self, watches: QuerySet[Watch]) -> None:
        self.watches = watches

    def _latest_per_endpoint(self) -> list[Watch]:
        rows = (
            self.watches.filter(last_scan__isnull=False)
            .select_related("host", "last_scan")
            .only(
                "host__hostname",
                "host__port",
                "last_scan__status",
                "last_scan__verdict",
                "last_scan__finished_at",
                "last_scan__valid_until",
                "last_scan__findings_counts",
            )
            .order_by(
                "host__hostname", "host__port", F("last_scan__finished_at").asc(nulls_first=True)
            )
        )
        latest: dict[tuple[str, int], Watch] = {}
        for w in rows.iterator(chunk_size=2000):
            latest[(w.host.hostname, w.host.port)] = w  # ordered: the newest wins
        return list(latest.values())

    def collect(self) -> Iterator[Any]:
        expiry = GaugeMetricFamily(
            "chainscan_chain_expiry_timestamp_seconds",
            "Earliest not_after on the expected chain (and its root) of the last finished scan",
            labels=["host", "port"],
        )
        verdict = GaugeMetricFamily(
            "chainscan_verdict",
            "Verdict of the last finished scan: 1 for the current one (failed: could not scan)",
            labels=["host", "port", "verdict"],
        )
        last = GaugeMetricFamily(
            "chainscan_last_scan_timestamp_seconds",
            "When the last scan of the watch finished",
            labels=["host", "port"],
        )
        findings = GaugeMetricFamily(
            "chainscan_findings",
            "Findings of the last finished scan, by severity",
            labels=["host", "port", "severity"],
        )
        for w in self._latest_per_endpoint():
            scan = w.last_scan
            assert scan is not None
            labels = [w.host.hostname, str(w.host.port)]
            current = "failed" if scan.status == Scan.Status.FAILED else (scan.verdict or "failed")
            for name in VERDICTS:
                verdict.add_metric([*labels, name], 1.0 if name == current else 0.0)
            if scan.valid_until is not None:
                expiry.add_metric(labels, scan.valid_until.timestamp())
            if scan.finished_at is not None:
                last.add_metric(labels, scan.finished_at.timestamp())
            counts = scan.findings_counts or {}
            for severity in SEVERITIES:
                findings.add_metric([*labels, severity], float(counts.get(severity, 0)))
        yield from (expiry, verdict, last, findings)


def metrics_response(request: HttpRequest) -> HttpResponse:
    """The exposition for the token's team; 401 in the API's error shape without one."""
    if request.method != "GET":
        return api.error(405, "method-not-allowed", "use GET")
    try:
        token = api._token(request)
    except api.BadToken as exc:
        return api.error(401, exc.code, exc.message)
    if token is None:
        return api.error(401, "token-required", api.LOGIN_HINT)
    user = token.user
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WatchCollector(team_watches(user)))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
