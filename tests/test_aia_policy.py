"""The worker's issuer fetcher has its own address policy, stricter than the scan's.

Scanning private addresses may be allowed (the test suite allows it); issuer
URLs come from certificates anyone can make, so they reach public addresses
on ports 80 and 8080 only unless CHAINSCAN_AIA_ALLOWED_NETWORKS and
CHAINSCAN_AIA_ALLOWED_PORTS say otherwise.
"""

from __future__ import annotations

import datetime as dt

import pytest

from scans import scanning
from scans.engine.errors import FetchError
from scans.engine.network import StaticResolver
from scans.engine.scan import Seams, run_scan
from scans.engine.targets import Target
from tests import pki
from tests.httpserver import CertHTTPServer, TextHTTPServer
from tests.tlsserver import TLSServer

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def issuer_server():  # type: ignore[no-untyped-def]
    root = pki.root("AIA Policy Root")
    inter = pki.intermediate("AIA Policy CA", root)
    with CertHTTPServer({"/ca.der": inter.der}) as server:
        yield server


def test_issuer_urls_on_loopback_are_refused_by_default_though_scans_may_go_there(
    settings, issuer_server
):
    assert settings.CHAINSCAN_ALLOW_PRIVATE_ADDRESSES is True
    settings.CHAINSCAN_AIA_ALLOWED_NETWORKS = []
    settings.CHAINSCAN_AIA_ALLOWED_PORTS = None  # any port: only the address rule is tested

    with pytest.raises(FetchError, match=r"127\.0\.0\.1 is a loopback address"):
        scanning.issuer_fetcher().fetch(issuer_server.url("/ca.der"))
    assert issuer_server.requests == 0


def test_issuer_urls_on_other_ports_than_80_and_8080_are_refused_by_default(
    settings, issuer_server
):
    settings.CHAINSCAN_AIA_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.CHAINSCAN_AIA_ALLOWED_PORTS = [80, 8080]

    with pytest.raises(FetchError, match=f"points at port {issuer_server.port};"):
        scanning.issuer_fetcher().fetch(issuer_server.url("/ca.der"))
    assert issuer_server.requests == 0


def test_the_operator_allows_a_network_and_a_port_for_issuer_urls(settings, issuer_server):
    settings.CHAINSCAN_AIA_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.CHAINSCAN_AIA_ALLOWED_PORTS = [80, 8080, issuer_server.port]

    assert scanning.issuer_fetcher().fetch(issuer_server.url("/ca.der"))
    assert issuer_server.requests == 1


@pytest.mark.django_db
def test_a_scan_report_never_echoes_what_an_internal_issuer_url_answered(settings):
    root = pki.root("Echo Root")
    inter = pki.intermediate("Echo CA", root)
    secret = b"SECRET-INTERNAL-BANNER: build 1234, db=10.0.0.5"
    with TextHTTPServer(secret, status=500) as web:
        leaf = pki.leaf("echo.chainscan.test", inter, aia=web.url("/ca.der"))
        with TLSServer([leaf.der], leaf.key) as tls:
            report = run_scan(
                Target("echo.chainscan.test", tls.port),
                trust=scanning.trust_store(),
                config=scanning.scan_config(),
                seams=Seams(
                    resolver=StaticResolver({"echo.chainscan.test": [tls.address]}),
                    fetcher=scanning.issuer_fetcher(),
                ),
            )
    text = str(report.to_json())
    assert "aia-fetch-failed" in text
    assert f"not a certificate ({len(secret)} bytes)" in text
    for leaked in ("SECRET", "build 1234", "10.0.0.5"):
        assert leaked not in text
