"""The pictures in docs/, rendered from crafted scans in a real browser.

Not part of the suite (the name does not match test_*.py): `make screenshots`
runs it on purpose. Scans are recorded at the crafted PKI's time, so the
report's dates agree with each other.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import time_machine
from django.urls import reverse

from scans.engine.certs import describe, pem_bundle
from scans.models import TrustAnchor
from tests import factories, pki
from tests.browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_render_the_screenshots(page, live_server, alice):
    c = factories.chains()
    cast = pki.cast()
    with time_machine.travel(pki.NOW, tick=True):
        scan = factories.record_scan(
            {"192.0.2.10": c.served_x3(), "192.0.2.12": c.served_x1()}, user=alice
        )
        factories.record_scan([cast.leaf.der, cast.issuing.der], user=alice, host="www.example.com")
    TrustAnchor.objects.create(name="Example Root", pem=pem_bundle([describe(cast.root.der)]))
    sign_in(page, live_server, "alice", "alice-pw-123")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("report", args=[scan.token]))
    page.screenshot(path=str(DOCS / "report.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(DOCS / "report-phone.png"))
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(DOCS / "report-phone-dark.png"))
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("check"))
    page.fill("#id_pem", pem_bundle([describe(cast.leaf_x3.der), describe(cast.x1.der)]))
    page.fill("#id_host", "x3.example.com")
    page.fill("#id_at", pki.NOW.strftime("%Y-%m-%d"))
    page.click("#check-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/check/**")
    page.screenshot(path=str(DOCS / "check.png"), full_page=True)
    page.goto(live_server.url + "/")
    page.screenshot(path=str(DOCS / "home.png"))


def test_render_the_history(page, live_server, alice):
    """A host's history: broken on one node, fixed, then a routine renewal."""
    c = factories.chains()
    day = pki.DAY
    steps = [
        (pki.NOW - 3 * day, {"192.0.2.10": c.served_x3(), "192.0.2.12": c.served_x3()}),
        (pki.NOW - 2 * day, {"192.0.2.10": c.served_x3(), "192.0.2.12": c.served_x1()}),
        (pki.NOW - 1 * day, {"192.0.2.10": c.served_x3(), "192.0.2.12": c.served_x3()}),
        (pki.NOW, {"192.0.2.10": [c.renewed_leaf, c.x3], "192.0.2.12": [c.renewed_leaf, c.x3]}),
    ]
    scans = []
    for when, served in steps:
        with time_machine.travel(when, tick=False):
            scans.append(factories.record_scan(served, user=alice, at=when))
    sign_in(page, live_server, "alice", "alice-pw-123")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("host", args=[factories.HOST]))
    page.screenshot(path=str(DOCS / "history.png"), full_page=True)
    page.goto(live_server.url + reverse("diff-previous", args=[scans[2].token]))
    page.screenshot(path=str(DOCS / "diff.png"), full_page=True)


def test_render_the_overview(page, live_server, alice):
    """Watched hosts in every state: broken (with why), a material change, could
    not scan, expiring soon, no result yet, paused, fine."""
    import datetime as dt

    from scans.models import Scan, Watch

    c = pki.cast()

    def chain(host: str, days: int, *rest: pki.Issued) -> list[bytes]:
        cert = pki.leaf(
            host, c.x3, key=pki.key_for(f"leaf:{host}"), not_after=pki.NOW + days * pki.DAY
        )
        return [cert.der, *(r.der for r in rest)]

    hosts = [
        # host, port, tags, chains recorded in order (the last is the watch's state)
        ("shop.example.com", 443, ["prod", "web"], [chain("shop.example.com", 49, c.x1)]),
        (
            "legacy.example.com",
            443,
            ["prod", "iis"],
            [chain("legacy.example.com", 69, c.x3), chain("legacy.example.com", 69, c.x1)],
        ),
        ("mail.example.net", 8443, ["mail"], [chain("mail.example.net", 8, c.x3)]),
        ("status.example.io", 443, ["prod"], [chain("status.example.io", 40, c.x3)]),
        ("docs.example.org", 443, ["web"], [chain("docs.example.org", 44, c.x3)]),
        ("www.example.org", 443, ["web"], [chain("www.example.org", 82, c.x3)]),
        ("api.example.com", 443, ["prod", "api"], [chain("api.example.com", 88, c.x3)]),
        ("grafana.example.com", 3000, ["infra"], [chain("grafana.example.com", 29, c.x3)]),
        ("vpn.example.com", 443, ["infra"], [chain("vpn.example.com", 60, c.x3)]),
    ]
    with time_machine.travel(pki.NOW - 2 * pki.DAY, tick=True):
        for i, (host, port, tags, served) in enumerate(hosts):
            watch = factories.watch_for(alice, host=host, port=port, tags=tags, interval=86400)
            for n, chain_ in enumerate(served):
                when = pki.NOW - dt.timedelta(hours=20 - i - n)
                with time_machine.travel(when, tick=False):
                    scan = factories.record_scan(
                        chain_, user=alice, host=host, port=port, at=when, watch=watch
                    )
        Scan.objects.filter(pk=scan.pk).update(
            status=Scan.Status.FAILED,
            verdict="",
            valid_until=None,
            expires_first="",
            error="connection refused by 192.0.2.10:443",
        )
        Watch.objects.filter(host__hostname="grafana.example.com").update(paused=True)
        factories.watch_for(alice, host="new.example.com", tags=["web"], interval=86400)
        Watch.objects.update(next_run_at=pki.NOW + dt.timedelta(hours=6))
    with time_machine.travel(pki.NOW, tick=True):
        sign_in(page, live_server, "alice", "alice-pw-123")
        page.emulate_media(color_scheme="light")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(live_server.url + reverse("overview"))
        page.wait_for_selector("table.watches")
        page.screenshot(path=str(DOCS / "overview.png"), full_page=True)
