"""Who can connect, platform by platform — replaying the 2016-17 and 2021 Let's Encrypt
transitions from real certificates.

Real: every root (shared/truststores via the shipped data: DST Root CA X3, ISRG
Root X1 and the stores that held them), and the served chains in tests/data —
the long 2021 chain of dot.ouestline.xyz (leaf ← R3 ← ISRG Root X1 cross-signed
by DST Root CA X3) and gnu.org's 2017 chain (leaf ← Let's Encrypt Authority X3,
plus Authority X1 with the same key), both copied from `openssl s_client`
transcripts published on GitHub. Crafted (tests/pki.py): only the private-CA
cases, which by definition are in no real store.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from scans.engine.analysis import ChainAnalysis, MemoryFetcher, MemoryIssuerSource, analyse
from scans.engine.certs import describe, pem_bundle, read_bundle
from scans.engine.cli import main
from scans.engine.platforms import PLATFORMS, rows
from scans.engine.report import (
    EndpointReport,
    PlatformVerdict,
    Severity,
    Verdict,
    endpoint_from_json,
)
from scans.engine.report import endpoint_to_json as to_json
from scans.engine.rootstores import dated_store
from scans.engine.trust import build_store, mozilla_store, store_with_extra
from tests import pki

DATA = Path(__file__).resolve().parents[1] / "data"
LONG_2021 = read_bundle((DATA / "le-2021-long-chain.pem").read_bytes())
LEAF_2021, R3, ISRG_X1_CROSS = LONG_2021
GNU_2017, LE_X3, LE_X1 = read_bundle((DATA / "le-2017-x1-x3.pem").read_bytes())
ISRG_ROOT_X1 = "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6"
DST_ROOT_CA_X3 = "0687260331a72403d909f105e69bcf0d32e1bd2493ffc6d9206d11bcd6770739"
DEC_2021 = dt.datetime(2021, 12, 1, tzinfo=dt.UTC)
OCT_2017 = dt.datetime(2017, 10, 15, tzinfo=dt.UTC)
X3_URL = "http://cert.int-x3.letsencrypt.org/"


def sha(der: bytes) -> str:
    return describe(der).sha256


def platform(result: ChainAnalysis | EndpointReport, pid: str) -> PlatformVerdict:
    return next(p for p in result.platforms if p.id == pid)


def check(served: list[bytes], host: str, when: dt.datetime, **kw: object) -> ChainAnalysis:
    """Judge as of ``when``, against Mozilla's roots of that date (what `check --at` does)."""
    return analyse(served, hostname=host, trust=dated_store("mozilla", when), at=when, **kw)  # type: ignore[arg-type]


# --- 2021: DST Root CA X3 expires -------------------------------------------------------


def test_android_7_0_keeps_accepting_the_long_chain_through_the_expired_dst_root() -> None:
    result = check(LONG_2021, "dot.ouestline.xyz", DEC_2021)
    android = platform(result, "android-7.0")
    assert android.accepts
    assert android.path == (sha(LEAF_2021), sha(R3), sha(ISRG_X1_CROSS), DST_ROOT_CA_X3)
    assert "ISRG Root X1 is not in its store" in android.reason
    assert "long chain through DST Root CA X3" in android.reason
    assert android.store == "Android 7.0"


def test_openssl_1_0_follows_the_served_cross_sign_to_the_expired_root_and_fails() -> None:
    result = check(LONG_2021, "dot.ouestline.xyz", DEC_2021)
    openssl = platform(result, "openssl-1.0")
    assert not openssl.accepts and openssl.path == ()
    assert "DST Root CA X3, which expired 2021-09-30" in openssl.reason
    assert "does not look for another path" in openssl.reason
    # the same chain and store, with alternative paths: OpenSSL 1.1.1 finds ISRG Root X1
    assert platform(result, "openssl-1.1").accepts


def test_mozilla_of_october_2021_accepts_the_long_chain_via_isrg_root_x1() -> None:
    result = check(LONG_2021, "dot.ouestline.xyz", DEC_2021)
    firefox = platform(result, "mozilla")
    assert firefox.accepts and firefox.store.startswith("Mozilla 2021-10-01")
    assert firefox.path == (sha(LEAF_2021), sha(R3), ISRG_ROOT_X1)
    assert platform(result, "android-7.1.1").path[-1] == ISRG_ROOT_X1
    assert {p.id for p in result.platforms} == {p.id for p in PLATFORMS}
    warning = next(f for f in result.findings if f.code == "missing-on-platforms")
    assert "OpenSSL 1.0.x" in warning.detail and "expired cross-sign" in warning.fix


def test_the_short_chain_fails_on_android_7_0_for_want_of_isrg_root_x1() -> None:
    result = check([LEAF_2021, R3], "dot.ouestline.xyz", DEC_2021)
    assert not platform(result, "android-7.0").accepts
    assert platform(result, "android-7.0").reason == "ISRG Root X1 is not in its store"
    assert platform(result, "android-7.1.1").accepts and platform(result, "openssl-1.0").accepts
    (row,) = [r for r in rows(result.platforms) if not r.accepts]
    assert row.label == "Android ≤ 7.0" and row.ids == ("android-4.4", "android-7.0")
    warning = next(f for f in result.findings if f.code == "missing-on-platforms")
    assert "Android ≤ 7.0: ISRG Root X1 is not in its store" in warning.detail
    assert "cross-sign" in warning.fix
    # only platforms their vendors dropped fail: worth knowing, not a warning
    assert warning.severity == Severity.INFO and result.verdict == Verdict.OK


def test_android_does_not_forgive_an_expired_intermediate_only_an_expired_anchor() -> None:
    # In 2025 the cross-sign itself (valid until 2024-09-30) has expired too.
    later = dt.datetime(2021, 12, 1, tzinfo=dt.UTC) + dt.timedelta(days=1200)
    result = analyse(LONG_2021[1:], hostname=None, trust=mozilla_store(), at=later)
    assert not platform(result, "android-7.0").accepts


# --- 2016-17: Let's Encrypt Authority X1 served for an X3 certificate --------------------


def test_the_x1_x3_chain_fails_on_strict_platforms_and_works_where_x3_is_fetched() -> None:
    fetcher = MemoryFetcher({X3_URL: LE_X3})
    result = check([GNU_2017, LE_X1], "gnu.org", OCT_2017, fetcher=fetcher)
    assert "wrong-intermediate-same-key" in {f.code for f in result.findings}
    for pid in ("android-4.4", "android-7.0", "android-13", "openssl-1.0", "openssl-1.1"):
        verdict = platform(result, pid)
        assert not verdict.accepts, pid
        assert "Let's Encrypt Authority X3 is not served" in verdict.reason
    for pid in ("apple", "microsoft"):
        verdict = platform(result, pid)
        assert verdict.accepts and "fetched over AIA" in verdict.reason
        assert verdict.path == (sha(GNU_2017), sha(LE_X3), DST_ROOT_CA_X3)
    assert platform(result, "mozilla").store.startswith("Mozilla 2017-10-01")
    warning = next(f for f in result.findings if f.code == "missing-on-platforms")
    assert warning.severity == Severity.WARNING and "Android ≤ 13, OpenSSL 1.0.x" in warning.detail


def test_firefox_accepts_the_x1_x3_chain_with_x3_among_its_preloaded_intermediates() -> None:
    result = check([GNU_2017, LE_X1], "gnu.org", OCT_2017, issuers=MemoryIssuerSource([LE_X3]))
    firefox = platform(result, "mozilla")
    assert firefox.accepts and "preloaded" in firefox.reason
    assert not platform(result, "apple").accepts  # nothing was fetched over AIA


def test_the_right_x3_chain_works_everywhere_dst_root_ca_x3_is_trusted() -> None:
    result = check([GNU_2017, LE_X3], "gnu.org", OCT_2017)
    assert all(p.accepts for p in result.platforms), rows(result.platforms)
    assert not [f for f in result.findings if f.code == "missing-on-platforms"]


# --- sharper findings ---------------------------------------------------------------------


def test_a_chain_to_a_root_only_other_stores_have_is_untrusted_root_not_incomplete() -> None:
    # Judged against today's Mozilla roots, which no longer hold DST Root CA X3.
    result = analyse([GNU_2017, LE_X3], hostname="gnu.org", trust=mozilla_store(), at=OCT_2017)
    codes = {f.code for f in result.findings}
    assert "untrusted-root" in codes and "incomplete-chain" not in codes
    finding = next(f for f in result.findings if f.code == "untrusted-root")
    assert "DST Root CA X3" in finding.detail and "Android" in finding.detail


def test_a_chain_ending_in_a_private_ca_no_store_has_is_untrusted_root_with_the_anchor_fix() -> (
    None
):
    corp_root = pki.root("Acme Internal Root", not_before=pki.NOW - 900 * pki.DAY)
    corp_ca = pki.intermediate("Acme Internal Issuing CA", corp_root)
    leaf = pki.leaf("intranet.acme.test", corp_ca)
    result = analyse(
        [leaf.der, corp_ca.der], hostname="intranet.acme.test", trust=mozilla_store(), at=pki.NOW
    )
    codes = {f.code for f in result.findings}
    assert "untrusted-root" in codes and "incomplete-chain" not in codes
    finding = next(f for f in result.findings if f.code == "untrusted-root")
    assert "private CA" in finding.detail and "trust anchor" in finding.fix
    assert all(not p.accepts for p in result.platforms)


def test_firefox_never_accepts_through_a_private_intermediate_chainscan_saw_elsewhere() -> None:
    corp_root = pki.root("Acme Private Root", not_before=pki.NOW - 900 * pki.DAY)
    corp_ca = pki.intermediate("Acme Private Issuing CA", corp_root)
    leaf = pki.leaf("app.acme.test", corp_ca)
    trust = store_with_extra(
        mozilla_store(), pem_bundle([describe(corp_root.der)]).encode(), "corp"
    )
    result = analyse(
        [leaf.der],
        hostname="app.acme.test",
        trust=trust,
        at=pki.NOW,
        issuers=MemoryIssuerSource([corp_ca.der]),
    )
    firefox_family = next(c for c in result.clients if c.family == "preload")
    assert not firefox_family.accepts
    assert not platform(result, "mozilla").accepts


def test_a_public_ca_seen_elsewhere_still_counts_as_preloaded_for_the_firefox_family() -> None:
    # The crafted "public" PKI of the scenarios: its root is the store itself, not a custom root.
    cast = pki.cast()
    trust = build_store("test roots", [(cast.root.cert, "test roots")])
    result = analyse(
        [cast.leaf.der],
        hostname="www.example.com",
        trust=trust,
        at=pki.NOW,
        issuers=MemoryIssuerSource([cast.issuing.der]),
    )
    assert next(c for c in result.clients if c.family == "preload").accepts


# --- the report contract -------------------------------------------------------------------


def test_platform_verdicts_round_trip_through_the_report_json() -> None:
    result = check(LONG_2021, "dot.ouestline.xyz", DEC_2021)
    endpoint = result.apply(EndpointReport(address="192.0.2.1", port=443, sni="x"))
    data = to_json(endpoint, include_der=False)
    assert set(data["platforms"][0]) == {
        "id",
        "family",
        "name",
        "store",
        "accepts",
        "reason",
        "path",
    }
    assert endpoint_from_json(json.loads(json.dumps(data))).platforms == endpoint.platforms
    old = {k: v for k, v in data.items() if k != "platforms"}
    assert endpoint_from_json(old).platforms == ()


def test_the_cli_replays_october_2021_with_platforms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = DATA / "le-2021-long-chain.pem"
    args = ["check", str(chain), "--host", "dot.ouestline.xyz", "--at", "2021-12-01", "--no-aia"]
    main([*args, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["trust_store"].startswith("Mozilla 2021-10-01")
    verdicts = {p["id"]: p for p in report["endpoints"][0]["platforms"]}
    assert verdicts["android-7.0"]["accepts"] and not verdicts["openssl-1.0"]["accepts"]
    assert verdicts["android-7.0"]["path"][-1] == DST_ROOT_CA_X3
    main(args)
    text = capsys.readouterr().out
    assert "who can connect:" in text
    assert "NO   OpenSSL 1.0.x: follows the served ISRG Root X1 to DST Root CA X3" in text


# --- certificates a vendor refuses (Apple's revoked and distrusted lists) -----------------


def _apple_refusing(refused: pki.Issued, *roots: pki.Issued) -> tuple[object, ...]:
    """A catalogue where Apple and Mozilla hold ``roots`` and Apple lists ``refused``
    as revoked, and those two platforms."""
    from scans.engine.rootstores import RootCatalog, Snapshot

    shas = tuple(sha(r.der) for r in roots)
    day = dt.date(2000, 1, 1)
    cat = RootCatalog(
        certs={sha(r.der): r.cert for r in roots},
        snapshots={
            "apple": (
                Snapshot(
                    "apple", "t", "Apple test", day, shas, revoked=frozenset({sha(refused.der)})
                ),
            ),
            "mozilla": (Snapshot("mozilla", "t", "Mozilla test", day, shas),),
        },
    )
    chosen = tuple(p for p in PLATFORMS if p.id in ("apple", "mozilla"))
    return cat, chosen


def _judge_served(served: list[pki.Issued], cat: object, chosen: object, *roots: pki.Issued):  # type: ignore[no-untyped-def]
    from cryptography.x509 import DNSName

    from scans.engine.platforms import ChainEvidence, judge

    ev = ChainEvidence(
        leaf=served[0].cert,
        served=tuple(c.cert for c in served),
        fetched=(),
        known=(),
        subjects=(DNSName("www.example.com"),),
        blocker=None,
        trust=build_store("test", [(r.cert, "test") for r in roots]),
        at=pki.NOW,
    )
    return {v.id: v for v in judge(ev, platforms=chosen, roots=cat)}  # type: ignore[arg-type]


def test_apple_refuses_a_chain_through_an_intermediate_on_its_revoked_list() -> None:
    c = pki.cast()
    cat, chosen = _apple_refusing(c.issuing, c.root)

    verdicts = _judge_served([c.leaf, c.issuing], cat, chosen, c.root)

    assert verdicts["mozilla"].accepts
    apple = verdicts["apple"]
    assert not apple.accepts and apple.cause == "refused" and apple.path == ()
    assert "is on its vendor's revoked list: Apple blocks it outright" in apple.reason
    assert "no other path reaches its store" in apple.reason


def test_apple_builds_around_a_refused_intermediate_when_another_path_exists() -> None:
    c = pki.cast()
    other = pki.cross_sign(c.issuing, c.other_root)
    cat, chosen = _apple_refusing(c.issuing, c.root, c.other_root)

    verdicts = _judge_served([c.leaf, c.issuing, other], cat, chosen, c.root, c.other_root)

    apple = verdicts["apple"]
    assert apple.accepts
    assert apple.path == (sha(c.leaf.der), sha(other.der), sha(c.other_root.der))


def test_apple_refuses_a_leaf_on_its_list_whatever_the_chain() -> None:
    c = pki.cast()
    cat, chosen = _apple_refusing(c.leaf, c.root)
    apple = _judge_served([c.leaf, c.issuing], cat, chosen, c.root)["apple"]
    assert not apple.accepts and apple.cause == "refused"
    assert apple.reason.endswith("Apple blocks it outright")


def test_the_shipped_apple_stores_carry_apples_refusals_over_time() -> None:
    """From the real data: WoSign's free SSL intermediate joined Apple's revoked list
    in September 2016 (after the WoSign/StartCom distrust), DigiNotar's root its
    distrusted list in 2011; releases after Apple dropped those folders from the
    source keep the last lists."""
    from scans.engine.rootstores import catalog

    cat = catalog()
    wosign = "WoSign CA Free SSL Certificate G2"
    (wosign_sha,) = {h for h, cert in cat.certs.items() if wosign in cert.subject.rfc4514_string()}
    before = cat.at("apple", dt.datetime(2016, 6, 1, tzinfo=dt.UTC))
    after = cat.at("apple", dt.datetime(2017, 1, 1, tzinfo=dt.UTC))
    newest = cat.at("apple", dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert before.refuses(wosign_sha) == ""
    assert after.refuses(wosign_sha) == "revoked" and newest.refuses(wosign_sha) == "revoked"
    diginotar = {
        h
        for h, cert in cat.certs.items()
        if cert.subject.rfc4514_string().startswith(
            "1.2.840.113549.1.9.1=info@diginotar.nl,CN=DigiNotar Root CA,"
        )
    }
    at_2012 = cat.at("apple", dt.datetime(2012, 6, 1, tzinfo=dt.UTC))
    assert {at_2012.refuses(h) for h in diginotar} >= {"distrusted"}
