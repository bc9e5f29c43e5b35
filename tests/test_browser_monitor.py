"""Monitoring in a real browser: watch a host from its report, find it on the
overview, pause it, and see the overview refresh itself."""

from __future__ import annotations

import pytest

from tests.browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_watch_from_a_report_see_it_on_the_overview_and_pause_it(
    page, live_server, alice, settings
):
    from scans.models import Scan, Watch
    from tests import factories

    settings.CHAINSCAN_OVERVIEW_REFRESH = 1
    scan = factories.record_scan(factories.chains().served_x1(), user=alice)
    sign_in(page, live_server, "alice", "alice-pw-123")
    page.goto(f"{live_server.url}/r/{scan.token}")
    page.click("form.watch-host button[type=submit]")
    page.wait_for_url(f"{live_server.url}/watches")
    row = page.locator("tr.watch")
    assert row.count() == 1
    text = row.inner_text()
    assert factories.HOST in text and "broken" in text.lower()
    assert "Now watching 1 new host" in page.inner_text("main")
    # Signed-in users who watch something land on the overview.
    page.goto(f"{live_server.url}/")
    page.wait_for_url(f"{live_server.url}/watches")

    page.click("tr.watch button[value=pause]")
    page.wait_for_url(f"{live_server.url}/watches**")
    assert "paused" in page.locator("tr.watch").get_attribute("class")
    assert Watch.objects.get().paused

    # The open page refreshes itself: a change behind its back shows up without a reload,
    # and a ticked box survives the refresh.
    page.check("tr.watch input.watch-select")
    Watch.objects.update(paused=False)
    page.wait_for_function(
        "() => !document.querySelector('tr.watch').classList.contains('paused')", timeout=15_000
    )
    assert page.is_checked("tr.watch input.watch-select")
    assert Scan.objects.count() == 1  # watching from a report needed no second scan
