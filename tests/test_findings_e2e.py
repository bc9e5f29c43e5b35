"""Every finding of the catalogue, end to end: a real TLS server on loopback serving the
scenario's chain, scanned by the engine over the network (issuers fetched from a real
HTTP server), and the same chain through `chainscan check`.

The scenarios (tests/pki.py) say which codes each chain must produce; the
analysis is unit-tested in tests/engine/test_analysis.py. Here the point is that
nothing between the wire and the report changes the diagnosis.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509

from scans.engine.aia import HttpIssuerFetcher
from scans.engine.analysis import AnalysisLimits, MemoryIssuerSource
from scans.engine.certs import describe, load_certificate, pem_bundle
from scans.engine.cli import main
from scans.engine.errors import FetchError
from scans.engine.network import ProbeLimits, StaticResolver
from scans.engine.policy import AddressPolicy
from scans.engine.scan import ScanConfig, Seams, run_scan
from scans.engine.targets import Target
from scans.engine.trust import build_store
from tests import pki
from tests.httpserver import CertHTTPServer
from tests.tlsserver import TLSServer, TLSServerError

SCENARIOS = pki.scenarios()
AIA_ADDRESS = "127.0.0.9"


def _keys() -> dict[bytes, object]:
    cast = pki.cast()
    return {value.der: value.key for value in vars(cast).values() if isinstance(value, pki.Issued)}


@pytest.fixture(scope="module")
def aia_server() -> Iterator[CertHTTPServer | None]:
    """A real HTTP server where the scenarios' caIssuers URLs point (port 80 on 127.0.0.9)."""
    try:
        server = CertHTTPServer({}, host=AIA_ADDRESS, port=80)
    except OSError:  # not root, or the port is taken
        yield None
        return
    with server:
        yield server


def _store(scenario: pki.Scenario):  # type: ignore[no-untyped-def]
    return build_store(
        "test roots", [(x509.load_der_x509_certificate(a), "test roots") for a in scenario.anchors]
    )


def _servable(scenario: pki.Scenario) -> str | None:
    if not scenario.served or scenario.hostname is None:
        return "nothing to serve, or no host name to send as SNI"
    if load_certificate(scenario.served[0]) is None:
        return "OpenSSL will not serve bytes that are not a certificate"
    if scenario.served[0] not in _keys():
        return "no private key for the leaf"
    return None


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_scan_of_a_real_server_reports_the_scenarios_findings(name, aia_server):
    scenario = SCENARIOS[name]
    reason = _servable(scenario)
    if reason:
        pytest.skip(reason)
    if scenario.aia and aia_server is None:
        pytest.skip("cannot bind port 80 on 127.0.0.9 for the issuer server")
    if scenario.aia:
        aia_server.files = {
            urlsplit(url).path: body
            for url, body in scenario.aia.items()
            if not isinstance(body, FetchError)
        }
    address = "127.0.0.8"
    try:
        server = TLSServer(list(scenario.served), _keys()[scenario.served[0]], host=address)
    except TLSServerError as exc:
        pytest.skip(f"OpenSSL refuses to serve this chain: {exc}")
    policy = AddressPolicy(allow_private=True)
    resolver = StaticResolver({scenario.hostname: [address], "ca.example.test": [AIA_ADDRESS]})
    seams = Seams(
        resolver=resolver,
        issuers=MemoryIssuerSource(list(scenario.issuers)),
        fetcher=HttpIssuerFetcher(policy, resolver, timeout=2, allowed_ports=None)
        if scenario.aia
        else None,
    )
    config = ScanConfig(
        policy=policy,
        probe=ProbeLimits(connect_timeout=2, handshake_timeout=3),
        analysis=scenario.limits,
        no_sni_probe=False,
    )
    with server:
        report = run_scan(
            Target(scenario.hostname, server.port),
            trust=_store(scenario),
            config=config,
            seams=seams,
            at=scenario.at,
        )
    (endpoint,) = report.endpoints
    assert endpoint.served_fingerprint() == tuple(describe(d).sha256 for d in scenario.served)
    assert {f.code for f in endpoint.findings} == scenario.codes


def _offline(scenario: pki.Scenario) -> str | None:
    if scenario.issuers or scenario.aia:
        return "needs an issuer source or AIA, which an offline check does not have"
    if not scenario.served:
        return "an empty file is a usage error for the CLI"
    if scenario.limits != AnalysisLimits():
        return "uses limits the CLI does not expose"
    return None


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_chainscan_check_reports_the_scenarios_findings(name, tmp_path: Path, capsys):
    scenario = SCENARIOS[name]
    reason = _offline(scenario)
    if reason:
        pytest.skip(reason)
    chain = tmp_path / "chain.pem"
    chain.write_text(pem_bundle([describe(d) for d in scenario.served]))
    roots = tmp_path / "roots.pem"
    roots.write_text(pem_bundle([describe(d) for d in scenario.anchors]))
    args = [
        "check",
        str(chain),
        "--trust-store",
        "none",
        "--ca-file",
        str(roots),
        "--at",
        scenario.at.isoformat(),
        "--json",
        "--no-aia",
    ]
    if scenario.hostname:
        args += ["--host", scenario.hostname]
    code = main(args)
    report = json.loads(capsys.readouterr().out)
    codes = {f["code"] for f in report["endpoints"][0]["findings"]}
    assert codes == scenario.codes
    severities = {f["severity"] for f in report["endpoints"][0]["findings"]}
    assert code == (1 if severities - {"info"} else 0)


def test_every_chain_decidable_code_of_the_catalogue_has_a_scenario():
    from scans.engine.catalogue import CATALOGUE

    network_codes = {
        "dns-failed",
        "address-blocked",
        "connect-failed",
        "timeout",
        "not-tls",
        "handshake-failed",
        "endpoints-differ",
        "no-sni-different-cert",
        # chainscan's own failure: no chain produces it (tests/engine/test_correctness.py).
        "analysis-failed",
    }
    # Judged over the real root stores (no crafted PKI is in them): tests/engine/test_platforms.py.
    platform_codes = {"missing-on-platforms"}
    covered = set().union(*(s.codes for s in SCENARIOS.values()))
    assert set(CATALOGUE) - network_codes - platform_codes <= covered
