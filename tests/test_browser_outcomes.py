"""Roles and pruned permalinks in a real browser (headless Chromium, live server)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from scans import tasks
from scans.models import Scan
from tests import factories, pki
from tests.browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_served_cross_sign_reads_as_another_path_not_as_an_extra_certificate(
    page, live_server, alice
):
    c = pki.cast()
    scan = factories.record_scan([c.leaf_x3.der, c.x3.der, c.root_cross.der], user=alice)
    sign_in(page, live_server, "alice", "alice-pw-123")

    page.goto(f"{live_server.url}/r/{scan.token}")

    # The path shows leaf, intermediate and root; the cross-sign is listed after
    # it as another path for other clients, never as "sent but not needed".
    cross = page.locator(".path.alternate li.cert")
    assert cross.count() == 1
    assert cross.get_attribute("data-engine-role") == "alternate-path"
    assert "another path to a root" in cross.locator(".role").inner_text()
    assert "not needed" not in page.inner_text("main")


def test_a_pruned_permalink_says_so_and_leads_to_the_host_history(
    page, live_server, alice, settings
):
    c = factories.chains()
    scans = [factories.record_scan(c.served_x3(), user=alice) for _ in range(3)]
    Scan.objects.update(finished_at=timezone.now() - dt.timedelta(days=40))
    settings.CHAINSCAN_KEEP_UNCHANGED_DAYS = 30
    assert tasks.prune_unchanged_scans() == 1
    sign_in(page, live_server, "alice", "alice-pw-123")

    response = page.goto(f"{live_server.url}/r/{scans[1].token}")

    assert response is not None and response.status == 410
    assert "This report was removed" in page.inner_text("main")
    page.click("a.host-history")
    page.wait_for_url(f"{live_server.url}/hosts/{factories.HOST}")
    assert scans[2].token in page.content() and scans[1].token not in page.content()
