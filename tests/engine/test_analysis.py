"""Chain analysis: served vs expected chains, findings in words, client verdicts.

Every crafted chain of ``tests.pki.scenarios()`` must get exactly its finding
codes; the tests below then check the words (the certificates are named, the
fix names the right certificate), the client verdicts, the expected chain and
the dates. Property tests feed subsets, permutations, repetitions and garbage.
No Django here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from scans.engine.analysis import (
    AnalysisLimits,
    ChainAnalysis,
    MemoryFetcher,
    MemoryIssuerSource,
    analyse,
)
from scans.engine.catalogue import CATALOGUE, affected_clients, make_finding
from scans.engine.certs import describe
from scans.engine.evidence import hostname_matches
from scans.engine.explain import explain_verifier_error
from scans.engine.report import EndpointReport, Finding, Severity, Verdict
from scans.engine.trust import build_store, empty_store
from tests.pki import (
    CA_URL,
    DAY,
    NOW,
    Cast,
    Issued,
    Scenario,
    cast,
    intermediate,
    key_for,
    leaf,
    name,
    root,
    scenarios,
    trust_for,
)

CHAIN_CODES = {
    "incomplete-chain",
    "wrong-intermediate-same-key",
    "wrong-intermediate",
    "wrong-order",
    "contains-anchor",
    "extra-certs",
    "duplicate-cert",
    "leaf-expired",
    "leaf-not-yet-valid",
    "leaf-expiring-soon",
    "intermediate-expired",
    "hostname-mismatch",
    "no-san",
    "self-signed-leaf",
    "untrusted-root",
    "root-expired",
    "invalid-path",
    "weak-signature",
    "weak-key",
    "too-many-certs",
    "aia-fetch-failed",
    "unreadable-cert",
    "no-certificate",
}
NETWORK_CODES = {
    "dns-failed",
    "address-blocked",
    "connect-failed",
    "timeout",
    "not-tls",
    "handshake-failed",
    "endpoints-differ",
    "no-sni-different-cert",
    "analysis-failed",
}
# Judged over real root stores, not crafted PKIs: tests/engine/test_platforms.py covers it.
PLATFORM_CODES = {"missing-on-platforms"}
CRASH = "chainscan itself failed"


def run(s: Scenario, **changes: object) -> ChainAnalysis:
    """Analyse a scenario, optionally with some of its fields changed."""
    s = dataclasses.replace(s, **changes)  # type: ignore[arg-type]
    return analyse(
        list(s.served),
        hostname=s.hostname,
        trust=trust_for(s.anchors),
        at=s.at,
        issuers=MemoryIssuerSource(s.issuers),
        fetcher=MemoryFetcher(s.aia) if s.aia is not None else None,
        limits=s.limits,
    )


def scenario(name_: str) -> Scenario:
    return scenarios()[name_]


def finding(result: ChainAnalysis, code: str) -> Finding:
    found = [f for f in result.findings if f.code == code]
    assert len(found) == 1, [f.code for f in result.findings]
    return found[0]


def verdicts(result: ChainAnalysis) -> dict[str, bool]:
    return {c.family: c.accepts for c in result.clients}


def reason(result: ChainAnalysis, family: str) -> str:
    return next(c.reason for c in result.clients if c.family == family)


def labels(certs: tuple[object, ...]) -> list[str]:
    return [c.common_name for c in certs]  # type: ignore[attr-defined]


def short(cert: Issued) -> str:
    return describe(cert.der).short_fingerprint


# --- the catalogue -------------------------------------------------------------------


@pytest.mark.parametrize("name_", sorted(scenarios()))
def test_each_crafted_chain_gets_exactly_its_findings(name_: str) -> None:
    s = scenario(name_)
    result = run(s)
    assert {f.code for f in result.findings} == s.codes, s.description
    assert result.verdict == Verdict.from_findings(result.findings)


def test_every_chain_finding_code_has_a_scenario() -> None:
    covered = set().union(*(s.codes for s in scenarios().values()))
    assert covered >= CHAIN_CODES


def test_the_catalogue_holds_every_code_of_the_design_with_a_title() -> None:
    assert set(CATALOGUE) == CHAIN_CODES | NETWORK_CODES | PLATFORM_CODES
    for code, entry in CATALOGUE.items():
        assert entry.code == code and entry.title and entry.meaning


def test_make_finding_takes_severity_and_title_from_the_catalogue() -> None:
    made = make_finding("incomplete-chain", "d", "f", certificates=["a", "a"], clients=["strict"])
    assert (made.severity, made.title) == (Severity.ERROR, CATALOGUE["incomplete-chain"].title)
    assert made.certificates == ("a",)
    with pytest.raises(ValueError, match="unknown finding code"):
        make_finding("no-such-code", "d", "f")


# --- the X1/X3 case ------------------------------------------------------------------


def test_it_flags_a_served_x1_as_same_key_not_incomplete(pki: Cast) -> None:
    result = run(scenario("x1-x3"))
    assert {f.code for f in result.findings} == {"wrong-intermediate-same-key"}
    found = finding(result, "wrong-intermediate-same-key")
    assert found.severity is Severity.ERROR
    x1, x3 = describe(pki.x1.der), describe(pki.x3.der)
    assert "CN=Example Authority X1" in found.detail and short(pki.x1) in found.detail
    assert "CN=Example Authority X3" in found.detail and short(pki.x3) in found.detail
    assert x1.spki_sha256 == x3.spki_sha256 and x1.spki_sha256[:16] in found.detail
    assert x1.ski and x1.ski[:16] in found.detail  # the SKI that matches the leaf's AKI
    for client in ("Chrome", "Windows", "Apple", "Firefox", "curl", "OpenSSL", "Java", "Python"):
        assert client in found.detail
    assert found.fix.startswith(f"Stop serving CN=Example Authority X1 (sha256 {short(pki.x1)})")
    assert (
        f"1. leaf CN=x3.example.com (sha256 {short(pki.leaf_x3)}) "
        f"2. intermediate CN=Example Authority X3 (sha256 {short(pki.x3)})" in found.fix
    )
    assert set(found.certificates) == {x1.sha256, x3.sha256, describe(pki.leaf_x3.der).sha256}


def test_the_x1_x3_expected_chain_swaps_in_x3_and_browsers_may_cope(pki: Cast) -> None:
    result = run(scenario("x1-x3"))
    assert labels(result.expected) == ["x3.example.com", "Example Authority X3"]
    assert result.anchor is not None and result.anchor.common_name == "Example Root CA"
    assert verdicts(result) == {"strict": False, "aia": False, "preload": True}
    assert "right key but not the name CN=Example Authority X3" in reason(result, "strict")
    assert reason(result, "aia").startswith(f"May accept if it can fetch {CA_URL}/x3.der")
    assert "stands in for Firefox's preloaded intermediates" in reason(result, "preload")
    assert finding(result, "wrong-intermediate-same-key").clients == ("strict", "aia")


def test_it_says_same_key_even_when_x3_is_nowhere_to_be_found() -> None:
    result = run(scenario("x1-x3-nothing-known"))
    found = finding(result, "wrong-intermediate-same-key")
    assert result.expected == () and result.verdict is Verdict.BROKEN
    assert "Ask your certificate authority for the intermediate named CN=Example Authority X3" in (
        found.fix
    )
    assert "Intermediate Certification Authorities store" in found.fix  # the IIS lesson


def test_it_fetches_x3_from_the_aia_url_and_hands_it_back_to_remember(pki: Cast) -> None:
    s = scenario("x1-x3-aia")
    fetcher = MemoryFetcher(dict(s.aia or {}))
    result = analyse(
        list(s.served), hostname=s.hostname, trust=trust_for(s.anchors), at=s.at, fetcher=fetcher
    )
    assert fetcher.requested == [f"{CA_URL}/x3.der"]
    assert result.fetched == (pki.x3.der,)
    assert verdicts(result) == {"strict": False, "aia": True, "preload": False}
    assert f"from {CA_URL}/x3.der" in reason(result, "aia")
    assert labels(result.expected) == ["x3.example.com", "Example Authority X3"]


# --- chain shape ---------------------------------------------------------------------


def test_it_names_the_missing_intermediate_and_the_order_to_serve(pki: Cast) -> None:
    result = run(scenario("incomplete-chain"))
    found = finding(result, "incomplete-chain")
    assert f"does not send CN=Example Issuing CA 1 (sha256 {short(pki.issuing)})" in found.detail
    assert "curl" in found.detail and f"{CA_URL}/issuing1.der" in found.detail
    assert found.fix.startswith(
        f"Serve, in this order: 1. leaf CN=www.example.com (sha256 {short(pki.leaf)}) "
        f"2. intermediate CN=Example Issuing CA 1 (sha256 {short(pki.issuing)})"
    )
    assert verdicts(result) == {"strict": False, "aia": False, "preload": True}
    assert reason(result, "strict").endswith("and these clients never fill gaps.")


def test_an_issuer_nobody_knows_is_still_a_missing_intermediate() -> None:
    result = run(scenario("incomplete-chain-issuer-unknown"))
    found = finding(result, "incomplete-chain")
    assert "could not find it" in found.detail
    assert "Ask your certificate authority for the intermediate named CN=Example Issuing CA 1" in (
        found.fix
    )
    assert result.expected == () and not any(verdicts(result).values())


def test_aia_fetchers_accept_a_gap_the_aia_url_fills(pki: Cast) -> None:
    result = run(scenario("incomplete-chain-fixed-by-aia"))
    assert verdicts(result) == {"strict": False, "aia": True, "preload": False}
    assert result.fetched == (pki.issuing.der,)
    assert "download it from the AIA address and cope" in finding(result, "incomplete-chain").detail


def test_a_failed_aia_download_is_a_warning_that_says_why() -> None:
    result = run(scenario("aia-fetch-failed"))
    found = finding(result, "aia-fetch-failed")
    assert found.severity is Severity.WARNING
    assert f"{CA_URL}/issuing1.der" in found.detail and "timed out after 5 s" in found.detail
    assert "failed (timed out after 5 s)" in reason(result, "aia")
    assert result.fetched == ()


def test_it_does_not_remember_what_a_hostile_aia_url_returns(pki: Cast) -> None:
    s = scenario("incomplete-chain")
    result = run(s, issuers=(), aia={f"{CA_URL}/issuing1.der": pki.other_issuing.der})
    assert result.fetched == ()
    detail = finding(result, "aia-fetch-failed").detail
    assert "it returned CN=Other Issuing CA" in detail and "not the issuer" in detail


def test_an_aia_url_that_answers_with_the_certificate_itself_ends_in_a_finding(
    pki: Cast,
) -> None:
    s = scenario("incomplete-chain")
    fetcher = MemoryFetcher({f"{CA_URL}/issuing1.der": s.served[0]})
    result = analyse(
        list(s.served), hostname=s.hostname, trust=trust_for(s.anchors), at=s.at, fetcher=fetcher
    )
    assert fetcher.requested == [f"{CA_URL}/issuing1.der"]  # asked once, no loop
    assert result.fetched == ()
    assert "not the issuer" in finding(result, "aia-fetch-failed").detail
    assert "incomplete-chain" in {f.code for f in result.findings}


def test_a_fetcher_that_crashes_is_a_failed_fetch_not_a_crash() -> None:
    class Broken:
        def fetch(self, url: str) -> list[bytes]:
            raise RuntimeError("boom")

    s = scenario("incomplete-chain")
    result = analyse(
        list(s.served), hostname=s.hostname, trust=trust_for(s.anchors), at=s.at, fetcher=Broken()
    )
    assert "unexpected error: boom" in finding(result, "aia-fetch-failed").detail


def test_aia_fetches_stop_at_the_limit() -> None:
    s = scenario("incomplete-chain")
    fetcher = MemoryFetcher({})
    result = analyse(
        list(s.served),
        hostname=s.hostname,
        trust=trust_for(s.anchors),
        at=s.at,
        fetcher=fetcher,
        limits=AnalysisLimits(max_aia_fetches=0),
    )
    assert fetcher.requested == []
    assert "fetch limit reached" in reason(result, "aia")


def test_an_issuer_source_that_fails_does_not_fail_the_analysis() -> None:
    class Down:
        def issuers_for(self, cert: object) -> list[bytes]:
            raise ConnectionError("database is down")

    s = scenario("incomplete-chain")
    result = analyse(
        list(s.served), hostname=s.hostname, trust=trust_for(s.anchors), at=s.at, issuers=Down()
    )
    assert {f.code for f in result.findings} == {"incomplete-chain"}


def test_the_memory_issuer_source_answers_by_issuer_name(pki: Cast) -> None:
    source = MemoryIssuerSource([pki.issuing.der, pki.x1.der, b"junk"])
    assert source.issuers_for(describe(pki.leaf.der)) == [pki.issuing.der]
    assert source.issuers_for(describe(pki.leaf_x3.der)) == []


def test_a_served_intermediate_from_elsewhere_is_a_wrong_intermediate(pki: Cast) -> None:
    result = run(scenario("wrong-intermediate"))
    found = finding(result, "wrong-intermediate")
    assert f"sends CN=Other Issuing CA (sha256 {short(pki.other_issuing)})" in found.detail
    assert "does not issue CN=www.example.com" in found.detail
    assert found.fix.startswith(
        f"Replace CN=Other Issuing CA (sha256 {short(pki.other_issuing)}) with "
        f"CN=Example Issuing CA 1 (sha256 {short(pki.issuing)})"
    )


def test_right_certificates_in_the_wrong_order_are_a_warning_with_the_right_order() -> None:
    result = run(scenario("wrong-order"))
    found = finding(result, "wrong-order")
    assert found.severity is Severity.WARNING and result.verdict is Verdict.WARNING
    assert re.search(
        r"1\. leaf CN=deep.+2\. intermediate CN=Example Issuing CA 3.+3\. "
        r"intermediate CN=Example Policy CA",
        found.fix,
    )
    assert all(verdicts(result).values())
    assert labels(result.expected) == [
        "deep.example.com",
        "Example Issuing CA 3",
        "Example Policy CA",
    ]


def test_an_intermediate_sent_first_breaks_every_client() -> None:
    result = run(scenario("leaf-not-first"))
    found = finding(result, "wrong-order")
    assert found.severity is Severity.ERROR
    assert "The first certificate must be the server's own" in found.detail
    assert not any(verdicts(result).values())
    assert labels(result.expected) == ["www.example.com", "Example Issuing CA 1"]


def test_a_sent_root_is_information_only(pki: Cast) -> None:
    result = run(scenario("contains-anchor"))
    found = finding(result, "contains-anchor")
    assert found.severity is Severity.INFO and result.verdict is Verdict.OK
    assert f"CN=Example Root CA (sha256 {short(pki.root)})" in found.detail
    assert "the root the chain ends at" in found.detail


def test_certificates_on_no_path_are_extra(pki: Cast) -> None:
    result = run(scenario("extra-certs"))
    found = finding(result, "extra-certs")
    assert found.severity is Severity.WARNING
    assert f"CN=Other Issuing CA (sha256 {short(pki.other_issuing)})" in found.detail
    assert found.fix.startswith("Remove CN=Other Issuing CA")


def test_a_valid_cross_sign_is_a_longer_path_not_an_extra_certificate() -> None:
    for name_ in ("cross-sign-longer-valid-path", "cross-sign-to-root-not-in-store"):
        result = run(scenario(name_))
        assert result.findings == () and result.verdict is Verdict.OK
        assert labels(result.expected) == ["www.example.com", "Example Issuing CA 1"]


def test_a_repeated_certificate_is_named_with_its_positions() -> None:
    found = finding(run(scenario("duplicate-cert")), "duplicate-cert")
    assert "CN=Example Issuing CA 1" in found.detail and "positions 2, 3" in found.detail


def test_too_many_certificates_break_java_with_the_default_limit(pki: Cast) -> None:
    fillers = [intermediate(f"Filler CA {i}", pki.other_root).der for i in range(9)]
    served = [pki.leaf.der, pki.issuing.der, *fillers]
    result = analyse(served, hostname="www.example.com", trust=trust_for((pki.root.der,)), at=NOW)
    assert {f.code for f in result.findings} == {"too-many-certs", "extra-certs"}
    assert "sends 11 certificates" in finding(result, "too-many-certs").detail
    assert verdicts(result) == {"strict": False, "aia": True, "preload": True}
    assert "Java refuses more than 10" in reason(result, "strict")


# --- validity ------------------------------------------------------------------------


def test_a_healthy_chain_is_ok_with_its_expected_chain_and_dates(pki: Cast) -> None:
    result = run(scenario("healthy"))
    assert result.findings == () and result.verdict is Verdict.OK
    assert labels(result.expected) == ["www.example.com", "Example Issuing CA 1"]
    assert result.anchor is not None and result.anchor.common_name == "Example Root CA"
    assert result.anchor_source == "test roots"
    assert result.valid_until == pki.leaf.cert.not_valid_after_utc
    assert all(c.accepts for c in result.clients) and len(result.clients) == 3
    assert [c.family for c in result.clients] == ["strict", "aia", "preload"]


def test_the_expected_chain_runs_leaf_first_without_the_root() -> None:
    result = run(scenario("healthy-three-levels"))
    assert labels(result.expected) == [
        "deep.example.com",
        "Example Issuing CA 3",
        "Example Policy CA",
    ]
    assert result.anchor is not None and result.anchor.common_name == "Example Root CA"


def test_an_expired_leaf_is_an_error_and_the_chain_to_serve_is_still_shown(pki: Cast) -> None:
    s = scenario("leaf-expired")
    result = run(s)
    found = finding(result, "leaf-expired")
    assert "expired on 2025-07-31 12:00 UTC" in found.detail and "Renew" in found.fix
    assert not any(verdicts(result).values())
    assert labels(result.expected) == ["www.example.com", "Example Issuing CA 1"]
    assert result.valid_until == pki.leaf.cert.not_valid_after_utc


def test_a_leaf_from_the_future_is_an_error() -> None:
    found = finding(run(scenario("leaf-not-yet-valid")), "leaf-not-yet-valid")
    assert "valid only from" in found.detail and "clock" in found.fix


def test_a_leaf_expiring_within_the_threshold_is_a_warning() -> None:
    s = scenario("leaf-expiring-soon")
    found = finding(run(s), "leaf-expiring-soon")
    assert found.severity is Severity.WARNING and "in 10 day(s)" in found.detail
    assert run(s, limits=AnalysisLimits(expiry_warning_days=5)).findings == ()


def test_an_expired_cross_sign_next_to_a_valid_path_is_a_warning_for_old_clients(
    pki: Cast,
) -> None:
    result = run(scenario("expired-cross-sign-with-valid-path"))
    found = finding(result, "intermediate-expired")
    assert found.severity is Severity.WARNING and result.verdict is Verdict.WARNING
    assert "A valid path still exists" in found.detail and "OpenSSL 1.0.x" in found.detail
    assert describe(pki.root_cross_expired.der).sha256 in found.certificates
    assert labels(result.expected) == ["www.example.com", "Example Issuing CA 1"]
    assert all(verdicts(result).values())


def test_an_expired_only_intermediate_is_an_error() -> None:
    result = run(scenario("intermediate-expired"))
    found = finding(result, "intermediate-expired")
    assert found.severity is Severity.ERROR and "No valid path remains" in found.detail
    assert "CN=Example Issuing CA 2" in reason(result, "strict")


def test_an_expired_intermediate_the_ca_renewed_is_fixed_by_serving_the_new_one(
    pki: Cast,
) -> None:
    result = run(scenario("expired-intermediate-renewed-elsewhere"))
    found = finding(result, "intermediate-expired")
    assert found.severity is Severity.ERROR
    assert (
        f"Stop serving CN=Example Issuing CA 2 (sha256 {short(pki.expired_issuing)})" in found.fix
    )
    assert f"2. intermediate CN=Example Issuing CA 2 (sha256 {short(pki.renewed_issuing)})" in (
        found.fix
    )
    assert verdicts(result) == {"strict": False, "aia": False, "preload": True}


def test_every_path_ending_at_an_expired_root_is_root_expired() -> None:
    result = run(scenario("root-expired"))
    found = finding(result, "root-expired")
    assert "CN=Legacy Root X3" in found.detail and "DST Root CA X3" in found.detail
    assert not any(verdicts(result).values())
    assert run(scenario("root-expired-but-new-root-trusted")).verdict is Verdict.OK


def test_a_naive_time_is_taken_as_utc() -> None:
    s = scenario("leaf-expiring-soon")
    assert run(s, at=s.at.replace(tzinfo=None)).findings == run(s).findings


# --- names -----------------------------------------------------------------------------


def test_a_hostname_outside_the_san_is_a_mismatch_naming_both() -> None:
    result = run(scenario("hostname-mismatch"))
    found = finding(result, "hostname-mismatch")
    assert "www.example.com, example.com" in found.detail and "'mail.example.org'" in found.detail
    assert not any(verdicts(result).values())
    # The path is still built and shown: the name is a separate problem.
    assert labels(result.expected) == ["www.example.com", "Example Issuing CA 1"]


def test_without_a_hostname_the_name_is_not_checked() -> None:
    assert run(scenario("hostname-mismatch"), hostname=None).findings == ()


@pytest.mark.parametrize(
    ("host", "names", "ips", "matches"),
    [
        ("www.example.com", ["www.example.com"], [], True),
        ("WWW.Example.COM.", ["www.example.com"], [], True),
        ("a.example.net", ["*.example.net"], [], True),
        ("a.b.example.net", ["*.example.net"], [], False),
        ("example.net", ["*.example.net"], [], False),
        ("a.com", ["*.com"], [], False),
        ("foo.example.net", ["f*.example.net"], [], False),
        ("192.0.2.10", [], ["192.0.2.10"], True),
        ("192.0.2.10", ["192.0.2.10"], [], False),
        ("[2001:db8::1]", [], ["2001:db8::1"], True),
        ("bücher.example", ["xn--bcher-kva.example"], [], True),
    ],
)
def test_hostnames_match_like_browsers_match_them(
    host: str, names: list[str], ips: list[str], matches: bool
) -> None:
    assert hostname_matches(host, names, ips) is matches


def test_a_leaf_without_san_is_flagged_even_without_a_hostname() -> None:
    result = run(scenario("no-san"), hostname=None)
    found = finding(result, "no-san")
    assert "Chrome 58+" in found.detail and "subjectAltName" in found.fix
    assert labels(result.expected) == ["nosan.example.com", "Example Issuing CA 1"]
    assert not any(verdicts(result).values())


def test_a_self_signed_leaf_is_an_error_unless_the_store_pins_it(pki: Cast) -> None:
    s = scenario("self-signed-leaf")
    assert finding(run(s), "self-signed-leaf").severity is Severity.ERROR
    pinned = run(s, anchors=(pki.self_signed_leaf.der,))
    assert finding(pinned, "self-signed-leaf").severity is Severity.INFO
    assert pinned.verdict is Verdict.OK and all(verdicts(pinned).values())


# --- trust -----------------------------------------------------------------------------


def test_a_private_root_is_untrusted_and_named(pki: Cast) -> None:
    for name_ in ("untrusted-root", "untrusted-root-not-served"):
        result = run(scenario(name_))
        found = finding(result, "untrusted-root")
        assert f"CN=Corp Private Root (sha256 {short(pki.corp_root)})" in found.detail
        assert "not in the test trust store" in found.detail
        assert "not in the test trust store" in reason(result, "aia")


def test_with_no_roots_at_all_the_report_says_so(pki: Cast) -> None:
    result = analyse(
        [pki.leaf.der, pki.issuing.der, pki.root.der],
        hostname="www.example.com",
        trust=empty_store(),
        at=NOW,
    )
    assert {f.code for f in result.findings} == {"untrusted-root"}
    assert "holds no roots at all" in finding(result, "untrusted-root").detail


def test_a_private_pki_validates_against_its_custom_root(pki: Cast) -> None:
    store = build_store("custom", [(pki.corp_root.cert, "custom: Corp")])
    result = analyse(
        [pki.corp_leaf.der, pki.corp_issuing.der],
        hostname="intranet.corp.example",
        trust=store,
        at=NOW,
    )
    assert result.verdict is Verdict.OK and result.anchor_source == "custom: Corp"


# --- path validation in words ------------------------------------------------------------


def test_a_client_auth_only_leaf_is_rejected_with_the_reason_in_words() -> None:
    found = finding(run(scenario("invalid-path-eku")), "invalid-path")
    assert "serverAuth" in found.detail and "CN=client.example.com" in found.detail


def test_a_name_constraint_violation_is_rejected_with_the_reason_in_words() -> None:
    found = finding(run(scenario("invalid-path-name-constraints")), "invalid-path")
    assert "name constraints" in found.detail


def test_a_sha1_signature_is_weak_not_a_generic_invalid_path() -> None:
    result = run(scenario("weak-signature"))
    found = finding(result, "weak-signature")
    assert "CN=sha1.example.com" in found.detail and "SHA-1" in found.detail
    assert "signed with SHA-1" in reason(result, "strict")


def test_an_md5_signature_is_weak_too(pki: Cast) -> None:
    md5 = leaf("md5.example.com", pki.rsa_ca, hash_name="md5")
    result = analyse(
        [md5.der, pki.rsa_ca.der],
        hostname="md5.example.com",
        trust=trust_for((pki.root.der,)),
        at=NOW,
    )
    assert {f.code for f in result.findings} == {"weak-signature"}
    assert "MD5" in finding(result, "weak-signature").detail


def test_small_keys_are_weak_wherever_they_are() -> None:
    on_leaf = run(scenario("weak-key-leaf"))
    assert "1024-bit RSA key" in finding(on_leaf, "weak-key").detail
    assert not any(verdicts(on_leaf).values())  # the verifier alone would have accepted it
    on_ca = run(scenario("weak-key-intermediate"))
    assert "CN=Example Weak CA" in finding(on_ca, "weak-key").detail


def test_a_p192_key_is_weak(pki: Cast) -> None:
    small = leaf("p192.example.com", pki.issuing, key=key_for("leaf:p192", "ec192"))
    result = analyse(
        [small.der, pki.issuing.der],
        hostname="p192.example.com",
        trust=trust_for((pki.root.der,)),
        at=NOW,
    )
    assert "weak-key" in {f.code for f in result.findings}


@pytest.mark.parametrize(
    ("message", "category", "words"),
    [
        (
            "validation failed: candidates exhausted: all candidates exhausted with no interior "
            "errors",
            "missing",
            "no issuer could be found",
        ),
        (
            "validation failed: cert is not valid at validation time (encountered processing "
            "<Certificate(subject=<Name(CN=leaf)>, ...)>)",
            "time",
            "(at CN=leaf)",
        ),
        ("validation failed: required EKU not found", "other", "serverAuth"),
        ("validation failed: candidates exhausted: RSA key is too weak", "weak-key", "too small"),
        ("validation failed: something new", "other", "the verifier reports: something new"),
    ],
)
def test_verifier_messages_become_words(message: str, category: str, words: str) -> None:
    got_category, text = explain_verifier_error(message)
    assert got_category == category and words in text


# --- bad input ---------------------------------------------------------------------------


def test_garbage_is_an_unreadable_certificate_named_by_position() -> None:
    result = run(scenario("unreadable-cert"))
    assert "position 3" in finding(result, "unreadable-cert").detail
    assert not any(verdicts(result).values())
    garbage_first = analyse([b"\x00" * 10], hostname=None, trust=empty_store(), at=NOW)
    assert {f.code for f in garbage_first.findings} == {"unreadable-cert"}
    assert "position 1" in garbage_first.findings[0].detail
    assert "cannot be read" in garbage_first.clients[0].reason


def test_an_empty_chain_is_no_certificate() -> None:
    result = analyse([], hostname="www.example.com", trust=empty_store(), at=NOW)
    assert [f.code for f in result.findings] == ["no-certificate"]
    assert result.served == () and result.verdict is Verdict.BROKEN


def test_a_certificate_with_a_malformed_extension_is_unreadable_not_a_crash(pki: Cast) -> None:
    broken_san = x509.UnrecognizedExtension(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\xff")
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bad.example.com")]))
        .issuer_name(pki.issuing.subject)
        .public_key(pki.leaf.key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .add_extension(broken_san, critical=False)
        .sign(pki.issuing.key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    result = analyse(
        [cert.public_bytes(Encoding.DER), pki.issuing.der],
        hostname="bad.example.com",
        trust=trust_for((pki.root.der,)),
        at=NOW,
    )
    assert "unreadable-cert" in {f.code for f in result.findings}
    assert all(CRASH not in f.detail for f in result.findings)


def test_things_that_are_not_bytes_are_unreadable_not_a_crash(pki: Cast) -> None:
    result = analyse(
        [pki.leaf.der, None, "text"],  # type: ignore[list-item]
        hostname="www.example.com",
        trust=trust_for((pki.root.der,)),
        at=NOW,
    )
    assert "unreadable-cert" in {f.code for f in result.findings}
    assert len(result.served) == 3


def test_two_hundred_certificates_are_analysed_and_flagged(pki: Cast) -> None:
    served = [pki.leaf.der] + [pki.issuing.der] * 100 + [pki.other_issuing.der] * 99
    result = analyse(served, hostname="www.example.com", trust=trust_for((pki.root.der,)), at=NOW)
    assert len(result.served) == 200
    assert {"too-many-certs", "duplicate-cert", "extra-certs"} <= {f.code for f in result.findings}


def test_two_hundred_same_named_impostors_do_not_hang_the_analysis(pki: Cast) -> None:
    impostors = [
        intermediate("Example Issuing CA 1", pki.other_root, key=key_for(f"impostor {i % 20}")).der
        for i in range(199)
    ]
    result = analyse(
        [pki.leaf.der, *impostors, pki.issuing.der],
        hostname="www.example.com",
        trust=trust_for((pki.root.der,)),
        at=NOW,
    )
    assert isinstance(result, ChainAnalysis)
    assert all(CRASH not in f.detail for f in result.findings)


# --- merging into a report ----------------------------------------------------------------


def test_apply_merges_the_analysis_into_an_endpoint() -> None:
    result = run(scenario("incomplete-chain"))
    earlier = make_finding("no-sni-different-cert", "d", "f")
    endpoint = EndpointReport(
        address="192.0.2.1",
        port=443,
        sni="www.example.com",
        findings=(earlier,),
        tls_version="TLSv1.3",
    )
    merged = result.apply(endpoint)
    assert merged.findings == (earlier, *result.findings)
    assert merged.served == result.served and merged.expected == result.expected
    assert merged.clients == result.clients and merged.valid_until == result.valid_until
    assert merged.verdict is Verdict.BROKEN and merged.tls_version == "TLSv1.3"


def test_the_default_limits_are_the_documented_ones() -> None:
    limits = AnalysisLimits()
    assert (limits.max_aia_fetches, limits.expiry_warning_days, limits.max_chain_certs) == (
        4,
        21,
        10,
    )


# --- properties ------------------------------------------------------------------------------


def _pool() -> list[bytes]:
    """Certificates the property tests mix: a chain, cross-signs, X1/X3, strays."""
    p = cast()
    return [
        p.leaf.der,
        p.issuing.der,
        p.root.der,
        p.root_cross.der,
        p.root_cross_expired.der,
        p.x1.der,
        p.x3.der,
        p.leaf_x3.der,
        p.other_issuing.der,
        p.self_signed_leaf.der,
        p.no_san_leaf.der,
        p.isrg_cross.der,
        p.r3.der,
    ]


POOL = _pool()
ANCHOR_SETS = [
    (scenarios()["healthy"].anchors),
    scenarios()["cross-sign-longer-valid-path"].anchors,
    scenarios()["root-expired"].anchors,
    (),
]


def _check(result: ChainAnalysis, served: list[bytes]) -> None:
    assert isinstance(result, ChainAnalysis)
    assert len(result.served) == len(served)
    assert all(CRASH not in f.detail for f in result.findings)
    assert {f.code for f in result.findings} <= set(CATALOGUE)
    assert result.verdict == Verdict.from_findings(result.findings)
    assert [c.family for c in result.clients] == ["strict", "aia", "preload"]
    if any(c.accepts for c in result.clients):
        assert result.expected and result.anchor is not None
    if result.expected:
        assert result.valid_until is not None


def _analyse_any(
    served: list[bytes],
    anchors: tuple[bytes, ...],
    host: str | None,
    at: dt.datetime,
    known: list[bytes],
) -> ChainAnalysis:
    store = trust_for(anchors) if anchors else empty_store()
    return analyse(
        served,
        hostname=host,
        trust=store,
        at=at,
        issuers=MemoryIssuerSource(known),
        fetcher=MemoryFetcher({f"{CA_URL}/x3.der": POOL[6]}),
    )


# max_examples comes from the active Hypothesis profile (100 by default), so a
# longer run is one `--hypothesis-profile` away; no deadline: the first call
# builds the PKI.
PROPERTY_SETTINGS = hsettings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(
    served=st.lists(st.one_of(st.sampled_from(POOL), st.binary(max_size=80)), max_size=14),
    anchors=st.sampled_from(ANCHOR_SETS),
    host=st.sampled_from([None, "www.example.com", "x3.example.com", "192.0.2.1", "*.example.com"]),
    at=st.datetimes(
        min_value=dt.datetime(2015, 1, 1),
        max_value=dt.datetime(2040, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    known=st.lists(st.sampled_from(POOL), max_size=4),
)
def test_any_mix_of_certificates_and_garbage_yields_an_analysis(
    served: list[bytes],
    anchors: tuple[bytes, ...],
    host: str | None,
    at: dt.datetime,
    known: list[bytes],
) -> None:
    _check(_analyse_any(served, anchors, host, at, known), served)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_subset_permutation_or_repetition_of_a_chain_yields_an_analysis(
    data: st.DataObject,
) -> None:
    chain = [POOL[0], POOL[1], POOL[2], POOL[3]]
    subset = data.draw(st.lists(st.sampled_from(chain), max_size=8), label="repeated subset")
    order = data.draw(st.permutations(subset), label="order")
    _check(_analyse_any(list(order), ANCHOR_SETS[1], "www.example.com", NOW, []), list(order))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_certificate_with_flipped_bytes_yields_an_analysis(data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(POOL), label="certificate")
    index = data.draw(st.integers(0, len(original) - 1), label="byte")
    value = data.draw(st.integers(0, 255), label="value")
    mutated = original[:index] + bytes([value]) + original[index + 1 :]
    served = [mutated, POOL[1]] if data.draw(st.booleans()) else [POOL[0], mutated]
    _check(_analyse_any(served, ANCHOR_SETS[0], "www.example.com", NOW, [POOL[1]]), served)


def test_the_pki_factory_names_what_it_builds(pki: Cast) -> None:
    # A sanity check of the factory the whole file relies on.
    assert pki.x1.cert.public_key() == pki.x3.cert.public_key()
    assert pki.root_cross.cert.subject == pki.root.cert.subject
    assert pki.root_cross.cert.issuer == pki.legacy_root.cert.subject
    assert describe(pki.sha1_leaf.der).signature_hash == "sha1"
    assert root("Scratch Root").cert.subject == name("Scratch Root")


@pytest.mark.parametrize(
    ("families", "words"),
    [
        (("strict",), "strict clients"),
        (("strict", "aia"), "strict clients and AIA-fetching clients"),
        (
            ("strict", "aia", "preload"),
            "strict clients, AIA-fetching clients and preloading clients",
        ),
        (("legacy", "legacy"), "clients that send no SNI"),
    ],
)
def test_the_clients_a_finding_affects_read_as_words(families: tuple[str, ...], words: str) -> None:
    assert affected_clients(families) == words
