"""Evidence gathered once, judged by pure functions: what a reader can tell from it."""

from __future__ import annotations

import dataclasses

import pytest

from scans.engine.analysis import AnalysisLimits, AnalysisRun, analyse, conclude
from scans.engine.certs import describe
from scans.engine.trust import mozilla_store
from tests.pki import NOW, intermediate, key_for, leaf, root, scenarios, trust_for


def test_a_clients_reason_quotes_a_weak_ca_whole_even_with_a_full_stop_in_its_name() -> None:
    # The strict clients' reason used to be cut from the weak-signature finding's
    # text at the first ". " — "Rejects: CN=Example Inc." for this CA.
    rsa_root = root("Example RSA Root", key=key_for("Example RSA Root", "rsa2048"))
    weak = intermediate(
        "Example Inc. Legacy CA",
        rsa_root,
        key=key_for("Example Inc. Legacy CA", "rsa2048"),
        hash_name="sha1",
    )
    server = leaf("www.example.com", weak)
    result = analyse(
        [server.der, weak.der],
        hostname="www.example.com",
        trust=trust_for((rsa_root.der,)),
        at=NOW,
    )
    strict = next(c for c in result.clients if c.family == "strict")
    short = describe(weak.der).short_fingerprint
    assert strict.reason == (
        f"Rejects: CN=Example Inc. Legacy CA (sha256 {short}) is signed with SHA-1."
    )
    assert "weak-signature" in {f.code for f in result.findings}


@pytest.mark.parametrize("name_", ["x1-x3", "incomplete-chain", "extra-certs", "untrusted-root"])
def test_the_same_evidence_judged_twice_gives_the_same_report(name_: str) -> None:
    s = scenarios()[name_]
    evidence = AnalysisRun(
        list(s.served), s.hostname, trust_for(s.anchors), NOW, None, None, AnalysisLimits()
    ).gather()
    with pytest.raises(dataclasses.FrozenInstanceError):
        evidence.hostname = "elsewhere.example"  # type: ignore[misc]
    assert conclude(evidence) == conclude(evidence)


def test_a_chain_judged_against_mozilla_names_the_store_in_words() -> None:
    s = scenarios()["untrusted-root"]
    result = analyse(list(s.served), hostname=s.hostname, trust=mozilla_store(), at=NOW)
    found = next(f for f in result.findings if f.code == "untrusted-root")
    assert "not in the Mozilla trust store" in found.detail
    assert "'mozilla'" not in found.detail
