"""The IIS path end to end: a loopback server that says `Server: Microsoft-IIS/10.0` and
serves the X1/X3 chain gets the IIS fix — thumbprints of the wrong and the right
intermediate — on the report page, through Postgres, Redis and a real worker.

Crafted certificates (a TLS server needs the leaf's private key): a private root
added as a trust anchor, "Authority X1" and "Authority X3" sharing one key, a leaf
issued by X3. X3 is known to chainscan (learned earlier), as in 2016.
"""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse

from scans.engine.certs import describe, pem_bundle
from scans.models import Scan, TrustAnchor
from scans.reports import report_from_scan, scans_with_report_data
from scans.services import certificates_learn, certificates_store
from tests import pki
from tests.conftest import wait_for_scan
from tests.tlsserver import TLSServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

HOST = "single.chainscan.test"  # the worker resolves it to 127.0.0.1


def thumb(der: bytes) -> str:
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


@pytest.fixture
def x1_x3():  # type: ignore[no-untyped-def]
    # Valid for years around today: the worker judges at the real time.
    life = {"not_before": pki.NOW - 900 * pki.DAY, "not_after": pki.NOW + 3650 * pki.DAY}
    root = pki.root("E2E Corp Root", **life)
    shared = pki.key_for("e2e: the key X1 and X3 share")
    x1 = pki.intermediate("E2E Authority X1", root, key=shared, **life)
    x3 = pki.intermediate("E2E Authority X3", root, key=shared, **life)
    leaf = pki.leaf(HOST, x3, **life)
    TrustAnchor.objects.create(name="e2e root", pem=pem_bundle([describe(root.der)]))
    # X3 as an intermediate chainscan learned from an earlier verified path.
    certificates_store(infos=[describe(x3.der)])
    certificates_learn(sha256s=[describe(x3.der).sha256])
    return leaf, x1, x3


def test_an_iis_server_serving_x1_gets_the_iis_fix_with_both_thumbprints(
    alice_client, celery_worker, x1_x3
):
    leaf, x1, x3 = x1_x3
    with TLSServer([leaf.der, x1.der], leaf.key, http_server="Microsoft-IIS/10.0") as server:
        alice_client.post(reverse("home"), {"targets": f"{HOST}:{server.port}"})
        scan = wait_for_scan(Scan.objects.get().token)
    assert scan.status == Scan.Status.DONE, scan.error
    endpoint = scan.endpoints.get(no_sni=False)
    assert endpoint.server == "Microsoft-IIS/10.0"
    assert {p["id"] for p in endpoint.outcome.platforms} >= {
        "android-7.0",
        "microsoft",
        "openssl-1.0",
    }

    report = report_from_scan(scans_with_report_data(Scan.objects.filter(pk=scan.pk)).get())
    (with_sni,) = [e for e in report.endpoints if e.sni]
    assert with_sni.server == "Microsoft-IIS/10.0" and with_sni.platforms

    html = alice_client.get(reverse("report", args=[scan.token])).content.decode()
    assert "How to fix it on IIS / Windows (SChannel)" in html
    assert "Microsoft-IIS/10.0" in html
    assert thumb(x1.der) in html and thumb(x3.der) in html
    assert f'<code class="fp">{thumb(leaf.der)}</code>' in html
    assert "net stop http /y" in html and "certutil -urlcache * delete" in html
    assert "Who can connect" in html
    assert "E2E Authority X3 is not served and it does not fetch missing intermediates" in html

    other = alice_client.get(reverse("report", args=[scan.token]), {"server": "nginx"})
    page = other.content.decode()
    assert "How to fix it on nginx" in page and "ssl_certificate" in page
    assert "How to fix it on IIS" not in page

    bogus = alice_client.get(reverse("report", args=[scan.token]), {"server": "<script>"})
    assert bogus.status_code == 200 and "How to fix it on IIS" in bogus.content.decode()
