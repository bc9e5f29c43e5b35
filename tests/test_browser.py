"""Pages in a real browser: headless Chromium against the live server and a real worker."""

from __future__ import annotations

import pytest

from scans.engine.certs import describe, pem_bundle
from scans.models import TrustAnchor
from tests.browser import sign_in
from tests.tlsserver import TLSServer, mini_pki

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.worker]

HOST = "single.chainscan.test"


def test_a_user_submits_a_host_and_sees_the_finished_report(
    page, live_server, alice, celery_worker
):
    pki = mini_pki(HOST)
    TrustAnchor.objects.create(name="test root", pem=pem_bundle([describe(pki.root)]))
    with TLSServer([pki.leaf, pki.intermediate], pki.leaf_key) as server:
        sign_in(page, live_server, "alice", "alice-pw-123")
        page.fill("#id_targets", f"{HOST}:{server.port}")
        page.click("#scan-form button[type=submit]")
        page.wait_for_url(f"{live_server.url}/r/**")
        # The page updates by itself (htmx polling) until the report is there.
        page.wait_for_selector("#report-body[data-status=done]", timeout=30_000)
        body = page.inner_text("#report-body")
    assert "chainscan test intermediate" in body
    # One address, and the same chain without SNI: one section, not two copies.
    assert "No problems found on these addresses" in body
    assert f"127.0.0.1:{server.port} without SNI serves the same chain" in body
    assert "Strict clients" in body
    permalink = page.input_value("#permalink")
    assert permalink.startswith(live_server.url + "/r/") and len(permalink.rsplit("/", 1)[1]) >= 43


def test_script_in_a_certificate_name_does_not_run_on_the_report(
    page, live_server, alice, celery_worker
):
    from django.urls import reverse

    from scans.models import Scan
    from tests.conftest import wait_for_scan
    from tests.tlsserver import hostile_names_chain

    chain, key = hostile_names_chain(HOST)
    with TLSServer(chain, key) as server:
        sign_in(page, live_server, "alice", "alice-pw-123")
        page.fill("#id_targets", f"{HOST}:{server.port}")
        page.click("#scan-form button[type=submit]")
        page.wait_for_url(f"{live_server.url}/r/**")
        scan = wait_for_scan(Scan.objects.get().token)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(live_server.url + reverse("report", args=[scan.token]))
    page.wait_for_selector("#report-body[data-status]")
    # Open every certificate's details so the names are in the rendered DOM.
    for summary in page.query_selector_all("details > summary"):
        summary.click()
    page.wait_for_timeout(500)
    assert dialogs == []
    assert page.query_selector("img[src=x]") is None
    assert "<script>alert(1)</script>" in page.inner_text("#report-body")


def test_pages_carry_a_content_security_policy_that_forbids_inline_script(client):
    response = client.get("/login")
    policy = response["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy
        and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )


def test_a_teammate_follows_the_change_mark_from_history_to_the_diff(page, live_server, alice):
    from tests import factories

    c = factories.chains()
    factories.record_scan(c.served_x1(), user=alice)
    factories.record_scan(c.served_x3(), user=alice)
    sign_in(page, live_server, "alice", "alice-pw-123")
    page.goto(f"{live_server.url}/hosts/{factories.HOST}")
    page.click("a.change-mark")
    page.wait_for_url(f"{live_server.url}/r/**/diff**")
    text = page.inner_text("main")
    assert "position 1 changed from Example Authority X1" in text
    assert "Example Authority X3" in text
    assert "wrong-intermediate-same-key" in text
