"""Change detection and the history pages against live parts: a host whose
addresses rotate, scanned by the real worker over real loopback TLS servers,
and the history page driven in Chromium to compare two scans."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scans.engine.certs import describe, pem_bundle
from scans.models import Scan, TrustAnchor
from tests import factories
from tests.browser import sign_in
from tests.conftest import wait_for_scan
from tests.tlsserver import TLSServer, free_port, mini_pki

pytestmark = [pytest.mark.django_db(transaction=True)]

HOST = "multi.chainscan.test"


def _scan(client, port: int, *addresses: str) -> Scan:  # type: ignore[no-untyped-def]
    """Scan HOST pinned to ``addresses`` through the form, as a person would; wait for it."""
    response = client.post(
        reverse("home"), {"targets": f"{HOST}:{port}", "addresses": " ".join(addresses)}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return wait_for_scan(response["Location"].rstrip("/").rsplit("/", 1)[1])


@pytest.mark.worker
def test_a_host_whose_addresses_rotate_is_unchanged_until_one_serves_another_chain(
    alice_client, celery_worker
):
    pki = mini_pki(HOST)
    TrustAnchor.objects.create(name="test root", pem=pem_bundle([describe(pki.root)]))
    port = free_port("127.0.0.2")
    good = {
        n: TLSServer(pki.chain, pki.leaf_key, host=f"127.0.0.{n}", port=port).start()
        for n in (2, 3, 4, 5)
    }
    try:
        first = _scan(alice_client, port, "127.0.0.2", "127.0.0.3")
        # The CDN hands out two other addresses, serving the same chain.
        rotated = _scan(alice_client, port, "127.0.0.4", "127.0.0.5")
        # Then one node is redeployed without its intermediate.
        good[5].stop()
        with TLSServer([pki.leaf], pki.leaf_key, host="127.0.0.5", port=port):
            stale = _scan(alice_client, port, "127.0.0.4", "127.0.0.5")
    finally:
        for server in good.values():
            server.stop()

    assert (first.verdict, rotated.verdict, stale.verdict) == ("ok", "ok", "broken")
    assert rotated.change == Scan.Change.SAME
    assert "appeared" not in rotated.change_summary
    assert "disappeared" not in rotated.change_summary
    assert stale.change == Scan.Change.MATERIAL
    assert stale.change_summary.startswith(
        "Material change: 127.0.0.5: chainscan test intermediate removed from position 1"
    )
    assert "incomplete-chain introduced" in stale.change_summary
    assert "127.0.0.4:" not in stale.change_summary  # the healthy node is no news

    html = alice_client.get(reverse("host", args=[f"{HOST}:{port}"])).content.decode()
    assert html.count("change-mark change-material") == 1
    diff = alice_client.get(reverse("diff-previous", args=[stale.token])).content.decode()
    assert "Material change: incomplete-chain introduced (OK → BROKEN)" in diff
    assert 'data-endpoint="127.0.0.5"' in diff


@pytest.mark.browser
def test_a_user_picks_two_scans_on_the_history_page_and_reads_the_headline(
    page, live_server, alice
):
    c = factories.chains()
    broken = factories.record_scan(c.served_x1(), user=alice)
    fixed = factories.record_scan(c.served_x3(), user=alice)
    factories.record_scan([c.renewed_leaf, c.x3], user=alice)

    sign_in(page, live_server, "alice", "alice-pw-123")
    page.goto(f"{live_server.url}/hosts/{factories.HOST}")
    assert page.get_attribute("svg.timeline-chart", "role") == "img"
    page.check(f"input[name=older][value='{broken.token}']")
    page.check(f"input[name=newer][value='{fixed.token}']")
    page.click("button.compare-button")
    page.wait_for_url(f"{live_server.url}/r/**/diff/**")

    assert page.inner_text("#diff-headline").strip() == "✔ Fixed: BROKEN → OK"
    assert "wrong-intermediate-same-key resolved" in page.inner_text("#diff-summary")
