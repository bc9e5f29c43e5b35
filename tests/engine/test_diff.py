"""The engine's diff over report data classes: renewal versus material change.

Chains are real certificates from tests/pki.py (the X1/X3 pair shares one key)
run through the real analysis, so the findings being introduced and resolved
are the ones a scan would report.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

from scans.engine.analysis import MemoryIssuerSource, analyse
from scans.engine.catalogue import make_finding
from scans.engine.certs import describe
from scans.engine.diff import ChangeKind, chain_changes, clip, diff_reports, diff_to_json
from scans.engine.report import EndpointReport, Report, Severity, Verdict
from tests import pki
from tests.pki import make_cert

HOST = "x3.example.com"
ADDRESS = "192.0.2.10"


def renewal_by(issuer: pki.Issued, label: str) -> bytes:
    """``HOST``'s leaf renewed yesterday by ``issuer``, valid 89 more days."""
    return pki.leaf(
        HOST,
        issuer,
        key=pki.key_for(f"leaf:x3 renewed {label}"),
        not_before=pki.NOW - pki.DAY,
        not_after=pki.NOW + 89 * pki.DAY,
    ).der


@functools.cache
def certs() -> dict[str, bytes]:
    c = pki.cast()
    r11 = pki.intermediate("Example Authority R11", c.root)
    other_org = make_cert(
        pki.name("Other Authority 1", "Another CA Inc"),
        pki.key_for("other org ca"),
        issuer=c.root,
        ca=True,
    )
    return {
        "leaf": c.leaf_x3.der,
        "x1": c.x1.der,
        "x3": c.x3.der,
        "root": c.root.der,
        # The renewal: a new key, new dates, the same names from the same X3.
        "renewed": renewal_by(c.x3, ""),
        # Same host and issuer, one more name: not a routine renewal.
        "more_names": pki.leaf(HOST, c.x3, san=[HOST, "api.x3.example.com"]).der,
        # Same names, another CA altogether.
        "other_ca_leaf": pki.leaf(HOST, c.issuing, key=pki.key_for("leaf:x3 other ca")).der,
        "issuing": c.issuing.der,
        # X3's sibling under the same root (Let's Encrypt's R10 and R11), and a
        # renewal it issued.
        "r11": r11.der,
        "renewed_r11": renewal_by(r11, "by r11"),
        # A leaf from another CA's set: same root, another organisation.
        "other_org": other_org.der,
        "renewed_other_org": renewal_by(other_org, "by another org"),
    }


def endpoint(
    *chain: str,
    address: str = ADDRESS,
    sni: str | None = HOST,
    at: dt.datetime = pki.NOW,
) -> EndpointReport:
    """What one address serving ``chain`` (names from ``certs()``) is reported as."""
    c = certs()
    analysis = analyse(
        [c[name] for name in chain],
        hostname=sni,
        trust=pki.trust_for((c["root"],)),
        at=at,
        issuers=MemoryIssuerSource([c["x1"], c["x3"], c["issuing"], c["r11"], c["other_org"]]),
    )
    return analysis.apply(EndpointReport(address=address, port=443, sni=sni))


def report(*endpoints: EndpointReport, findings: tuple = ()) -> Report:  # type: ignore[type-arg]
    return Report(
        host=HOST,
        port=443,
        trust_store="test",
        evaluated_at=pki.NOW,
        endpoints=endpoints,
        findings=findings,
        verdict=Verdict.worst([e.verdict for e in endpoints]),
    )


def fingerprint(name: str) -> str:
    return describe(certs()[name]).short_fingerprint


# --- the origin incident ---------------------------------------------------------


def test_the_x1_to_x3_fix_reads_as_the_intermediate_swap_that_resolved_the_finding() -> None:
    before = report(endpoint("leaf", "x1"), endpoint("leaf", "x1", sni=None))
    after = report(endpoint("leaf", "x3"), endpoint("leaf", "x3", sni=None))
    assert [f.code for f in before.endpoints[0].findings] == ["wrong-intermediate-same-key"]

    diff = diff_reports(before, after)

    # A fix: a change for the better, not a regression.
    assert diff.kind == ChangeKind.IMPROVEMENT and not diff.kind.is_material
    assert diff.headline == "Fixed: BROKEN → OK"
    assert (
        "position 1 changed from Example Authority X1 to Example Authority X3"
        " — wrong-intermediate-same-key resolved" in diff.summary
    )
    # Both probes changed alike: named together, said once.
    assert diff.summary.startswith(f"Improvement: {ADDRESS} and {ADDRESS} (no SNI): ")
    (swap,) = diff.endpoints[0].served
    assert (swap.kind, swap.position) == ("replaced", 1)
    assert swap.before is not None and swap.after is not None
    assert swap.before.spki_sha256 == swap.after.spki_sha256  # the same key: only names tell
    assert swap.text == (
        f"position 1 changed from Example Authority X1 ({fingerprint('x1')}) "
        f"to Example Authority X3 ({fingerprint('x3')})"
    )
    assert [f.code for f in diff.endpoints[0].resolved] == ["wrong-intermediate-same-key"]
    assert diff.endpoints[0].verdict_before == "broken"
    assert diff.endpoints[0].verdict_after == "ok"


def test_serving_x1_again_is_a_material_change_that_introduces_the_finding() -> None:
    diff = diff_reports(report(endpoint("leaf", "x3")), report(endpoint("leaf", "x1")))
    assert diff.kind == ChangeKind.MATERIAL
    assert diff.headline == "Material change: new intermediate Example Authority X1 (OK → BROKEN)"
    assert "wrong-intermediate-same-key introduced" in diff.summary
    assert [f.code for f in diff.endpoints[0].introduced] == ["wrong-intermediate-same-key"]


# --- renewal ---------------------------------------------------------------------


def test_a_new_leaf_with_the_same_names_and_issuer_is_a_routine_renewal() -> None:
    diff = diff_reports(report(endpoint("leaf", "x3")), report(endpoint("renewed", "x3")))

    assert diff.kind == ChangeKind.RENEWAL and diff.headline == "Routine renewal"
    assert diff.summary.startswith("Routine renewal: ")
    # Old → new expiry dates, not hashes.
    assert f"{HOST} renewed, valid until 2025-07-31 → 2025-08-29" in diff.summary
    assert fingerprint("renewed") not in diff.summary
    (change,) = diff.endpoints[0].served
    assert change.routine and change.kind == "replaced" and change.position == 0
    # The expected chain starts with the leaf too: renewed there as well.
    assert [c.routine for c in diff.endpoints[0].expected] == [True]


def test_a_renewal_that_clears_expiring_soon_is_still_routine() -> None:
    late = pki.NOW + 50 * pki.DAY  # the old leaf has 10 days left, the new one 39
    before = report(endpoint("leaf", "x3", at=late))
    after = report(endpoint("renewed", "x3", at=late))
    assert [f.code for f in before.endpoints[0].findings] == ["leaf-expiring-soon"]

    diff = diff_reports(before, after)

    assert diff.kind == ChangeKind.RENEWAL
    assert "leaf-expiring-soon resolved" in diff.summary


def test_a_renewal_that_also_fixes_the_intermediate_is_an_improvement() -> None:
    diff = diff_reports(report(endpoint("leaf", "x1")), report(endpoint("renewed", "x3")))
    assert diff.kind == ChangeKind.IMPROVEMENT
    assert diff.headline == "Fixed: BROKEN → OK"
    assert [c.kind for c in diff.endpoints[0].served] == ["replaced", "replaced"]
    assert [c.routine for c in diff.endpoints[0].served] == [True, False]


def test_a_new_leaf_with_another_name_is_material() -> None:
    diff = diff_reports(report(endpoint("leaf", "x3")), report(endpoint("more_names", "x3")))
    assert diff.kind == ChangeKind.MATERIAL
    assert not diff.endpoints[0].served[0].routine


def test_a_new_leaf_from_another_issuer_is_material() -> None:
    diff = diff_reports(
        report(endpoint("leaf", "x3")), report(endpoint("other_ca_leaf", "issuing"))
    )
    assert diff.kind == ChangeKind.MATERIAL
    assert "position 1 changed from Example Authority X3 to Example Issuing CA 1" in diff.summary


def test_a_problem_appearing_on_unchanged_certificates_is_material() -> None:
    before = report(endpoint("leaf", "x3"))
    after = report(endpoint("leaf", "x3", at=pki.NOW + 50 * pki.DAY))
    diff = diff_reports(before, after)
    assert diff.kind == ChangeKind.MATERIAL
    assert diff.endpoints[0].served == () and diff.endpoints[0].expected == ()
    assert "leaf-expiring-soon introduced" in diff.summary


def test_identical_reports_are_the_same() -> None:
    diff = diff_reports(report(endpoint("leaf", "x3")), report(endpoint("leaf", "x3")))
    assert diff.kind == ChangeKind.SAME
    assert diff.endpoints[0].status == "same"
    assert diff.summary.startswith("No change")


# --- shape of the chain ------------------------------------------------------------


def test_a_served_intermediate_that_fixes_an_incomplete_chain_is_added_and_resolves_it() -> None:
    before = report(endpoint("leaf"))
    assert "incomplete-chain" in [f.code for f in before.endpoints[0].findings]
    diff = diff_reports(before, report(endpoint("leaf", "x3")))

    assert diff.kind == ChangeKind.IMPROVEMENT
    (added,) = diff.endpoints[0].served
    assert (added.kind, added.position, added.before) == ("added", 1, None)
    assert added.text == f"position 1: Example Authority X3 ({fingerprint('x3')}) added"
    assert "incomplete-chain resolved" in diff.summary


def test_a_reordered_chain_reports_each_certificate_as_moved() -> None:
    c = certs()
    old = tuple(describe(c[n]) for n in ("leaf", "x3", "root"))
    new = tuple(describe(c[n]) for n in ("leaf", "root", "x3"))
    changes = chain_changes(old, new)
    assert [(ch.kind, ch.from_position, ch.position) for ch in changes] == [
        ("moved", 2, 1),
        ("moved", 1, 2),
    ]
    assert changes[0].text == f"Example Root CA ({fingerprint('root')}) moved from position 2 to 1"


def test_dropping_a_duplicate_is_a_removal_even_though_the_certificate_stays() -> None:
    c = certs()
    old = tuple(describe(c[n]) for n in ("leaf", "x3", "x3"))
    new = tuple(describe(c[n]) for n in ("leaf", "x3"))
    (change,) = chain_changes(old, new)
    assert (change.kind, change.position) == ("removed", 2)


def test_a_certificate_inserted_before_another_is_added_and_the_other_moved() -> None:
    c = certs()
    old = tuple(describe(c[n]) for n in ("leaf", "x1"))
    new = tuple(describe(c[n]) for n in ("leaf", "x3", "x1"))
    changes = chain_changes(old, new)
    assert [(ch.kind, ch.position) for ch in changes] == [("added", 1), ("moved", 2)]


def test_an_expected_chain_change_alone_is_material_and_named_as_such() -> None:
    before = report(endpoint("leaf", "x3"))
    longer = dataclasses.replace(
        before.endpoints[0], expected=(*before.endpoints[0].expected, describe(certs()["root"]))
    )
    diff = diff_reports(before, report(longer))
    assert diff.kind == ChangeKind.MATERIAL
    assert "expected chain: Example Root CA added at position 2" in diff.summary


# --- endpoints --------------------------------------------------------------------------


def test_an_address_that_appears_is_added_with_its_chain_and_problems() -> None:
    before = report(endpoint("leaf", "x3"))
    after = report(endpoint("leaf", "x3"), endpoint("leaf", "x1", address="192.0.2.11"))
    diff = diff_reports(before, after)

    assert diff.kind == ChangeKind.MATERIAL
    added = next(e for e in diff.endpoints if e.key == "192.0.2.11")
    assert added.status == "added" and added.verdict_after == "broken"
    assert [c.kind for c in added.served] == ["added", "added"]
    assert [f.code for f in added.introduced] == ["wrong-intermediate-same-key"]
    assert (
        "192.0.2.11: now serves a chain not served before — wrong-intermediate-same-key introduced"
        in diff.summary
    )
    assert next(e for e in diff.endpoints if e.key == ADDRESS).status == "same"


def test_an_address_serving_what_the_others_serve_going_away_is_no_change() -> None:
    before = report(endpoint("leaf", "x3"), endpoint("leaf", "x3", address="192.0.2.11"))
    diff = diff_reports(before, report(endpoint("leaf", "x3")))
    assert diff.kind == ChangeKind.SAME
    (same,) = diff.endpoints
    assert same.before_addresses == (ADDRESS, "192.0.2.11") and same.addresses == (ADDRESS,)


def test_a_chain_no_longer_served_is_removed() -> None:
    before = report(
        endpoint("leaf", "x3"), endpoint("other_ca_leaf", "issuing", address="192.0.2.11")
    )
    diff = diff_reports(
        before, report(endpoint("leaf", "x3"), endpoint("leaf", "x3", address="192.0.2.12"))
    )
    removed = next(e for e in diff.endpoints if e.status == "removed")
    assert removed.addresses == ("192.0.2.11",) and removed.verdict_before == "ok"
    assert [c.kind for c in removed.served] == ["removed", "removed"]
    assert diff.kind == ChangeKind.MATERIAL
    assert diff.headline == "Material change: a chain is no longer served"
    assert "192.0.2.11: no longer served" in diff.summary


def test_endpoints_are_matched_by_address_not_by_position() -> None:
    a = endpoint("leaf", "x3", address="192.0.2.10")
    b = endpoint("leaf", "x1", address="192.0.2.11")
    diff = diff_reports(report(a, b), report(b, a))
    assert diff.kind == ChangeKind.SAME


def test_a_scan_wide_finding_introduced_is_material() -> None:
    differ = make_finding("endpoints-differ", detail="two chains", fix="serve one")
    diff = diff_reports(
        report(endpoint("leaf", "x3")), report(endpoint("leaf", "x3"), findings=(differ,))
    )
    assert diff.kind == ChangeKind.MATERIAL
    assert [f.code for f in diff.introduced] == ["endpoints-differ"]
    assert "endpoints-differ introduced" in diff.summary


# --- JSON ------------------------------------------------------------------------------


def test_the_json_names_each_certificate_by_subject_and_short_fingerprint() -> None:
    diff = diff_reports(report(endpoint("leaf", "x1")), report(endpoint("leaf", "x3")))
    body = diff_to_json(diff)
    change = body["endpoints"][0]["served"][0]  # type: ignore[index]
    assert change["before"] == {
        "sha256": describe(certs()["x1"]).sha256,
        "short_fingerprint": fingerprint("x1"),
        "subject": "O=chainscan tests,CN=Example Authority X1",
        "label": "Example Authority X1",
    }
    assert body["kind"] == "improvement" and body["material"] is False
    assert body["headline"] == "Fixed: BROKEN → OK"
    assert body["endpoints"][0]["resolved"] == ["wrong-intermediate-same-key"]  # type: ignore[index]


# --- addresses that rotate (load balancers, CDNs) ------------------------------------


def test_the_same_chain_on_rotated_addresses_is_no_change() -> None:
    before = report(
        endpoint("leaf", "x3", address="203.0.113.10"),
        endpoint("leaf", "x3", address="203.0.113.11"),
        endpoint("leaf", "x3", address="203.0.113.10", sni=None),
    )
    after = report(
        endpoint("leaf", "x3", address="203.0.113.12"),
        endpoint("leaf", "x3", address="203.0.113.13"),
        endpoint("leaf", "x3", address="203.0.113.12", sni=None),
    )
    diff = diff_reports(before, after)

    assert diff.kind == ChangeKind.SAME
    assert "appeared" not in diff.summary and "disappeared" not in diff.summary
    assert diff.summary == (
        "No change: the same chains with the same findings (now from 203.0.113.12, "
        "203.0.113.12 (no SNI) and 203.0.113.13)."
    )


def test_one_address_now_serving_a_different_chain_is_material_and_named() -> None:
    before = report(
        endpoint("leaf", "x3", address="203.0.113.10"),
        endpoint("leaf", "x3", address="203.0.113.11"),
    )
    after = report(
        endpoint("leaf", "x3", address="203.0.113.12"),
        endpoint("leaf", "x1", address="203.0.113.11"),
    )
    diff = diff_reports(before, after)

    assert diff.kind == ChangeKind.MATERIAL
    (changed,) = diff.changed_endpoints
    assert changed.addresses == ("203.0.113.11",)
    assert "203.0.113.11: position 1 changed from Example Authority X3 to Example Authority X1" in (
        diff.summary
    )
    assert "203.0.113.12" not in diff.summary  # the rotated healthy node is no news


# --- rollback, worse findings, sibling intermediates ---------------------------------


def test_going_back_to_an_older_leaf_is_a_rollback_and_material() -> None:
    diff = diff_reports(report(endpoint("renewed", "x3")), report(endpoint("leaf", "x3")))

    assert diff.kind == ChangeKind.ROLLBACK and diff.kind.is_material
    (back,) = diff.endpoints[0].served
    assert back.rollback and not back.routine
    assert diff.headline == "Material change: rolled back to an older certificate issued 2025-05-02"
    assert diff.summary.startswith(
        f"Material change: {ADDRESS}: rolled back to an older certificate issued 2025-05-02"
    )


def _with_finding(e: EndpointReport, code: str, severity: Severity) -> EndpointReport:
    finding = make_finding(code, detail="d", fix="f", severity=severity)
    findings = (*e.findings, finding)
    return dataclasses.replace(e, findings=findings, verdict=Verdict.from_findings(findings))


def test_a_renewal_that_makes_a_finding_worse_is_material() -> None:
    late = pki.NOW + 50 * pki.DAY  # the renewal also clears leaf-expiring-soon
    before = report(_with_finding(endpoint("leaf", "x3", at=late), "no-san", Severity.WARNING))
    after = report(_with_finding(endpoint("renewed", "x3", at=late), "no-san", Severity.ERROR))

    diff = diff_reports(before, after)

    assert diff.kind == ChangeKind.MATERIAL
    assert "no-san warning → error" in diff.summary
    assert diff.headline == "Material change: no-san warning → error (WARNING → BROKEN)"


def test_a_renewal_that_brings_a_new_finding_is_material() -> None:
    after = report(_with_finding(endpoint("renewed", "x3"), "no-san", Severity.WARNING))
    diff = diff_reports(report(endpoint("leaf", "x3")), after)
    assert diff.kind == ChangeKind.MATERIAL
    assert "no-san introduced" in diff.summary


def test_a_renewal_onto_a_sibling_intermediate_of_the_same_ca_is_routine() -> None:
    diff = diff_reports(report(endpoint("leaf", "x3")), report(endpoint("renewed_r11", "r11")))

    assert diff.kind == ChangeKind.RENEWAL
    rotation = "issuer rotated within the CA's set: Example Authority X3 → Example Authority R11"
    assert rotation in diff.summary
    assert diff.headline == f"Routine renewal: {rotation}"


def test_a_sibling_intermediate_served_wrongly_is_material() -> None:
    # Renewed by R11 but still served with X3: strict clients break.
    diff = diff_reports(report(endpoint("leaf", "x3")), report(endpoint("renewed_r11", "x3")))
    assert diff.kind == ChangeKind.MATERIAL


def test_a_renewal_onto_another_cas_intermediate_under_the_same_root_is_material() -> None:
    diff = diff_reports(
        report(endpoint("leaf", "x3")), report(endpoint("renewed_other_org", "other_org"))
    )
    assert diff.kind == ChangeKind.MATERIAL
    assert diff.headline == "Material change: new intermediate Other Authority 1"


# --- words ---------------------------------------------------------------------------


def test_a_long_summary_is_cut_at_a_word_boundary() -> None:
    text = "Material change: " + " ".join(f"word{i}" for i in range(100))
    short = clip(text, 60)
    assert len(short) <= 60 and short.endswith("…")
    assert text.startswith(short[:-1]) and text[len(short) - 1] == " "


def test_an_expected_chain_appearing_from_nothing_is_not_said_as_noise() -> None:
    before = report(dataclasses.replace(endpoint("leaf", "x3"), expected=()))
    diff = diff_reports(before, report(endpoint("leaf", "x3")))
    assert "expected chain" not in diff.summary
    assert "added at position 0" not in diff.summary


def test_a_node_that_stops_answering_is_said_by_its_finding_not_as_a_new_chain() -> None:
    down = dataclasses.replace(
        endpoint("leaf", "x3", address="203.0.113.11"),
        served=(),
        expected=(),
        findings=(make_finding("connect-failed", detail="refused", fix="start it"),),
        verdict=Verdict.BROKEN,
        error="connect-failed",
    )
    before = report(endpoint("leaf", "x3"), endpoint("leaf", "x3", address="203.0.113.11"))
    diff = diff_reports(before, report(endpoint("leaf", "x3"), down))

    assert diff.kind == ChangeKind.MATERIAL
    assert "203.0.113.11: no chain served — connect-failed introduced" in diff.summary
    assert "chain not served before" not in diff.summary


def test_a_node_that_drops_its_intermediate_is_said_as_such() -> None:
    diff = diff_reports(report(endpoint("leaf", "x3")), report(endpoint("leaf")))
    assert "Example Authority X3 removed from position 1 — incomplete-chain introduced" in (
        diff.summary
    )
    assert "no chain served" not in diff.summary
