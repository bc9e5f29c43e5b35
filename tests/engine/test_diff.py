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
from scans.engine.certs import describe
from scans.engine.diff import ChangeKind, chain_changes, diff_reports, diff_to_json
from scans.engine.findings import make_finding
from scans.engine.report import EndpointReport, Report, Verdict
from tests import pki

HOST = "x3.example.com"
ADDRESS = "192.0.2.10"


@functools.cache
def certs() -> dict[str, bytes]:
    c = pki.cast()
    return {
        "leaf": c.leaf_x3.der,
        "x1": c.x1.der,
        "x3": c.x3.der,
        "root": c.root.der,
        # The renewal: a new key, new dates, the same names from the same X3.
        "renewed": pki.leaf(
            HOST,
            c.x3,
            key=pki.key_for("leaf:x3 renewed"),
            not_before=pki.NOW - pki.DAY,
            not_after=pki.NOW + 89 * pki.DAY,
        ).der,
        # Same host and issuer, one more name: not a routine renewal.
        "more_names": pki.leaf(HOST, c.x3, san=[HOST, "api.x3.example.com"]).der,
        # Same names, another CA altogether.
        "other_ca_leaf": pki.leaf(HOST, c.issuing, key=pki.key_for("leaf:x3 other ca")).der,
        "issuing": c.issuing.der,
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
        issuers=MemoryIssuerSource([c["x1"], c["x3"], c["issuing"]]),
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

    assert diff.kind == ChangeKind.MATERIAL
    assert (
        "position 1 changed from Example Authority X1 to Example Authority X3"
        " — wrong-intermediate-same-key resolved" in diff.summary
    )
    # Both probes changed alike: named together, said once.
    assert diff.summary.startswith(f"Material change: {ADDRESS} and {ADDRESS} (no SNI): ")
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
    assert "wrong-intermediate-same-key introduced" in diff.summary
    assert [f.code for f in diff.endpoints[0].introduced] == ["wrong-intermediate-same-key"]


# --- renewal ---------------------------------------------------------------------


def test_a_new_leaf_with_the_same_names_and_issuer_is_a_routine_renewal() -> None:
    diff = diff_reports(report(endpoint("leaf", "x3")), report(endpoint("renewed", "x3")))

    assert diff.kind == ChangeKind.RENEWAL
    assert diff.summary.startswith("Routine renewal: ")
    assert f"{HOST} renewed ({fingerprint('leaf')} → {fingerprint('renewed')})" in diff.summary
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


def test_a_renewal_that_also_swaps_the_intermediate_is_material() -> None:
    diff = diff_reports(report(endpoint("leaf", "x1")), report(endpoint("renewed", "x3")))
    assert diff.kind == ChangeKind.MATERIAL
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

    assert diff.kind == ChangeKind.MATERIAL
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
    assert "192.0.2.11: appeared — wrong-intermediate-same-key introduced" in diff.summary
    assert next(e for e in diff.endpoints if e.key == ADDRESS).status == "same"


def test_an_address_that_disappears_is_removed() -> None:
    before = report(endpoint("leaf", "x3"), endpoint("leaf", "x3", address="192.0.2.11"))
    diff = diff_reports(before, report(endpoint("leaf", "x3")))
    removed = next(e for e in diff.endpoints if e.key == "192.0.2.11")
    assert removed.status == "removed" and removed.verdict_before == "ok"
    assert [c.kind for c in removed.served] == ["removed", "removed"]
    assert diff.kind == ChangeKind.MATERIAL
    assert "192.0.2.11: disappeared" in diff.summary


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
    assert body["kind"] == "material"
    assert body["endpoints"][0]["resolved"] == ["wrong-intermediate-same-key"]  # type: ignore[index]
