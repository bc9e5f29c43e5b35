"""Hostile servers through the whole scan: every case ends in a finding or an error, never a crash.

The engine's prober is tested mode by mode in tests/engine/test_network.py;
here the same servers go through `run_scan` (analysis included) and, for the
nastiest ones, through the real worker and the report page.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from scans.engine.analysis import AnalysisLimits
from scans.engine.network import ProbeLimits, StaticResolver
from scans.engine.policy import AddressPolicy
from scans.engine.scan import ScanConfig, Seams, run_scan
from scans.engine.targets import Target
from scans.engine.trust import empty_store
from scans.models import Scan
from tests.conftest import wait_for_scan
from tests.tlsserver import TLSServer, hostile_names_chain, huge_cert_chain, many_certs_chain

HOST = "hostile.chainscan.test"
LIMITS = ProbeLimits(connect_timeout=2, handshake_timeout=2)


def scan(server: TLSServer):  # type: ignore[no-untyped-def]
    config = ScanConfig(
        policy=AddressPolicy(allow_private=True),
        probe=LIMITS,
        scan_timeout=10,
        analysis=AnalysisLimits(),
    )
    seams = Seams(resolver=StaticResolver({HOST: [server.address]}))
    started = time.monotonic()
    report = run_scan(Target(HOST, server.port), trust=empty_store(), config=config, seams=seams)
    return report, time.monotonic() - started


def codes(report) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.code for e in report.endpoints if e.sni is not None for f in e.findings}


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("garbage", "not-tls"),
        ("http", "not-tls"),
        ("close", "handshake-failed"),
        ("reset", "handshake-failed"),
        ("stall", "timeout"),
        ("trickle", "timeout"),
        ("malformed-der", "handshake-failed"),
    ],
)
def test_a_misbehaving_server_ends_the_scan_with_a_named_error(mode, code):
    with TLSServer(mode=mode) as server:
        report, elapsed = scan(server)
    assert code in codes(report)
    assert report.error  # nothing could be read: the scan says why
    assert elapsed < 10  # bounded by the handshake timeout, not by the server


def test_two_hundred_certificates_are_flagged_as_too_many():
    chain, key = many_certs_chain(200)
    with TLSServer(chain, key) as server:
        report, _ = scan(server)
    endpoint = next(e for e in report.endpoints if e.sni)
    assert len(endpoint.served) == 200
    assert "too-many-certs" in codes(report)


def test_a_one_megabyte_certificate_is_refused_without_exhausting_memory():
    chain, key = huge_cert_chain()
    with TLSServer(chain, key) as server:
        report, _ = scan(server)
    assert "too-many-certs" in codes(report)
    assert all(not e.served for e in report.endpoints)


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_html_in_certificate_names_is_shown_escaped_on_the_report(alice_client, celery_worker):
    chain, key = hostile_names_chain("single.chainscan.test")
    with TLSServer(chain, key) as server:
        alice_client.post(reverse("home"), {"targets": f"single.chainscan.test:{server.port}"})
        scan_row = wait_for_scan(Scan.objects.get().token)
    html = alice_client.get(reverse("report", args=[scan_row.token])).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html
