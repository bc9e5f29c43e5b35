"""Hostile servers through the whole scan: every case ends in a finding or an error, never a crash.

The engine's prober is tested mode by mode in tests/engine/test_network.py;
here the same servers go through `run_scan` (analysis included) and, for the
nastiest ones, through the real worker and the report page.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.urls import reverse

from scans.engine.aia import HttpIssuerFetcher
from scans.engine.analysis import AnalysisLimits
from scans.engine.network import OpenSSLProber, ProbeLimits, StaticResolver
from scans.engine.policy import AddressPolicy
from scans.engine.scan import ScanConfig, Seams, run_scan
from scans.engine.targets import Target
from scans.engine.trust import empty_store
from scans.models import Scan
from tests.conftest import wait_for_scan
from tests.httpserver import Tarpit, tarpit_host
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


def test_two_hundred_certificates_are_refused_as_too_many_and_none_is_kept():
    """A server sending fresh junk every scan must not fill the disk: past
    ScanConfig.max_served_certs (32) nothing of the chain is kept to persist."""
    chain, key = many_certs_chain(200)
    with TLSServer(chain, key) as server:
        report, _ = scan(server)
    endpoint = next(e for e in report.endpoints if e.sni)
    assert endpoint.served == ()
    assert endpoint.error == "too-many-certs"
    assert (
        "sent 200 certificates, more than the 32 chainscan accepts" in endpoint.findings[0].detail
    )


def test_a_long_chain_within_the_cap_is_analysed_and_flagged():
    chain, key = many_certs_chain(32)
    with TLSServer(chain, key) as server:
        report, _ = scan(server)
    endpoint = next(e for e in report.endpoints if e.sni)
    assert len(endpoint.served) == 32
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


def test_stalling_addresses_end_as_timeouts_when_the_scan_budget_runs_out():
    """Three addresses that accept and never answer: the scan stops at its own budget
    (1.5 s), well before the handshake timeout (5 s), and names each address."""
    first = TLSServer(mode="stall", host="127.0.0.2").start()
    servers = [first] + [
        TLSServer(mode="stall", host=f"127.0.0.{i}", port=first.port).start() for i in (3, 4)
    ]
    try:
        config = ScanConfig(
            policy=AddressPolicy(allow_private=True),
            probe=ProbeLimits(connect_timeout=2, handshake_timeout=5),
            scan_timeout=1.5,
        )
        seams = Seams(resolver=StaticResolver({HOST: [s.address for s in servers]}))
        started = time.monotonic()
        report = run_scan(Target(HOST, first.port), trust=empty_store(), config=config, seams=seams)
        elapsed = time.monotonic() - started
    finally:
        for server in servers:
            server.stop()
    assert elapsed < 3
    assert report.error
    for endpoint in report.endpoints:
        assert endpoint.error == "timeout", endpoint
        assert endpoint.address in endpoint.findings[0].detail


class CountingProber(OpenSSLProber):
    """The real prober, counting how many handshakes are in flight at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0

    def probe(self, address, port, sni, limits):  # type: ignore[no-untyped-def]
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return super().probe(address, port, sni, limits)
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.parametrize("parallelism", [1, 2, 8])
def test_a_scan_keeps_at_most_its_parallelism_of_handshakes_in_flight(parallelism):
    first = TLSServer(host="127.0.0.2", delay=0.2).start()
    servers = [first] + [
        TLSServer(host=f"127.0.0.{i}", port=first.port, delay=0.2).start() for i in (3, 4, 5)
    ]
    prober = CountingProber()
    try:
        config = ScanConfig(policy=AddressPolicy(allow_private=True), parallelism=parallelism)
        seams = Seams(resolver=StaticResolver({HOST: [s.address for s in servers]}), prober=prober)
        report = run_scan(Target(HOST, first.port), trust=empty_store(), config=config, seams=seams)
    finally:
        for server in servers:
            server.stop()
    assert len(report.endpoints) == 5  # four addresses and the no-SNI probe
    assert all(e.served for e in report.endpoints)
    assert prober.most == min(parallelism, 5)


def _tarpit_scan(*, scan_timeout: float, per_scan: int):  # type: ignore[no-untyped-def]
    """Scan six addresses serving six leaves with eight tarpit AIA URLs each.

    Returns the report, the seconds it took and the connections the tarpit saw.
    """
    config = ScanConfig(
        policy=AddressPolicy(allow_private=True),
        probe=LIMITS,
        scan_timeout=scan_timeout,
        max_aia_fetches=per_scan,
    )
    fetcher = HttpIssuerFetcher(AddressPolicy(allow_private=True), timeout=2, allowed_ports=None)
    with Tarpit() as tarpit:
        servers = tarpit_host(tarpit, HOST, count=6, urls=8)
        resolver = StaticResolver({HOST: [s.address for s in servers]})
        started = time.monotonic()
        try:
            report = run_scan(
                Target(HOST, servers[0].port),
                trust=empty_store(),
                config=config,
                seams=Seams(resolver=resolver, fetcher=fetcher),
            )
        finally:
            for server in servers:
                server.stop()
        return report, time.monotonic() - started, tarpit.connections


def _aia_details(report) -> str:  # type: ignore[no-untyped-def]
    return " ".join(
        f.detail for e in report.endpoints for f in e.findings if f.code == "aia-fetch-failed"
    )


def test_a_host_of_tarpit_issuer_urls_costs_the_scan_its_fetch_cap_and_says_so():
    """Without a per-scan budget this was 4 fetches × 2 s per endpoint (7 endpoints),
    ~56 s; now 3 fetches in all."""
    report, elapsed, connections = _tarpit_scan(scan_timeout=30, per_scan=3)

    assert connections == 3
    assert report.error is None
    assert all(e.served for e in report.endpoints)
    assert "the scan's AIA budget was used up (3 fetches per scan)" in _aia_details(report)
    assert elapsed < 3 * 2 + 10  # three 2 s timeouts and the handshakes, far below ~56 s


def test_a_host_of_tarpit_issuer_urls_stops_fetching_at_the_scan_deadline_and_says_so():
    report, elapsed, _ = _tarpit_scan(scan_timeout=3, per_scan=100)

    assert report.error is None
    assert all(e.served for e in report.endpoints)
    assert "the scan's AIA budget was used up (its 3 s deadline had passed)" in _aia_details(report)
    assert elapsed < 3 + 5
