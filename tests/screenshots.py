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
