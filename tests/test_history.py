"""Host history, change marks, diffs between scans and permalinks, as pages.

Scans are recorded through the real services from the engine's own reports
(tests/factories.py): the X1/X3 incident, its fix, a renewal, an address that
comes and goes.
"""

from __future__ import annotations

import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scans import services
from scans.engine.certs import describe
from scans.engine.targets import Target
from scans.models import Finding, Scan
from tests import factories
from tests.factories import HOST, chains, queued_scan, record_scan

pytestmark = pytest.mark.django_db

A, B = "192.0.2.10", "192.0.2.11"


def host_url(slug: str = HOST) -> str:
    return reverse("host", args=[slug])


def main(response) -> str:  # type: ignore[no-untyped-def]
    """The page's content, without the CSRF tokens (new in every response)."""
    html = response.content.decode()
    content = html[html.index("<main>") : html.index("</main>")]
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", content)


def rows(html: str) -> list[str]:
    """The data-token of each history row, top to bottom."""
    return re.findall(r'<tr class="[^"]*" data-token="([^"]+)"', html)


@pytest.fixture
def incident(alice):  # type: ignore[no-untyped-def]
    """alice's history of the incident: served X1, then the fix, then a renewal."""
    c = chains()
    broken = record_scan(c.served_x1(), user=alice)
    fixed = record_scan(c.served_x3(), user=alice)
    renewed = record_scan([c.renewed_leaf, c.x3], user=alice)
    return broken, fixed, renewed


# --- the host page ----------------------------------------------------------------


def test_the_host_page_lists_every_scan_newest_first_with_its_verdict(alice_client, incident):
    broken, fixed, renewed = incident
    queued = queued_scan(user=incident[0].requested_by)

    html = alice_client.get(host_url()).content.decode()

    assert rows(html) == [queued.token, renewed.token, fixed.token, broken.token]
    assert html.count('class="verdict verdict-broken"') == 1
    assert html.count('class="verdict verdict-ok"') == 2
    assert "4 scans" in html


def test_a_fix_is_marked_as_an_improvement_not_with_the_regression_mark(alice_client, incident):
    _, fixed, _ = incident
    assert fixed.change == Scan.Change.IMPROVEMENT
    html = alice_client.get(host_url()).content.decode()

    mark = re.search(
        r'<a class="change-mark change-improvement" href="([^"]+)">(.*?)</a>', html, re.S
    )
    assert mark is not None
    assert mark.group(1) == reverse("diff-previous", args=[fixed.token])
    assert "✔" in mark.group(2) and "▲" not in mark.group(2)
    assert "(served chain, findings changed)" in html
    assert "wrong-intermediate-same-key resolved" in html
    assert "change-mark change-material" not in html


def test_a_regression_is_marked_as_a_material_change_with_a_link_to_its_diff(alice, alice_client):
    record_scan(chains().served_x3(), user=alice)
    regressed = record_scan(chains().served_x1(), user=alice)
    assert regressed.change == Scan.Change.MATERIAL

    html = alice_client.get(host_url()).content.decode()

    mark = re.search(r'<a class="change-mark change-material" href="([^"]+)">(.*?)</a>', html)
    assert mark is not None
    assert mark.group(1) == reverse("diff-previous", args=[regressed.token])
    assert "▲" in mark.group(2)
    assert "wrong-intermediate-same-key introduced" in html


def test_history_rows_say_a_status_only_when_a_scan_is_not_done(alice_client, incident):
    queued_scan(user=incident[0].requested_by)
    html = alice_client.get(host_url()).content.decode()
    assert html.count("status-done") == 0
    assert html.count("status status-queued") == 1


def test_a_routine_renewal_is_marked_apart_from_a_material_change(alice_client, incident):
    _, _, renewed = incident
    assert renewed.change == Scan.Change.RENEWAL
    html = alice_client.get(host_url()).content.decode()
    renewal = re.search(
        r'<a class="change-mark change-renewal" href="([^"]+)"[^>]*>([^<]+)</a>', html
    )
    assert renewal is not None
    assert renewal.group(1) == reverse("diff-previous", args=[renewed.token])
    assert renewal.group(2) == "routine renewal"
    # Old → new expiry dates, not fingerprints.
    assert "x3.example.com renewed, valid until 2025-07-31 → 2025-08-28" in html
    assert describe(chains().renewed_leaf).short_fingerprint not in html
    assert html.count("change-mark change-material") == 0


def test_a_rescan_with_nothing_changed_gets_no_change_mark(alice, alice_client):
    record_scan(chains().served_x3(), user=alice)
    same = record_scan(chains().served_x3(), user=alice)
    assert same.change == Scan.Change.SAME
    html = alice_client.get(host_url()).content.decode()
    assert "change-mark" not in html
    assert "no change" in html and "first scan" in html


def test_the_host_page_is_paginated(alice, alice_client, settings):
    settings.CHAINSCAN_HISTORY_PAGE_SIZE = 2
    scans = [record_scan(chains().served_x3(), user=alice) for _ in range(5)]
    newest_first = [s.token for s in reversed(scans)]

    first = alice_client.get(host_url()).content.decode()
    last = alice_client.get(host_url() + "?page=3").content.decode()

    assert rows(first) == newest_first[:2]
    assert 'rel="next" href="?page=2"' in first and "page 1 of 3" in first
    assert rows(last) == newest_first[4:]
    assert 'rel="prev" href="?page=2"' in last and 'rel="next"' not in last


def test_the_latest_report_link_opens_the_newest_finished_scan(alice, alice_client):
    record_scan(chains().served_x1(), user=alice)
    newest = record_scan(chains().served_x3(), user=alice)
    queued_scan(user=alice)  # newer, but not finished: not "the latest report"

    html = alice_client.get(host_url()).content.decode()
    assert f'href="{reverse("host-latest", args=[HOST])}">Latest report</a>' in html
    response = alice_client.get(reverse("host-latest", args=[HOST]))
    assert response.status_code == 302
    assert response["Location"] == reverse("report", args=[newest.token])


def test_a_host_on_another_port_has_its_own_history(alice, alice_client):
    record_scan(chains().served_x1(), user=alice)
    other = record_scan(chains().served_x3(), user=alice, port=8443)

    html = alice_client.get(host_url(f"{HOST}:8443")).content.decode()
    assert rows(html) == [other.token]


def test_a_host_given_by_ipv6_address_and_port_has_a_history_page(alice, alice_client):
    scan = record_scan(
        {"2001:db8::10": chains().served_x3()}, user=alice, host="2001:db8::1", port=8443
    )
    response = alice_client.get(host_url("[2001:db8::1]:8443"))
    assert response.status_code == 200
    assert rows(response.content.decode()) == [scan.token]


def test_an_unknown_host_is_not_found(alice_client):
    assert alice_client.get(host_url("never-scanned.example")).status_code == 404
    assert alice_client.get(host_url("not a host!")).status_code == 404


# --- change classification at record time ---------------------------------------------


def test_a_scan_stopped_by_its_time_limit_is_not_what_the_next_scan_is_compared_with(alice):
    broken = record_scan(chains().served_x1(), user=alice)
    stopped = queued_scan(user=alice)
    services.scan_fail(scan_id=stopped.pk, error="the scan took longer than its time limit")

    fixed = record_scan(chains().served_x3(), user=alice)

    assert fixed.previous_id == broken.pk
    assert fixed.change == Scan.Change.IMPROVEMENT


def test_an_unchanged_rescan_is_classified_without_rebuilding_the_previous_report(alice):
    record_scan(chains().served_x3(), user=alice)
    report = factories.engine_report({A: chains().served_x3()})
    claimed = factories.claimed_scan(user=alice)

    with CaptureQueriesContext(connection) as queries:
        same = services.scan_record(scan=claimed, report=report)

    assert same.change == Scan.Change.SAME
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert any('FROM "scans_scan"' in sql for sql in reads)  # the previous scan was looked up
    assert not [sql for sql in reads if "scans_chainentry" in sql or "scans_finding" in sql]


def test_a_finished_scan_is_never_rewritten(alice, alice_client):
    scan = record_scan(chains().served_x1(), user=alice)
    before = main(alice_client.get(reverse("report", args=[scan.token])))

    again = services.scan_record(
        scan=scan, report=factories.engine_report({A: chains().served_x3()})
    )
    claimed = services.scan_claim(scan_id=scan.pk)

    assert claimed is None
    assert again.verdict == "broken" and again.endpoints.count() == 2
    assert main(alice_client.get(reverse("report", args=[scan.token]))) == before


# --- the diff page ----------------------------------------------------------------------


def test_the_diff_page_names_the_intermediate_swap_and_the_resolved_finding(alice_client, incident):
    _, fixed, _ = incident
    response = alice_client.get(reverse("diff-previous", args=[fixed.token]))
    html = response.content.decode()

    assert response.status_code == 200
    assert (
        "position 1 changed from Example Authority X1 to Example Authority X3"
        " — wrong-intermediate-same-key resolved" in html
    )
    # Each certificate by subject and short fingerprint.
    x1, x3 = (describe(d) for d in (chains().x1, chains().x3))
    assert f"{x1.subject} <code" in html and x1.short_fingerprint in html
    assert f"{x3.subject} <code" in html and x3.short_fingerprint in html
    assert 'class="resolved" data-code="wrong-intermediate-same-key"' in html


def test_the_diff_page_compares_any_two_scans_in_either_order(alice_client, incident):
    broken, _, renewed = incident
    forward = alice_client.get(reverse("diff", args=[broken.token, renewed.token]))
    backward = alice_client.get(reverse("diff", args=[renewed.token, broken.token]))

    assert forward.status_code == backward.status_code == 200
    assert main(forward) == main(backward)
    html = main(forward)
    # Older first: from the broken scan to the renewed one.
    assert html.index(reverse("report", args=[broken.token])) < html.index(
        reverse("report", args=[renewed.token])
    )
    assert "position 0 renewed: x3.example.com" in html
    assert "position 1 changed from Example Authority X1 (" in html


def test_the_diff_page_names_a_chain_no_longer_served_and_the_addresses_unchanged(
    alice, alice_client
):
    c = chains()
    record_scan({A: c.served_x3(), B: c.served_x1()}, user=alice)
    after = record_scan({A: c.served_x3(), "192.0.2.12": c.served_x3()}, user=alice)

    html = alice_client.get(reverse("diff-previous", args=[after.token])).content.decode()

    # The node serving X1 is gone, the others serve the same good chain: a fix.
    assert after.change == Scan.Change.IMPROVEMENT
    assert 'id="diff-headline"' in html and "Fixed: BROKEN → OK" in html
    assert 'data-endpoint="192.0.2.11"' in html and "no longer served" in html
    assert "192.0.2.11: no longer served — wrong-intermediate-same-key resolved" in html
    # The healthy chain on a new address is no news: listed once as unchanged.
    assert "192.0.2.10, 192.0.2.12: same served chain" in html
    assert "new address" not in html and "appeared" not in html


def test_the_first_scan_of_a_host_has_nothing_to_compare_with(alice, alice_client):
    first = record_scan(chains().served_x3(), user=alice)
    assert alice_client.get(reverse("diff-previous", args=[first.token])).status_code == 404


def test_scans_of_different_hosts_or_unfinished_scans_are_not_compared(alice, alice_client):
    here = record_scan(chains().served_x3(), user=alice)
    elsewhere = record_scan(chains().served_x3(), user=alice, port=8443)
    running = queued_scan(user=alice)

    assert alice_client.get(reverse("diff", args=[here.token, elsewhere.token])).status_code == 404
    assert alice_client.get(reverse("diff", args=[here.token, running.token])).status_code == 404


# --- the report page: permalink, copy link, PEM, the way to the diff ------------------


def test_the_report_offers_its_permalink_with_a_copy_link_control(alice_client, incident):
    _, fixed, _ = incident
    url = reverse("report", args=[fixed.token])
    html = alice_client.get(url + "?from=chat").content.decode()

    assert f'<input id="permalink" readonly value="http://testserver{url}"' in html
    assert 'data-copy="#permalink"' in html and "Copy link" in html
    assert len(fixed.token) >= 43  # 256 random bits


def test_scan_again_on_a_report_starts_a_new_scan_of_that_host(alice_client, incident):
    _, fixed, _ = incident
    html = alice_client.get(reverse("report", args=[fixed.token])).content.decode()
    assert "Scan again" in html

    response = alice_client.post(reverse("home"), {"targets": str(fixed.host)})

    newest = Scan.objects.order_by("-pk").first()
    assert newest.host == fixed.host and newest.status == Scan.Status.QUEUED
    assert response.status_code == 302 and response.url == reverse("report", args=[newest.token])


def test_scan_again_keeps_the_addresses_a_scan_was_pinned_to(alice, alice_client):
    (pinned,) = services.scan_request(
        targets=[Target(host=HOST, port=443)], user=alice, pin=["192.0.2.10", "2001:db8::10"]
    )
    html = alice_client.get(reverse("report", args=[pinned.token])).content.decode()
    assert 'name="addresses" value="192.0.2.10, 2001:db8::10"' in html
    assert "Scan again (same addresses)" in html


def test_a_shared_permalink_opened_without_an_account_offers_no_scan_button(client, incident):
    _, fixed, _ = incident
    response = client.get(reverse("report", args=[fixed.token]))
    assert response.status_code == 200  # permalinks are public in the tests' settings
    assert "Scan again" not in response.content.decode()


def test_the_report_links_to_what_changed_since_the_scan_before(alice_client, incident):
    broken, fixed, _ = incident
    html = alice_client.get(reverse("report", args=[fixed.token])).content.decode()
    assert reverse("diff", args=[fixed.token, broken.token]) in html
    assert "What changed since the previous scan (improvement)" in html


@pytest.mark.parametrize("kind", ["served", "expected"])
def test_a_chain_downloads_as_pem(alice_client, incident, kind):
    broken, _, _ = incident
    response = alice_client.get(
        reverse("report-pem", args=[broken.token]) + f"?kind={kind}&endpoint=0"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-pem-file"
    assert f'filename="{HOST}-{kind}-chain.pem"' in response["Content-Disposition"]
    served = x509.load_pem_x509_certificates(response.content)
    c = chains()
    wanted = c.served_x1() if kind == "served" else c.served_x3()
    assert [cert.public_bytes(Encoding.DER) for cert in served] == wanted


def test_a_pem_download_of_a_missing_endpoint_is_not_found(alice_client, incident):
    broken, _, _ = incident
    url = reverse("report-pem", args=[broken.token])
    assert alice_client.get(url + "?kind=served&endpoint=7").status_code == 404
    assert alice_client.get(url + "?kind=private-key").status_code == 404


# --- scale -----------------------------------------------------------------------------------


def test_the_host_page_costs_the_same_queries_at_10_and_1000_scans(alice, alice_client):
    seed = record_scan(chains().served_x1(), user=alice)
    factories.bulk_history(seed, 9)
    # A recorded scan on the first page both times: its chains are on the timeline.
    record_scan(chains().served_x3(), user=alice)

    with CaptureQueriesContext(connection) as small:
        assert alice_client.get(host_url()).status_code == 200
    factories.bulk_history(seed, 990)
    record_scan(chains().served_x3(), user=alice)
    with CaptureQueriesContext(connection) as large:
        response = alice_client.get(host_url())

    assert response.status_code == 200
    assert "1002 scans" in response.content.decode()
    assert len(rows(response.content.decode())) == 50
    assert len(large) == len(small), [q["sql"] for q in large]
    # Scan rows are read a page at a time (a LIMIT, or the page's ids), never
    # the whole history; only the count looks at every row.
    scan_reads = [q["sql"] for q in large if q["sql"].startswith('SELECT "scans_scan"')]
    assert scan_reads and all(
        "LIMIT" in sql or '"scans_scan"."id" IN (' in sql for sql in scan_reads
    ), scan_reads


def test_recording_a_scan_costs_the_same_statements_for_one_address_or_five(alice):
    """The worker writes a report in a fixed number of statements (bulk inserts), so a
    host behind a big load balancer costs no more round trips than a single server."""
    c = chains()

    def statements(served: dict[str, list[bytes]], host: str) -> int:
        report = factories.engine_report(served, host=host)
        claimed = factories.claimed_scan(user=alice, host=host)
        with CaptureQueriesContext(connection) as queries:
            recorded = services.scan_record(scan=claimed, report=report)
        assert recorded.status == Scan.Status.DONE
        return len(queries)

    record_scan(c.served_x1(), user=alice)  # its certificates are known from now on

    one = statements({"192.0.2.10": c.served_x1()}, "one.example.com")
    five = statements({f"192.0.2.{i}": c.served_x1() for i in range(20, 25)}, "five.example.com")
    assert five == one, (one, five)


def test_a_finding_text_is_stored_within_its_cap(settings):
    """Names in findings come from certificates; a server's 60 KB names must not
    multiply into megabytes of finding text per scan."""
    import dataclasses

    from tests.factories import engine_report, record_report

    settings.CHAINSCAN_MAX_FINDING_CHARS = 4000
    report = engine_report({A: [chains().leaf]})
    endpoint = report.endpoints[0]
    huge = dataclasses.replace(endpoint.findings[0], detail="CN=" + "x" * 100_000)
    report = dataclasses.replace(
        report, endpoints=(dataclasses.replace(endpoint, findings=(huge,)), *report.endpoints[1:])
    )

    scan = record_report(report)

    stored = Finding.objects.get(
        outcome__endpoints__endpoint_set__scans=scan, detail__startswith="CN=xxx"
    )
    assert len(stored.detail) == 4000
    assert stored.detail.endswith("…")


# --- change detection people can trust (recorded scans) ---------------------------------


def test_going_back_to_an_older_leaf_is_recorded_as_a_rollback_not_a_renewal(alice, alice_client):
    c = chains()
    record_scan([c.renewed_leaf, c.x3], user=alice)
    restored = record_scan([c.leaf, c.x3], user=alice)  # a restored image: the older leaf

    assert restored.change == Scan.Change.ROLLBACK and restored.is_material_change
    assert "rolled back to an older certificate issued 2025-05-02" in restored.change_summary
    html = alice_client.get(host_url()).content.decode()
    mark = re.search(r'<a class="change-mark change-rollback" href="[^"]+">(.*?)</a>', html)
    assert mark is not None and "▲" in mark.group(1)


@pytest.fixture
def r11_renewal() -> list[bytes]:
    """x3.example.com renewed by X3's sibling under the same root (LE's R10 → R11)."""
    from tests import pki

    r11 = pki.intermediate("Example Authority R11", pki.cast().root)
    leaf = pki.leaf(
        HOST,
        r11,
        key=pki.key_for("leaf:x3.example.com by r11"),
        not_before=pki.NOW - pki.DAY,
        not_after=pki.NOW + 89 * pki.DAY,
    )
    return [leaf.der, r11.der]


def test_a_renewal_onto_a_sibling_intermediate_is_a_routine_renewal_that_says_so(
    alice, r11_renewal
):
    record_scan(chains().served_x3(), user=alice)
    renewed = record_scan(r11_renewal, user=alice)

    assert renewed.change == Scan.Change.RENEWAL and not renewed.is_material_change
    assert (
        "issuer rotated within the CA's set: Example Authority X3 → Example Authority R11"
        in renewed.change_summary
    )


def test_a_renewal_that_brings_a_new_finding_is_recorded_as_material(alice):
    from tests import pki

    weak = pki.leaf(
        HOST,
        pki.cast().x3,
        key=pki.key_for("leaf:weak renewal", "rsa1024"),
        not_before=pki.NOW - pki.DAY,
        not_after=pki.NOW + 89 * pki.DAY,
    )
    record_scan(chains().served_x3(), user=alice)
    renewed = record_scan([weak.der, chains().x3], user=alice)

    assert renewed.change == Scan.Change.MATERIAL
    assert "weak-key introduced" in renewed.change_summary


def test_a_stored_summary_is_never_cut_mid_word(alice):
    c = chains()
    many = {f"192.0.2.{n}": c.served_x3() for n in range(10, 20)}
    record_scan(many, user=alice)
    # Every address now serves its own chain: a long summary.
    broken = {f"192.0.2.{n}": [c.leaf] if n % 2 else c.served_x1() for n in range(10, 20)}
    after = record_scan(broken, user=alice)
    row = factories.history_row(after)
    assert after.change == Scan.Change.MATERIAL
    assert len(row.summary) <= 240 and row.summary.endswith("…")
    cut = row.summary[:-1]
    assert after.change_summary.startswith(cut)
    assert after.change_summary[len(cut)] in " ;,"


# --- overlapping teams: a change summary describes a scan the viewer may not see ----------


@pytest.fixture
def overlapping(alice, bob, charlie):  # type: ignore[no-untyped-def]
    """ops = alice and bob; audit = bob and charlie. Alice scans the host from inside
    (an internal address), then bob: his scan is compared with hers."""
    factories.team("ops", alice, bob)
    factories.team("audit", bob, charlie)
    c = chains()
    hers = record_scan({A: c.served_x3(), "10.20.30.41": c.served_x1()}, user=alice)
    his = record_scan({A: c.served_x3()}, user=bob)
    assert his.previous_id == hers.pk and "10.20.30.41" in his.change_summary
    return hers, his


def test_a_viewer_who_cannot_browse_the_previous_scan_sees_no_change_summary(
    client, charlie, overlapping
):
    hers, his = overlapping
    client.force_login(charlie)

    html = client.get(host_url()).content.decode()
    api = client.get(reverse("api-host-scans", args=[HOST])).json()
    detail = client.get(reverse("api-scan", args=[his.token])).json()

    assert his.token in html and hers.token not in html
    assert "10.20.30.41" not in html and "change-mark" not in html
    (item,) = api["scans"]
    assert (item["change"], item["change_summary"], item["diff"]) == (None, None, None)
    assert item["changed"] == []
    assert (detail["change"], detail["change_summary"]) == (None, None)
    assert "10.20.30.41" not in str(api) + str(detail)


def test_a_viewer_who_can_browse_the_previous_scan_sees_the_change(client, bob, overlapping):
    _, his = overlapping
    client.force_login(bob)

    html = client.get(host_url()).content.decode()
    detail = client.get(reverse("api-scan", args=[his.token])).json()

    assert "10.20.30.41: no longer served" in html
    assert detail["change"] == "improvement" and "10.20.30.41" in detail["change_summary"]


# --- the timeline and the diff between any two scans --------------------------------------


def test_the_host_page_draws_a_timeline_of_verdicts_and_expiry_dates(alice_client, incident):
    html = main(alice_client.get(host_url()))

    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "leaf x3.example.com" in svg and "intermediate Example Authority X3" in svg
    # The three scans were recorded within a second: one dot, its worst verdict,
    # the run of verdicts in its title.
    assert svg.count('class="point verdict-dot-') == 1 and "3 scans, " in svg
    assert "verdict-dot-broken" in svg and "change-improvement" in svg
    assert ": BROKEN → OK (improvement)</title>" in svg
    # The served X1 and X3 both have a lane; the renewal adds a second leaf bar.
    assert "intermediate Example Authority X1" in svg
    assert "valid until 2025-07-31" in svg and "valid until 2025-08-28" in svg
    # The text alternative: one row per scan with its expiry dates.
    table = html[html.index('class="timeline-text"') :]
    assert "2025-08-28" in table and "Example Authority X3: 2026-06-01" in table


def test_any_two_scans_are_compared_through_the_history_form(alice_client, incident):
    broken, _, renewed = incident
    page = alice_client.get(host_url()).content.decode()
    assert f'name="older" value="{broken.token}"' in page
    assert f'name="newer" value="{renewed.token}"' in page

    response = alice_client.get(
        reverse("host-compare", args=[HOST]), {"older": broken.token, "newer": renewed.token}
    )
    assert response.status_code == 302
    html = alice_client.get(response["Location"]).content.decode()

    assert "Fixed: BROKEN → OK" in html
    assert "position 0 renewed: x3.example.com" in html


def test_comparing_a_scan_with_itself_is_explained(alice_client, incident):
    broken = incident[0]
    response = alice_client.get(
        reverse("host-compare", args=[HOST]), {"older": broken.token, "newer": broken.token}
    )
    assert response.status_code == 400
    assert "Pick two different scans to compare." in response.content.decode()


def test_the_diff_headline_names_the_new_intermediate(alice_client, alice):
    record_scan(chains().served_x3(), user=alice)
    regressed = record_scan(chains().served_x1(), user=alice)
    html = alice_client.get(reverse("diff-previous", args=[regressed.token])).content.decode()
    headline = re.search(
        r'<h2 class="headline change-material" id="diff-headline">(.*?)</h2>', html
    )
    assert headline is not None
    text = headline.group(1)
    assert "Material change: new intermediate Example Authority X1 (OK → BROKEN)" in text
    assert "▲" in text and "✔" not in text


def test_a_change_repeated_on_the_no_sni_probe_is_said_once_with_its_addresses(
    alice_client, incident
):
    _, fixed, _ = incident
    html = alice_client.get(reverse("diff-previous", args=[fixed.token])).content.decode()
    summary = re.search(r'id="diff-summary">(.*?)</p>', html)
    assert summary is not None
    assert summary.group(1).count("position 1 changed from Example Authority X1") == 1
    assert f"{A} and {A} (no SNI): position 1 changed" in summary.group(1)
    assert "expected chain" not in summary.group(1)


def test_the_diff_page_shows_a_change_repeated_on_the_no_sni_probe_once(alice_client, incident):
    _, fixed, _ = incident
    html = alice_client.get(reverse("diff-previous", args=[fixed.token])).content.decode()
    assert html.count('<section class="card endpoint diff-changed"') == 1
    assert f'data-endpoint="{A}, {A} (no SNI)"' in html


def test_the_compare_form_refuses_a_scan_of_another_host(alice, alice_client):
    here = record_scan(chains().served_x3(), user=alice)
    elsewhere = record_scan(chains().served_x3(), user=alice, port=8443)
    response = alice_client.get(
        reverse("host-compare", args=[HOST]), {"older": elsewhere.token, "newer": here.token}
    )
    assert response.status_code == 404
