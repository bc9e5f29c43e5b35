"""Issuers fetched through AIA by the real worker, and remembered for the next scan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.urls import reverse

from scans.engine.certs import describe, pem_bundle
from scans.models import Certificate, Scan, TrustAnchor
from tests import pki
from tests.conftest import wait_for_scan
from tests.httpserver import CertHTTPServer
from tests.tlsserver import TLSServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

HOST = "single.chainscan.test"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def published() -> Iterator[tuple[CertHTTPServer, pki.Issued, pki.Issued]]:
    """A root (trusted via the admin) and an intermediate published at an AIA URL."""
    root = pki.root(
        "AIA Test Root",
        not_before=NOW - dt.timedelta(days=10),
        not_after=NOW + dt.timedelta(days=3650),
    )
    inter = pki.intermediate(
        "AIA Test Issuing CA",
        root,
        not_before=NOW - dt.timedelta(days=5),
        not_after=NOW + dt.timedelta(days=365),
    )
    server = CertHTTPServer({"/issuer.der": inter.der})
    TrustAnchor.objects.create(name="aia test root", pem=pem_bundle([describe(root.der)]))
    yield server, root, inter
    server.close()


def test_a_missing_intermediate_is_fetched_named_and_remembered(
    alice_client, celery_worker, published
):
    issuer_server, _root, inter = published
    leaf = pki.leaf(
        HOST,
        inter,
        aia=issuer_server.url("/issuer.der"),
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=80),
    )
    with TLSServer([leaf.der], leaf.key) as tls:
        alice_client.post(reverse("home"), {"targets": f"{HOST}:{tls.port}"})
        first = wait_for_scan(Scan.objects.get().token)
        endpoint = first.endpoints.get(no_sni=False)
        assert set(endpoint.findings.values_list("code", flat=True)) == {"incomplete-chain"}
        clients = {c["family"]: c["accepts"] for c in endpoint.clients}
        assert clients["strict"] is False and clients["aia"] is True
        expected = endpoint.chain.filter(kind="expected").order_by("position")
        assert [e.certificate.common_name for e in expected] == [HOST, "AIA Test Issuing CA"]
        # The fetched issuer joins the learned cache…
        assert Certificate.objects.get(sha256=describe(inter.der).sha256).is_ca
        # …so the next scan builds the expected chain without fetching again.
        issuer_server.close()
        requests_before = issuer_server.requests
        alice_client.post(
            reverse("home"), {"targets": f"{HOST}:{tls.port}", "addresses": "127.0.0.1"}
        )
        second = wait_for_scan(Scan.objects.exclude(pk=first.pk).get().token)
    again = second.endpoints.get(no_sni=False)
    assert issuer_server.requests == requests_before
    assert [
        e.certificate.common_name for e in again.chain.filter(kind="expected").order_by("position")
    ] == [
        HOST,
        "AIA Test Issuing CA",
    ]
    assert "incomplete-chain" in set(again.findings.values_list("code", flat=True))
