"""The whole stack: form → Postgres → Redis → a real Celery worker → TLS handshake → report."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scans.engine.certs import describe, pem_bundle
from scans.models import Certificate, ChainEntry, Scan, TrustAnchor, timings_parse
from tests.conftest import wait_for_scan
from tests.tlsserver import TLSServer, mini_pki

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

HOST = "single.chainscan.test"  # the worker resolves it to 127.0.0.1


@pytest.fixture
def trusted_pki():  # type: ignore[no-untyped-def]
    pki = mini_pki(HOST)
    TrustAnchor.objects.create(name="test root", pem=pem_bundle([describe(pki.root)]))
    return pki


def submit(client, text: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("home"), {"targets": text})


def test_a_submitted_host_becomes_a_finished_report_with_the_served_chain(
    alice_client, celery_worker, trusted_pki
):
    with TLSServer([trusted_pki.leaf, trusted_pki.intermediate], trusted_pki.leaf_key) as server:
        response = submit(alice_client, f"{HOST}:{server.port}")
        assert response.status_code == 302
        scan = Scan.objects.get()
        assert response["Location"] == reverse("report", args=[scan.token])
        scan = wait_for_scan(scan.token)

    assert scan.status == Scan.Status.DONE, scan.error
    assert scan.verdict == "ok"
    served = list(
        ChainEntry.objects.filter(
            outcome__endpoints__endpoint_set__scans=scan,
            outcome__endpoints__no_sni=False,
            kind="served",
        )
        .order_by("position")
        .values_list("certificate__sha256", flat=True)
    )
    assert served == [describe(trusted_pki.leaf).sha256, describe(trusted_pki.intermediate).sha256]
    endpoint = scan.endpoints.get(no_sni=False)
    assert endpoint.address == "127.0.0.1" and endpoint.tls_version.startswith("TLS")
    # Timings are the scan's own (its endpoints are shared with unchanged rescans).
    assert endpoint.cipher and timings_parse(scan.timings)[endpoint.position][1] is not None
    leaf = Certificate.objects.get(sha256=served[0])
    assert leaf.common_name == HOST and leaf.san == [HOST] and not leaf.is_ca
    assert leaf.spki_sha256 and leaf.ski and leaf.aki and leaf.key_type == "EC secp256r1"

    page = alice_client.get(reverse("report", args=[scan.token]))
    html = page.content.decode()
    assert "chainscan test intermediate" in html
    assert "hx-trigger" not in html  # finished: the page stops polling


def test_the_report_page_polls_while_the_scan_is_unfinished(
    alice_client, celery_worker, trusted_pki
):
    # A server that never answers keeps the scan unfinished (queued, or running
    # if the session's worker already took it) while the page is fetched.
    with TLSServer(mode="stall") as server:
        response = submit(alice_client, f"{HOST}:{server.port}")
        scan = Scan.objects.get()
        html = alice_client.get(response["Location"]).content.decode()
        assert 'hx-trigger="every 1s"' in html
        assert reverse("report-live", args=[scan.token]) in html
        assert "Queued" in html or "Scanning every address" in html
        live = alice_client.get(reverse("report-live", args=[scan.token])).content.decode()
        assert 'hx-trigger="every 1s"' in live
    # Let the worker finish before the tables are flushed for the next test.
    finished = wait_for_scan(scan.token)
    assert "hx-trigger" not in alice_client.get(response["Location"]).content.decode()
    assert finished.is_finished


def test_a_refused_port_ends_the_scan_with_a_clear_reason(alice_client, celery_worker):
    from tests.tlsserver import free_port

    port = free_port()
    submit(alice_client, f"{HOST}:{port}")
    scan = wait_for_scan(Scan.objects.get().token)
    assert scan.status == Scan.Status.FAILED
    assert "refused the connection" in scan.error
    html = alice_client.get(reverse("report", args=[scan.token])).content.decode()
    assert "refused the connection" in html
    assert "Traceback" not in html


def test_a_name_without_dns_ends_the_scan_with_dns_failed(alice_client, celery_worker):
    submit(alice_client, "no-such-host.invalid")
    scan = wait_for_scan(Scan.objects.get().token)
    assert scan.status == Scan.Status.FAILED
    assert scan.findings.get().code == "dns-failed"
    assert "does not exist in DNS" in scan.error


def test_a_server_that_is_not_tls_is_named_as_such(alice_client, celery_worker):
    with TLSServer(mode="http") as server:
        submit(alice_client, f"{HOST}:{server.port}")
        scan = wait_for_scan(Scan.objects.get().token)
    assert scan.status == Scan.Status.FAILED
    assert "not with TLS" in scan.error
