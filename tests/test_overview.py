"""The overview and the watch pages: landing, counts, urgency, expiry with the
certificate that expires first, filters, CSV, adding and managing watches, badge."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from scans import monitoring
from scans.engine.targets import Target
from scans.models import Host, Scan, Watch
from tests import pki
from tests.factories import HOST, chains, record_report, record_scan, team

pytestmark = pytest.mark.django_db


def watch_of(scan: Scan, *, user, tags=()) -> Watch:  # type: ignore[no-untyped-def]
    watch, _ = monitoring.watch_create(
        user=user, target=Target(scan.host.hostname, scan.host.port), tags=tags, seed_scan=scan
    )
    return watch


def short_intermediate_scan(user, *, port: int = 443) -> Scan:  # type: ignore[no-untyped-def]
    """A host whose intermediate expires in 20 days, long before its leaf."""
    from tests.factories import engine_report

    c = pki.cast()
    inter = pki.intermediate(
        "Short-lived Intermediate",
        c.root,
        not_before=pki.NOW - pki.DAY,
        not_after=pki.NOW + 20 * pki.DAY,
    )
    leaf = pki.leaf(HOST, inter, key=pki.key_for("leaf:short"), not_after=pki.NOW + 80 * pki.DAY)
    return record_report(engine_report({"192.0.2.10": [leaf.der, inter.der]}, port=port), user=user)


def test_a_user_who_watches_something_lands_on_the_overview_and_the_form_is_one_click_away(
    alice_client, alice
):
    assert alice_client.get("/").status_code == 200  # nothing watched: the scan form
    watch_of(record_scan(chains().served_x3(), user=alice), user=alice)
    response = alice_client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("overview")
    page = alice_client.get(reverse("overview")).content.decode()
    assert f'href="{reverse("scan-form")}"' in page
    assert 'id="scan-form"' in alice_client.get(reverse("scan-form")).content.decode()


def test_a_teammates_watch_counts_and_an_outsider_sees_none(client, alice, bob, charlie):
    team("ops", alice, bob)
    watch_of(record_scan(chains().served_x3(), user=alice), user=alice)
    client.force_login(bob)
    assert client.get("/").status_code == 302
    assert HOST in client.get(reverse("overview")).content.decode()
    client.force_login(charlie)
    assert client.get("/").status_code == 200
    assert HOST not in client.get(reverse("overview")).content.decode()


def test_rows_show_verdict_days_left_and_which_certificate_expires_first(alice_client, alice):
    scan = short_intermediate_scan(alice)
    assert scan.expires_first == "Short-lived Intermediate"
    watch_of(scan, user=alice)
    days = (scan.valid_until - timezone.now()).days
    page = alice_client.get(reverse("overview")).content.decode()
    assert "Short-lived Intermediate" in page
    assert f"{days} day" in page or "expired" in page


def test_a_row_that_is_not_ok_says_why_in_one_line(alice_client, alice):
    c = chains()
    watch_of(record_scan(c.served_x1(), user=alice), user=alice)
    watch_of(record_scan(c.served_x3(), user=alice, port=8443), user=alice)
    failed = record_scan(c.served_x3(), user=alice, port=8444)
    Scan.objects.filter(pk=failed.pk).update(
        status=Scan.Status.FAILED, verdict="", error="connection refused by 192.0.2.10:8444"
    )
    failed.refresh_from_db()
    watch_of(failed, user=alice)

    exported = alice_client.get(reverse("overview-csv")).streaming_content
    rows = list(csv.reader(io.StringIO(b"".join(exported).decode())))
    assert sorted(r[-1] for r in rows[1:]) == [
        "",
        "Wrong intermediate: right key, wrong name",
        "connection refused by 192.0.2.10:8444",
    ]
    page = alice_client.get(reverse("overview")).content.decode()
    headlines = page.split('class="headline">')[1:]
    assert [h.split("<")[0] for h in headlines] == [
        "Wrong intermediate: right key, wrong name",
        "connection refused by 192.0.2.10:8444",
    ]  # the broken row first (most urgent), and nothing under the ok one


def test_most_urgent_first_counts_link_to_their_filter(alice_client, alice):
    c = chains()
    watch_of(record_scan(c.served_x3(), user=alice, port=8443), user=alice, tags=["web"])
    watch_of(record_scan(c.served_x1(), user=alice), user=alice, tags=["prod"])
    page = alice_client.get(reverse("overview")).content.decode()
    assert page.index(f'href="/hosts/{HOST}"') < page.index(f'href="/hosts/{HOST}:8443"')
    assert "<strong>1</strong> broken" in page and "<strong>1</strong> ok" in page
    broken_only = alice_client.get(reverse("overview") + "?state=broken").content.decode()
    assert f"/hosts/{HOST}:8443" not in broken_only and f'/hosts/{HOST}"' in broken_only
    tagged = alice_client.get(reverse("overview") + "?tag=web").content.decode()
    assert f"/hosts/{HOST}:8443" in tagged and f'/hosts/{HOST}"' not in tagged
    found = alice_client.get(reverse("overview") + "?q=8443").content.decode()
    assert "No watch matches" in found  # the search is on names, tags and notes
    found = alice_client.get(reverse("overview") + "?q=prod").content.decode()
    assert f'/hosts/{HOST}"' in found and f"/hosts/{HOST}:8443" not in found


def test_the_last_change_links_to_its_diff(alice_client, alice):
    c = chains()
    first = record_scan(c.served_x1(), user=alice)
    watch = watch_of(first, user=alice)
    second = record_scan(c.served_x3(), user=alice)
    # Recorded as a scan of the watch, as the scheduler's would be.
    Scan.objects.filter(pk=second.pk).update(watch=watch)
    from scans.services import watched_scan_finished

    second.refresh_from_db()
    watched_scan_finished(scan=second)
    page = alice_client.get(reverse("overview")).content.decode()
    assert reverse("diff-previous", args=[second.token]) in page
    # X1 → X3 is the fix: shown as an improvement, not a regression.
    assert second.change == Scan.Change.IMPROVEMENT
    assert second.get_change_display() in page
    assert "<strong>1</strong> changed in the last 7 days" in page


def test_the_overview_costs_the_same_queries_for_10_or_100_watches(
    alice_client, alice, django_assert_max_num_queries, settings
):
    settings.CHAINSCAN_OVERVIEW_PAGE_SIZE = 200
    # Half broken: their rows read their headline finding too.
    scans = [
        record_scan(chains().served_x3(), user=alice),
        record_scan(chains().served_x1(), user=alice),
    ]

    def add(n: int, start: int) -> None:
        hosts = Host.objects.bulk_create(
            [Host(hostname=f"h{i}.example.com") for i in range(start, start + n)]
        )
        Watch.objects.bulk_create(
            [
                Watch(
                    host=h,
                    interval=3600,
                    created_by=alice,
                    next_run_at=timezone.now(),
                    last_scan=scans[h.pk % 2],
                    last_change=scans[h.pk % 2],
                    tags=["t"],
                )
                for h in hosts
            ]
        )

    add(10, 0)
    with django_assert_max_num_queries(10) as small:
        assert alice_client.get(reverse("overview")).status_code == 200
    add(90, 10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = alice_client.get(reverse("overview"))
    assert response.content.decode().count('class="watch-select"') == 100
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert alice_client.get(reverse("overview-live")).status_code == 200


def test_the_live_fragment_polls_and_keeps_ticked_boxes(alice_client, alice):
    watch_of(record_scan(chains().served_x3(), user=alice), user=alice)
    fragment = alice_client.get(reverse("overview-live") + "?state=ok").content.decode()
    # It asks for itself again, with the same filters, and is only the live part.
    assert 'hx-trigger="every 30s"' in fragment and 'hx-get="/watches/live?state=ok"' in fragment
    assert "<html" not in fragment and HOST in fragment
    assert 'hx-preserve="true"' in fragment


def test_csv_export_has_every_matching_watch_and_defuses_formulas(alice_client, alice):
    scan = record_scan(chains().served_x3(), user=alice)
    Scan.objects.filter(pk=scan.pk).update(expires_first='=HYPERLINK("http://evil")')
    watch_of(scan, user=alice, tags=["prod"])
    response = alice_client.get(reverse("overview-csv") + "?tag=prod")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["host", "port", "ip", "state"]
    assert rows[1][0] == HOST and rows[1][3] == "ok"
    assert rows[1][6].startswith("'=")
    assert len(rows) == 2
    assert rows[0][-1] == "why" and rows[1][-1] == ""  # an ok watch has nothing to say
    # The overview's filters apply to the export: nothing is paused.
    paused = alice_client.get(reverse("overview-csv") + "?state=paused")
    assert len(b"".join(paused.streaming_content).decode().splitlines()) == 1


# --- adding watches ------------------------------------------------------------------------


def test_watch_this_host_from_a_report_adopts_that_report(alice_client, alice):
    scan = record_scan(chains().served_x1(), user=alice)
    report = alice_client.get(reverse("report", args=[scan.token])).content.decode()
    assert reverse("watch-from-report", args=[scan.token]) in report
    response = alice_client.post(reverse("watch-from-report", args=[scan.token]))
    assert response.status_code == 302
    watch = Watch.objects.get()
    assert watch.last_scan == scan and watch.created_by == alice
    assert not Scan.objects.filter(status="queued").exists()  # no second scan needed
    # The second run is spread over the interval.
    assert watch.next_run_at > timezone.now() + dt.timedelta(seconds=0.1 * watch.interval - 5)
    assert "Watched" in alice_client.get(reverse("report", args=[scan.token])).content.decode()
    alice_client.post(reverse("watch-from-report", args=[scan.token]))
    assert Watch.objects.count() == 1


def test_watch_from_the_host_page(alice_client, alice):
    scan = record_scan(chains().served_x3(), user=alice)
    assert (
        reverse("watch-from-host", args=[HOST])
        in alice_client.get(f"/hosts/{HOST}").content.decode()
    )
    alice_client.post(reverse("watch-from-host", args=[HOST]))
    assert Watch.objects.get().last_scan == scan


def test_an_outsider_cannot_watch_from_a_host_page_they_cannot_see(client, alice, charlie):
    record_scan(chains().served_x3(), user=alice)
    client.force_login(charlie)
    assert client.post(reverse("watch-from-host", args=[HOST])).status_code == 404
    assert not Watch.objects.exists()


def test_keep_watching_on_the_scan_form_makes_the_scan_the_watchs_first(alice_client, alice):
    response = alice_client.post(
        "/", {"targets": "a.example.com\nb.example.com:8443", "watch": "on"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("overview")
    watches = Watch.objects.select_related("host").order_by("host__hostname")
    assert [str(w.host) for w in watches] == ["a.example.com", "b.example.com:8443"]
    # One scan per host, each the first scan of its watch.
    assert sorted(Scan.objects.values_list("watch__host__hostname", flat=True)) == [
        "a.example.com",
        "b.example.com",
    ]


def test_a_pasted_list_and_a_csv_are_imported(alice_client):
    response = alice_client.post(
        reverse("watch-new"),
        {
            "hosts": "# mine\na.example.com\nb.example.com:8443,prod;web,6h\n\nc.example.com,db",
            "tags": "team-x",
            "interval": "1d",
        },
    )
    assert response.status_code == 302
    watches = {str(w.host): w for w in Watch.objects.select_related("host")}
    assert set(watches) == {"a.example.com", "b.example.com:8443", "c.example.com"}
    assert watches["b.example.com:8443"].tags == ["team-x", "prod", "web"]
    assert watches["b.example.com:8443"].interval == 6 * 3600
    assert watches["a.example.com"].interval == 86400 and watches["c.example.com"].tags == [
        "team-x",
        "db",
    ]
    upload = SimpleUploadedFile(
        "hosts.csv", b"host,tags,interval\nd.example.com,edge,3600\n", content_type="text/csv"
    )
    assert alice_client.post(reverse("watch-new"), {"csv_file": upload}).status_code == 302
    assert Watch.objects.get(host__hostname="d.example.com").tags == ["edge"]


def test_every_bad_line_is_reported_by_number_and_nothing_is_imported(alice_client):
    response = alice_client.post(
        reverse("watch-new"),
        {
            "hosts": "good.example.com\nbad host\nok.example.com,,60\nx.example.com,<b>\nfine.example.com"
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "line 2:" in page and "line 3:" in page and "line 4:" in page
    assert "line 1:" not in page and "line 5:" not in page
    assert (
        "&lt;b&gt;" in page and "<b>" not in page.split('id="import-errors"')[1].split("</ul>")[0]
    )
    assert not Watch.objects.exists()


# --- managing watches ------------------------------------------------------------------------


def test_bulk_pause_resume_interval_tag_scan_and_stop(alice_client, alice):
    a = watch_of(record_scan(chains().served_x3(), user=alice), user=alice)
    b = watch_of(record_scan(chains().served_x3(), user=alice, port=8443), user=alice)
    both = [a.uid, b.uid]

    def bulk(action: str, value: str = "", watches=both):  # type: ignore[no-untyped-def]
        response = alice_client.post(
            reverse("watches-bulk"),
            {"action": action, "value": value, "watches": watches, "back": "tag=x"},
        )
        assert response.status_code == 302 and response["Location"].endswith("?tag=x")

    bulk("pause")
    assert set(Watch.objects.values_list("paused", flat=True)) == {True}
    bulk("resume", watches=[a.uid])
    assert Watch.objects.get(pk=a.pk).paused is False and Watch.objects.get(pk=b.pk).paused
    bulk("interval", "2h")
    assert set(Watch.objects.values_list("interval", flat=True)) == {7200}
    bulk("add-tag", "prod")
    bulk("remove-tag", "prod", watches=[b.uid])
    assert Watch.objects.get(pk=a.pk).tags == ["prod"] and Watch.objects.get(pk=b.pk).tags == []
    bulk("scan")
    assert Scan.objects.filter(watch__in=[a, b], status="queued").count() == 2
    bulk("interval", "10")  # below the minimum: refused, nothing changes
    assert set(Watch.objects.values_list("interval", flat=True)) == {7200}
    bulk("delete")
    assert not Watch.objects.exists()


def test_an_outsider_cannot_touch_a_teams_watch(client, alice, charlie):
    w = watch_of(record_scan(chains().served_x3(), user=alice), user=alice)
    client.force_login(charlie)
    client.post(reverse("watches-bulk"), {"action": "delete", "watches": [w.uid]})
    assert (
        client.post(reverse("watch-action", args=[w.uid]), {"action": "pause"}).status_code == 404
    )
    assert client.get(reverse("watch-edit", args=[w.uid])).status_code == 404
    w.refresh_from_db()
    assert not w.paused


def test_row_buttons_and_the_edit_page(alice_client, alice):
    w = watch_of(record_scan(chains().served_x3(), user=alice), user=alice)
    alice_client.post(reverse("watch-action", args=[w.uid]), {"action": "pause"})
    w.refresh_from_db()
    assert w.paused
    response = alice_client.post(
        reverse("watch-edit", args=[w.uid]), {"interval": "1h", "tags": "a b", "note": "<i>x</i>"}
    )
    assert response.status_code == 302
    w.refresh_from_db()
    assert (w.interval, w.tags, w.note, w.paused) == (3600, ["a", "b"], "<i>x</i>", False)
    page = alice_client.get(reverse("overview")).content.decode()
    assert "&lt;i&gt;x&lt;/i&gt;" in page and "<i>x</i>" not in page
    bad = alice_client.post(reverse("watch-edit", args=[w.uid]), {"interval": "1"})
    assert bad.status_code == 400


# --- badge -------------------------------------------------------------------------------------


def test_the_badge_needs_no_login_and_says_verdict_and_days(client, alice):
    scan = record_scan(chains().served_x1(), user=alice)
    w = watch_of(scan, user=alice)
    response = client.get(reverse("badge", args=[w.badge_token]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert "max-age=300" in response["Cache-Control"]
    body = response.content.decode()
    days = (scan.valid_until - timezone.now()).days
    assert f"broken · {days} d" in body and HOST not in body
    assert client.get(reverse("badge", args=["x" * 22])).status_code == 404


def test_someone_holding_only_the_permalink_cannot_watch_the_host(client, alice):
    scan = record_scan(chains().served_x3(), user=alice)
    page = client.get(reverse("report", args=[scan.token])).content.decode()
    assert "Watch this host" not in page
    response = client.post(reverse("watch-from-report", args=[scan.token]))
    assert response.status_code == 302 and response["Location"].startswith("/login")
    assert not Watch.objects.exists()
