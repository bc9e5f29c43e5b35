"""/metrics: Prometheus text exposition of the team's watches, behind an API token."""

from __future__ import annotations

import pytest
from django.db.models import Q
from prometheus_client.parser import text_string_to_metric_families

from scans import monitoring
from scans.engine.targets import Target
from scans.models import ApiToken, Finding, Scan, Watch
from tests.factories import HOST, chains, record_scan, team

pytestmark = pytest.mark.django_db


def scrape(client, user) -> dict[str, list]:  # type: ignore[no-untyped-def]
    key = ApiToken.issue(user=user)[1]
    response = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        family.name: family.samples
        for family in text_string_to_metric_families(response.content.decode())
    }


def watch(scan: Scan, user) -> Watch:  # type: ignore[no-untyped-def]
    w, _ = monitoring.watch_create(
        user=user, target=Target(scan.host.hostname, scan.host.port), seed_scan=scan
    )
    return w


def test_each_watched_host_has_expiry_verdict_last_scan_and_findings(client, alice):
    broken = record_scan(chains().served_x1(), user=alice)
    ok = record_scan(chains().served_x3(), user=alice, port=8443)
    watch(broken, alice)
    watch(ok, alice)
    families = scrape(client, alice)

    def value(name: str, port: str, **labels: str) -> float:
        (sample,) = [
            s
            for s in families[name]
            if s.labels.get("port") == port and all(s.labels[k] == v for k, v in labels.items())
        ]
        assert sample.labels["host"] == HOST
        return sample.value

    assert (
        value("chainscan_chain_expiry_timestamp_seconds", "443") == broken.valid_until.timestamp()
    )
    assert value("chainscan_last_scan_timestamp_seconds", "8443") == ok.finished_at.timestamp()
    assert value("chainscan_verdict", "443", verdict="broken") == 1
    assert value("chainscan_verdict", "443", verdict="ok") == 0
    assert value("chainscan_verdict", "8443", verdict="ok") == 1
    errors = Finding.objects.filter(
        Q(scan=broken) | Q(outcome__endpoints__endpoint_set__scans=broken), severity="error"
    ).count()
    assert errors >= 1
    assert value("chainscan_findings", "443", severity="error") == errors
    assert value("chainscan_findings", "8443", severity="error") == 0
    # Only host and port (and the one label of the family) on any series.
    for samples in families.values():
        for s in samples:
            assert set(s.labels) - {"host", "port"} <= {"verdict", "severity"}


def test_a_scan_that_could_not_complete_is_the_failed_verdict(client, alice):
    scan = record_scan({"192.0.2.10": []}, user=alice)  # refused: no chain at all
    assert scan.status == Scan.Status.FAILED
    watch(scan, alice)
    families = scrape(client, alice)
    current = [s.labels["verdict"] for s in families["chainscan_verdict"] if s.value == 1]
    assert current == ["failed"]


def test_a_token_sees_its_teams_watches_only(client, alice, bob, charlie):
    team("ops", alice, bob)
    watch(record_scan(chains().served_x3(), user=alice), alice)
    assert scrape(client, bob)["chainscan_verdict"]
    assert scrape(client, charlie)["chainscan_verdict"] == []


def test_metrics_need_a_token_even_with_a_session(client, alice):
    client.force_login(alice)
    response = client.get("/metrics")
    assert response.status_code == 401 and response.json()["error"]["code"] == "token-required"
    bad = client.get("/metrics", headers={"Authorization": "Bearer cs_nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad-token"
