"""Correctness fixes of issue 9 (items 7, 14, 15, 16, 17), each at the engine.

- a crash inside the analysis is ``analysis-failed``, never a chain verdict;
- weak signatures and keys follow the paths clients build;
- a leaf without SAN under a serverAuth-only intermediate keeps its chain;
- the no-SNI finding matches wildcards like clients do;
- every served and expected certificate carries its role.

No Django here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from scans.engine.analysis import ChainAnalysis, MemoryIssuerSource, analyse
from scans.engine.catalogue import CATALOGUE
from scans.engine.network import ProbeLimits, ProbeResult, StaticResolver
from scans.engine.policy import AddressPolicy
from scans.engine.report import EndpointReport, Report, Severity, Verdict
from scans.engine.scan import ScanConfig, Seams, run_scan
from scans.engine.targets import Target
from scans.engine.trust import TrustStore
from tests.pki import (
    DAY,
    NOW,
    Cast,
    Issued,
    cross_sign,
    intermediate,
    key_for,
    leaf,
    root,
    scenarios,
    trust_for,
)


def codes(result: ChainAnalysis | EndpointReport | Report) -> set[str]:
    items = result.all_findings() if isinstance(result, Report) else result.findings
    return {f.code for f in items}


def check(
    served: Sequence[Issued | bytes],
    host: str | None,
    anchors: Sequence[Issued],
    issuers: Sequence[Issued] = (),
    trust: TrustStore | None = None,
) -> ChainAnalysis:
    return analyse(
        [s if isinstance(s, bytes) else s.der for s in served],
        hostname=host,
        trust=trust or trust_for(tuple(a.der for a in anchors)),
        at=NOW,
        issuers=MemoryIssuerSource([i.der for i in issuers]),
    )


# --- 7. an internal failure is not a chain verdict ---------------------------------------


class BrokenTrustStore(TrustStore):
    """A trust store whose lookups fail, as a corrupt custom bundle or a bug would.

    The analysis takes any ``TrustStore``: this is the seam, not a patch of its
    internals.
    """

    def contains(self, sha256: str) -> bool:
        raise RuntimeError("trust store lookup failed")


def test_a_crash_inside_the_analysis_is_analysis_failed_not_a_chain_finding(pki: Cast) -> None:
    good = trust_for((pki.root.der,))
    broken = BrokenTrustStore(good.name, good.anchors, good.sources, good.store)

    result = check([pki.leaf, pki.issuing], "www.example.com", [], trust=broken)

    assert codes(result) == {"analysis-failed"}
    (found,) = result.findings
    assert found.severity is Severity.ERROR
    assert "chainscan itself failed while analysing" in found.detail
    assert "this is not a verdict on your chain" in found.detail
    assert "RuntimeError" in found.detail
    # No client verdict is made up: chainscan does not know what clients do.
    assert result.clients == ()
    assert result.verdict is Verdict.BROKEN  # the schema's enum; the code tells it apart
    # The served certificates are still listed as received.
    assert [c.sha256 for c in result.served] == [
        dataclasses.replace(c).sha256
        for c in check([pki.leaf, pki.issuing], "www.example.com", [pki.root]).served
    ]


def test_analysis_failed_is_in_the_catalogue_as_an_error() -> None:
    entry = CATALOGUE["analysis-failed"]
    assert entry.severity is Severity.ERROR and "chainscan" in entry.title


# --- 14. weak signatures and keys follow the paths clients build ---------------------------


@pytest.fixture(scope="module")
def weak_cross() -> tuple[Issued, Issued]:
    """A SHA-1 cross-sign of the trusted root by an untrusted 1024-bit legacy root."""
    from tests.pki import cast

    legacy = root("Weak Legacy Root", key=key_for("Weak Legacy Root", "rsa1024"))
    return cross_sign(cast().root, legacy, hash_name="sha1"), legacy


def test_an_unused_sha1_cross_sign_is_a_warning_not_a_broken_endpoint(
    pki: Cast, weak_cross: tuple[Issued, Issued]
) -> None:
    cross, _ = weak_cross
    result = check([pki.leaf, pki.issuing, cross], "www.example.com", [pki.root])

    assert all(c.accepts for c in result.clients)
    found = next(f for f in result.findings if f.code == "weak-signature")
    assert found.severity is not Severity.ERROR
    assert "no path clients build uses it" in found.detail
    assert found.fix.startswith("Remove CN=Example Root CA")
    assert result.verdict is not Verdict.BROKEN


def test_an_unused_weak_key_root_sent_along_is_a_warning_too(
    pki: Cast, weak_cross: tuple[Issued, Issued]
) -> None:
    cross, legacy = weak_cross
    result = check([pki.leaf, pki.issuing, cross, legacy], "www.example.com", [pki.root])

    assert all(c.accepts for c in result.clients)
    weak = {f.code: f for f in result.findings if f.code in ("weak-key", "weak-signature")}
    assert set(weak) == {"weak-key", "weak-signature"}
    assert all(f.severity is not Severity.ERROR for f in weak.values())
    assert "CN=Weak Legacy Root" in weak["weak-key"].detail
    assert result.verdict is Verdict.WARNING


def test_weak_certificates_on_the_path_clients_build_are_still_errors() -> None:
    for name_ in ("weak-signature", "weak-key-leaf", "weak-key-intermediate"):
        s = scenarios()[name_]
        result = analyse(list(s.served), hostname=s.hostname, trust=trust_for(s.anchors), at=NOW)
        assert {f.severity for f in result.findings if f.code.startswith("weak")} == {
            Severity.ERROR
        }, name_


# --- 15. no SAN under a serverAuth-only intermediate -------------------------------------------


def test_a_leaf_without_san_under_a_server_auth_only_ca_keeps_its_chain(pki: Cast) -> None:
    server_only = intermediate("Server Only CA", pki.root, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    no_san = leaf("nosan-eku.example.com", server_only, san=())

    result = check([no_san, server_only], "nosan-eku.example.com", [pki.root])

    assert codes(result) == {"no-san"}
    assert [c.common_name for c in result.expected] == ["nosan-eku.example.com", "Server Only CA"]
    assert result.anchor is not None and result.anchor.common_name == "Example Root CA"


def test_a_ca_restricted_to_client_auth_is_still_an_invalid_path_without_san(pki: Cast) -> None:
    client_only = intermediate("Client Only CA", pki.root, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    no_san = leaf("nosan-client.example.com", client_only, san=())

    result = check([no_san, client_only], "nosan-client.example.com", [pki.root])

    assert "invalid-path" in codes(result) and "no-san" in codes(result)
    found = next(f for f in result.findings if f.code == "invalid-path")
    assert "serverAuth" in found.detail


# --- 16. the no-SNI certificate is matched like clients match names --------------------------


class SniProber:
    """Serves one chain to clients that send SNI and another to those that do not."""

    def __init__(self, with_sni: list[bytes], without_sni: list[bytes]) -> None:
        self.with_sni, self.without_sni = with_sni, without_sni

    def probe(self, address: str, port: int, sni: str | None, limits: ProbeLimits) -> ProbeResult:
        chain = self.with_sni if sni is not None else self.without_sni
        return ProbeResult(chain=chain, tls_version="TLSv1.3", connect_ms=0.3, handshake_ms=1.0)


def scan(host: str, chains: Mapping[str, list[bytes]], pki: Cast) -> Report:
    return run_scan(
        Target(host=host, port=443),
        trust=trust_for((pki.root.der,)),
        config=ScanConfig(policy=AddressPolicy(allow_private=True)),
        seams=Seams(
            resolver=StaticResolver({host: ["192.0.2.10"]}),
            prober=SniProber(chains["sni"], chains["plain"]),
        ),
        at=NOW,
    )


def test_a_wildcard_default_certificate_covers_the_host_without_sni(pki: Cast) -> None:
    wildcard = leaf("*.example.com", pki.issuing, san=["*.example.com"])

    report = scan(
        "www.example.com",
        {"sni": [pki.leaf.der, pki.issuing.der], "plain": [wildcard.der, pki.issuing.der]},
        pki,
    )

    found = next(f for f in report.findings if f.code == "no-sni-different-cert")
    assert "does not cover" not in found.detail


@pytest.mark.parametrize("default_san", [["*.other.example"], ["*.com"], ["example.com"]])
def test_a_default_certificate_for_other_names_does_not_cover_the_host(
    pki: Cast, default_san: list[str]
) -> None:
    other = leaf("default.example", pki.issuing, san=default_san, key=key_for("leaf:default"))

    report = scan(
        "www.example.com",
        {"sni": [pki.leaf.der, pki.issuing.der], "plain": [other.der, pki.issuing.der]},
        pki,
    )

    found = next(f for f in report.findings if f.code == "no-sni-different-cert")
    assert "does not cover www.example.com" in found.detail


def test_the_host_expires_with_its_own_chain_not_with_the_default_certificate(pki: Cast) -> None:
    """The overview, the metrics and the alerts all read the report's valid_until:
    a default certificate that expires sooner, shown only to clients without SNI,
    must not make the host look as if it expires then."""
    soon = leaf(
        "default.example", pki.issuing, key=key_for("leaf:default"), not_after=NOW + 3 * DAY
    )

    report = scan(
        "www.example.com",
        {"sni": [pki.leaf.der, pki.issuing.der], "plain": [soon.der, pki.issuing.der]},
        pki,
    )

    (probe,) = [e for e in report.endpoints if e.sni is None]
    assert probe.valid_until is not None and probe.valid_until < NOW + 4 * DAY
    assert report.host_endpoints == tuple(e for e in report.endpoints if e.sni is not None)
    assert report.valid_until == min(e.valid_until for e in report.host_endpoints if e.valid_until)
    assert report.valid_until is not None and report.valid_until > NOW + 30 * DAY


# --- 17. roles of served and expected certificates ------------------------------------------------


def roles(name_: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    s = scenarios()[name_]
    result = analyse(
        list(s.served),
        hostname=s.hostname,
        trust=trust_for(s.anchors),
        at=s.at,
        issuers=MemoryIssuerSource(s.issuers),
    )
    assert len(result.served_roles) == len(result.served)
    assert len(result.expected_roles) == len(result.expected)
    return result.served_roles, result.expected_roles


@pytest.mark.parametrize(
    ("name_", "served", "expected"),
    [
        ("healthy", ("leaf", "in-place"), ("served", "served")),
        ("healthy-three-levels", ("leaf", "in-place", "in-place"), ("served",) * 3),
        # A valid cross-sign is another path, not an extra certificate.
        (
            "cross-sign-longer-valid-path",
            ("leaf", "in-place", "alternate-path"),
            ("served", "served"),
        ),
        (
            "cross-sign-to-root-not-in-store",
            ("leaf", "in-place", "alternate-path"),
            ("served", "served"),
        ),
        ("incomplete-chain", ("leaf",), ("served", "not-served")),
        ("wrong-order", ("leaf", "misplaced", "misplaced"), ("served",) * 3),
        ("leaf-not-first", ("misplaced", "misplaced"), ("served", "served")),
        ("contains-anchor", ("leaf", "in-place", "anchor-sent"), ("served", "served")),
        ("extra-certs", ("leaf", "in-place", "extra"), ("served", "served")),
        ("duplicate-cert", ("leaf", "in-place", "duplicate"), ("served", "served")),
        ("x1-x3", ("leaf", "wrong-issuer"), ("served", "not-served")),
        ("wrong-intermediate", ("leaf", "wrong-issuer"), ("served", "not-served")),
        ("x1-and-x3-both-served", ("leaf", "extra", "in-place"), ("served", "served")),
        ("unreadable-cert", ("leaf", "in-place", "unreadable"), ("served", "served")),
        ("untrusted-root", ("leaf", "in-place", "in-place"), ()),
    ],
)
def test_each_certificate_gets_its_role(
    name_: str, served: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert roles(name_) == (served, expected)


def test_a_pinned_self_signed_leaf_is_expected_as_its_own_anchor(pki: Cast) -> None:
    result = check([pki.self_signed_leaf], "selfsigned.example.com", [pki.self_signed_leaf])
    assert result.served_roles == ("leaf",)
    assert result.expected_roles == ("anchor",)


def test_roles_reach_the_endpoint_and_round_trip_through_json(pki: Cast) -> None:
    s = scenarios()["cross-sign-longer-valid-path"]
    result = analyse(list(s.served), hostname=s.hostname, trust=trust_for(s.anchors), at=NOW)
    endpoint = result.apply(EndpointReport(address="192.0.2.1", port=443, sni="www.example.com"))
    report = Report(
        host="www.example.com",
        port=443,
        trust_store="test",
        evaluated_at=NOW,
        endpoints=(endpoint,),
    )
    data = report.to_json()
    assert data["endpoints"][0]["served_roles"] == ["leaf", "in-place", "alternate-path"]
    assert data["endpoints"][0]["expected_roles"] == ["served", "served"]
    assert Report.from_json(data).endpoints[0].served_roles == endpoint.served_roles


def test_an_old_json_report_without_roles_still_loads() -> None:
    data = Report(
        host="h.example", port=443, trust_store="t", evaluated_at=dt.datetime(2025, 1, 1)
    ).to_json()
    data["endpoints"] = [{"address": "192.0.2.1", "port": 443, "sni": "h.example"}]
    assert Report.from_json(data).endpoints[0].served_roles == ()
