"""Every address of a host, through the real worker: one node serving a stale
intermediate among healthy ones is named, address by address."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scans.engine.certs import describe, pem_bundle
from scans.models import Scan, TrustAnchor
from tests.conftest import wait_for_scan
from tests.tlsserver import TLSServer, free_port, mini_pki, self_signed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

HOST = "multi.chainscan.test"  # the worker resolves it to 127.0.0.2 and 127.0.0.3


@pytest.fixture
def pki():  # type: ignore[no-untyped-def]
    pki = mini_pki(HOST)
    TrustAnchor.objects.create(name="test root", pem=pem_bundle([describe(pki.root)]))
    return pki


def test_a_node_serving_an_incomplete_chain_is_named_among_healthy_ones(
    alice_client, celery_worker, pki
):
    port = free_port("127.0.0.2")
    good = TLSServer([pki.leaf, pki.intermediate], pki.leaf_key, host="127.0.0.2", port=port)
    stale = TLSServer([pki.leaf], pki.leaf_key, host="127.0.0.3", port=port)
    with good, stale:
        alice_client.post(reverse("home"), {"targets": f"{HOST}:{port}"})
        scan = wait_for_scan(Scan.objects.get().token)
    assert scan.status == Scan.Status.DONE and scan.verdict == "broken"
    by_address = {e.address: e for e in scan.endpoints.filter(no_sni=False)}
    assert set(by_address) == {"127.0.0.2", "127.0.0.3"}
    assert by_address["127.0.0.2"].verdict == "ok"
    assert by_address["127.0.0.3"].verdict == "broken"
    assert set(by_address["127.0.0.3"].findings.values_list("code", flat=True)) == {
        "incomplete-chain"
    }
    differ = scan.findings.get(code="endpoints-differ")
    assert "127.0.0.2" in differ.detail and "127.0.0.3" in differ.detail
    assert scan.endpoints.filter(no_sni=True).count() == 1

    # The page: one section per distinct outcome. The healthy node's chain,
    # served again without SNI, is one line under it, not a second copy.
    html = alice_client.get(reverse("report", args=[scan.token])).content.decode()
    assert html.count('<section class="endpoint"') == 2
    assert f"<strong>127.0.0.2:{port} without SNI</strong> serves the same chain" in html


def test_without_sni_another_certificate_is_reported(alice_client, celery_worker, pki):
    port = free_port("127.0.0.2")
    default_chain, default_key = self_signed("default.invalid")
    servers = [
        TLSServer(
            default_chain,
            default_key,
            host=address,
            port=port,
            sni_chains={HOST: ([pki.leaf, pki.intermediate], pki.leaf_key)},
        )
        for address in ("127.0.0.2", "127.0.0.3")
    ]
    with servers[0], servers[1]:
        alice_client.post(reverse("home"), {"targets": f"{HOST}:{port}"})
        scan = wait_for_scan(Scan.objects.get().token)
    # Clients that send SNI are fine; those that do not get the wrong certificate.
    assert {e.verdict for e in scan.endpoints.filter(no_sni=False)} == {"ok"}
    assert scan.verdict == "warning"
    finding = scan.findings.get(code="no-sni-different-cert")
    assert finding.severity == "warning"
    assert "default.invalid" in finding.detail


def test_a_scan_pinned_to_one_address_probes_only_that_address(alice_client, celery_worker, pki):
    port = free_port("127.0.0.2")
    good = TLSServer([pki.leaf, pki.intermediate], pki.leaf_key, host="127.0.0.2", port=port)
    with good:
        alice_client.post(reverse("home"), {"targets": f"{HOST}:{port}", "addresses": "127.0.0.2"})
        scan = wait_for_scan(Scan.objects.get().token)
    assert {e.address for e in scan.endpoints.all()} == {"127.0.0.2"}
    assert scan.verdict == "ok"
