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
from scans.models import Scan
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


def test_a_material_change_is_marked_with_a_link_to_its_diff(alice_client, incident):
    _, fixed, _ = incident
    html = alice_client.get(host_url()).content.decode()

    mark = re.search(r'<a class="change-mark change-material" href="([^"]+)"', html)
    assert mark is not None
    assert mark.group(1) == reverse("diff-previous", args=[fixed.token])
    assert "(served chain, findings changed)" in html
    assert "wrong-intermediate-same-key resolved" in html


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
    assert html.count("change-mark change-material") == 1


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
    assert fixed.change == Scan.Change.MATERIAL


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


def test_the_diff_page_shows_an_address_that_appeared_and_one_that_went(alice, alice_client):
    c = chains()
    record_scan({A: c.served_x3(), B: c.served_x1()}, user=alice)
    after = record_scan({A: c.served_x3(), "192.0.2.12": c.served_x3()}, user=alice)

    html = alice_client.get(reverse("diff-previous", args=[after.token])).content.decode()

    assert after.change == Scan.Change.MATERIAL
    assert 'data-endpoint="192.0.2.12"' in html and "new address" in html
    assert 'data-endpoint="192.0.2.11"' in html and "address gone" in html
    assert "192.0.2.11: disappeared — wrong-intermediate-same-key resolved" in html


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
    assert "What changed since the previous scan (material change)" in html


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

    with CaptureQueriesContext(connection) as small:
        assert alice_client.get(host_url()).status_code == 200
    factories.bulk_history(seed, 990)
    with CaptureQueriesContext(connection) as large:
        response = alice_client.get(host_url())

    assert response.status_code == 200
    assert "1000 scans" in response.content.decode()
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

    stored = scan.findings.get(detail__startswith="CN=xxx")
    assert len(stored.detail) == 4000
    assert stored.detail.endswith("…")
