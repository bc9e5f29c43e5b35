"""Every page in a real browser at 1280 and 390 px (and dark): axe-core finds no
violation of any impact, with every <details> open, and nothing scrolls sideways."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scans.engine.certs import describe, pem_bundle
from scans.models import TrustAnchor
from tests import factories, pki
from tests.browser import assert_clean, audit, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# A subject long enough to break a layout that does not wrap.
LONG_HOST = "a-very-long-host-name-that-keeps-going-and-going.subdomain.x3.example.com"


@pytest.fixture
def scans(alice):  # type: ignore[no-untyped-def]
    """A host with a stale node (X1/X3 on one address of two), then its fix."""
    c = factories.chains()
    broken = factories.record_scan(
        {"192.0.2.10": c.served_x3(), "192.0.2.12": c.served_x1()}, user=alice
    )
    fixed = factories.record_scan(
        {"192.0.2.10": c.served_x3(), "192.0.2.12": c.served_x3()}, user=alice
    )
    return broken, fixed


def test_the_login_page(page, live_server):
    assert_clean(audit(page, f"{live_server.url}/login"))


def test_the_home_page_with_recent_hosts(page, live_server, alice, scans):
    sign_in(page, live_server, "alice", "alice-pw-123")
    assert_clean(audit(page, f"{live_server.url}/", ready="#recent .host-row"))


def test_the_home_page_after_a_multi_host_submit_lists_what_was_queued(page, live_server, alice):
    sign_in(page, live_server, "alice", "alice-pw-123")
    page.fill("#id_targets", f"one.example\n{LONG_HOST}")
    page.click("#scan-form button[type=submit]")
    page.wait_for_selector(".queued")
    text = page.inner_text(".queued")
    assert "Queued 2 scans" in text and "one.example" in text and LONG_HOST in text
    # Shown once: the next visit does not repeat it.
    assert_clean(audit(page, f"{live_server.url}/", ready="#recent"))
    assert page.query_selector(".queued") is None


def test_a_broken_report_superseded_by_its_fix(page, live_server, alice, scans):
    broken, _fixed = scans
    sign_in(page, live_server, "alice", "alice-pw-123")
    url = live_server.url + reverse("report", args=[broken.token])
    assert_clean(audit(page, url, ready="#report-body[data-status]"))
    assert page.query_selector(".superseded a.newer-link") is not None
    assert page.query_selector(".diagram svg line.link-same-key") is not None


def test_a_report_that_is_ok(page, live_server, alice, scans):
    _broken, fixed = scans
    sign_in(page, live_server, "alice", "alice-pw-123")
    url = live_server.url + reverse("report", args=[fixed.token])
    assert_clean(audit(page, url, ready="#report-body[data-status]"))


def test_the_host_history(page, live_server, alice, scans):
    sign_in(page, live_server, "alice", "alice-pw-123")
    assert_clean(audit(page, f"{live_server.url}/hosts/{factories.HOST}"))


def test_the_diff(page, live_server, alice, scans):
    broken, fixed = scans
    sign_in(page, live_server, "alice", "alice-pw-123")
    url = live_server.url + reverse("diff", args=[fixed.token, broken.token])
    assert_clean(audit(page, url))


def test_the_check_form(page, live_server, alice):
    sign_in(page, live_server, "alice", "alice-pw-123")
    assert_clean(audit(page, live_server.url + reverse("check")))


def test_a_checked_chain_as_of_a_date_at_its_permalink(page, live_server, alice):
    cast = pki.cast()
    TrustAnchor.objects.create(name="Example Root", pem=pem_bundle([describe(cast.root.der)]))
    sign_in(page, live_server, "alice", "alice-pw-123")
    page.goto(live_server.url + reverse("check"))
    page.fill("#id_pem", pem_bundle([describe(cast.leaf_x3.der), describe(cast.x1.der)]))
    page.fill("#id_host", "x3.example.com")
    page.fill("#id_at", pki.NOW.strftime("%Y-%m-%d"))
    page.click("#check-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/check/**")
    url = page.url
    # A pasted chain has no server: it "has" the wrong intermediate.
    assert page.inner_text("#summary .headline") == (
        "The chain has the wrong intermediate (Example Authority X1)."
    )
    assert_clean(audit(page, url))


def test_a_report_prints_cleanly_with_every_explanation_open(page, live_server, alice, scans):
    broken, _fixed = scans
    sign_in(page, live_server, "alice", "alice-pw-123")
    page.goto(live_server.url + reverse("report", args=[broken.token]))
    page.wait_for_selector("#report-body[data-status]")
    page.emulate_media(media="print")
    assert not page.is_visible("header.top nav")
    assert not page.is_visible("form.rescan")
    assert not page.is_visible(".downloads")
    assert page.is_visible("#summary .headline")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.evaluate("document.querySelectorAll('details:not([open])').length") == 0
    assert page.is_visible(".why p")
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert page.evaluate("document.querySelectorAll('details[open]').length") == 0


# --- Monitoring and alerts pages -------------------------------------------------------


@pytest.fixture
def watched(alice):  # type: ignore[no-untyped-def]
    """Two watched hosts: one broken (an open incident), one fine; and a channel
    that was turned off after failing (its banner shows)."""
    import time_machine

    from scans.models import Channel

    broken = factories.watch_for(alice, tags=["prod"])
    fine = factories.watch_for(alice, port=8443, tags=["prod", "eu"])
    with time_machine.travel(pki.NOW, tick=False):
        factories.record_scan(factories.chains().served_x1(), user=alice, watch=broken)
        factories.record_scan(factories.chains().served_x3(), user=alice, watch=fine, port=8443)
    Channel.objects.create(
        created_by=alice,
        kind="webhook",
        name="ops hook",
        url="https://hooks.example.com/very-secret-path",
        secret="k" * 20,
        enabled=False,
        disabled_reason="10 failures in a row (HTTP 500)",
    )
    return broken, fine


def test_the_overview_of_watched_hosts(page, live_server, alice, watched):
    sign_in(page, live_server, "alice", "alice-pw-123")
    assert_clean(audit(page, live_server.url + reverse("overview"), ready="table.watches"))


def test_adding_watches(page, live_server, alice):
    sign_in(page, live_server, "alice", "alice-pw-123")
    assert_clean(audit(page, live_server.url + reverse("watch-new")))


def test_editing_a_watch(page, live_server, alice, watched):
    broken, _fine = watched
    sign_in(page, live_server, "alice", "alice-pw-123")
    assert_clean(audit(page, live_server.url + reverse("watch-edit", args=[broken.uid])))


def test_the_alert_channels(page, live_server, alice, watched):
    sign_in(page, live_server, "alice", "alice-pw-123")
    assert_clean(audit(page, live_server.url + reverse("channels")))


def test_editing_an_alert_channel(page, live_server, alice, watched):
    from scans.models import Channel

    sign_in(page, live_server, "alice", "alice-pw-123")
    channel = Channel.objects.get(name="ops hook")
    assert_clean(audit(page, live_server.url + reverse("channel-edit", args=[channel.public_id])))


def test_the_api_tokens_page(page, live_server, alice):
    sign_in(page, live_server, "alice", "alice-pw-123")
    assert_clean(audit(page, live_server.url + reverse("tokens")))
