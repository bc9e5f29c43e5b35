"""Learned issuers: only certificates proven on a verified path, never what a server or URL sends.

chainscan remembers intermediates it has seen so that /check and later scans
can build the expected chain of a leaf served alone. Anyone can make a server
or an issuer URL hand out CA certificates carrying a real intermediate's
name; those must never displace the real one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from django.urls import reverse

from scans import scanning
from scans.engine.certs import describe, pem_bundle
from scans.models import Scan, TrustAnchor
from tests import pki
from tests.conftest import wait_for_scan
from tests.httpserver import CertHTTPServer
from tests.tlsserver import TLSServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

HOST = "single.chainscan.test"
NOW = dt.datetime.now(dt.UTC)
JUNK = 30


@pytest.fixture
def real() -> Iterator[tuple[pki.Issued, pki.Issued]]:
    """A trusted root (through the admin) and its real intermediate."""
    root = pki.root("Learned Test Root", not_after=NOW + dt.timedelta(days=3650))
    inter = pki.intermediate(
        "Learned Test Issuing CA", root, not_after=NOW + dt.timedelta(days=900)
    )
    TrustAnchor.objects.create(name="learned test root", pem=pem_bundle([describe(root.der)]))
    yield root, inter


def junk_cas(inter: pki.Issued) -> list[pki.Issued]:
    """Self-made CA certificates carrying the real intermediate's name, valid for longer."""
    return [
        pki.make_cert(
            inter.cert.subject,
            pki.key_for(f"junk issuer {i}"),
            ca=True,
            not_after=NOW + dt.timedelta(days=3000 + i),
        )
        for i in range(JUNK)
    ]


def scan(client, port: int) -> Scan:  # type: ignore[no-untyped-def]
    before = set(Scan.objects.values_list("pk", flat=True))
    client.post(reverse("home"), {"targets": f"{HOST}:{port}"})
    return wait_for_scan(Scan.objects.exclude(pk__in=before).get().token)


def scan_good_host(client, inter: pki.Issued) -> pki.Issued:  # type: ignore[no-untyped-def]
    """A well-configured server (leaf + the real intermediate) is scanned once."""
    good = pki.leaf(HOST, inter, key=pki.key_for("learned good leaf"))
    with TLSServer([good.der, inter.der], good.key) as tls:
        done = scan(client, tls.port)
    assert done.status == Scan.Status.DONE
    return good


def expected_after_check(client, leaf: pki.Issued) -> str:  # type: ignore[no-untyped-def]
    """The certification path /check builds for the leaf pasted alone ("" if none)."""
    response = client.post(
        reverse("check"), {"pem": pem_bundle([describe(leaf.der)]), "host": HOST}, follow=True
    )
    html = response.content.decode()
    assert response.status_code == 200
    if "<h3>Certification path</h3>" not in html:
        return ""
    path = html.split("<h3>Certification path</h3>", 1)[1]
    return path.split('<ol class="path">', 1)[1].split("</ol>", 1)[0]


def assert_the_real_intermediate_still_wins(client, inter, hostile) -> None:  # type: ignore[no-untyped-def]
    """Nothing the hostile side sent is a known issuer; after a good server is
    scanned, its leaf pasted alone on /check still gets the real intermediate."""
    assert scanning.LearnedIssuers().issuers_for(describe(hostile.der)) == []
    good = scan_good_host(client, inter)
    expected = expected_after_check(client, good)
    assert f'data-sha256="{describe(inter.der).sha256}"' in expected
    assert f'data-sha256="{describe(hostile.der).sha256}"' not in expected


def test_junk_cas_in_an_issuer_url_body_never_displace_the_real_intermediate(
    alice_client, celery_worker, real
):
    _root, inter = real
    junk = junk_cas(inter)
    body = pem_bundle([describe(j.der) for j in junk]).encode()
    with CertHTTPServer({"/junk.pem": body}) as aia:
        hostile = pki.leaf(
            HOST, junk[0], key=pki.key_for("aia junk leaf"), aia=aia.url("/junk.pem")
        )
        with TLSServer([hostile.der], hostile.key) as tls:
            scan(alice_client, tls.port)
        assert aia.requests == 1
    assert_the_real_intermediate_still_wins(alice_client, inter, hostile)


def test_junk_cas_sent_by_a_hostile_server_never_displace_the_real_intermediate(
    alice_client, celery_worker, real
):
    _root, inter = real
    junk = junk_cas(inter)
    hostile = pki.leaf(HOST, junk[0], key=pki.key_for("tls junk leaf"))
    with TLSServer([hostile.der, *(j.der for j in junk)], hostile.key) as tls:
        scan(alice_client, tls.port)
    assert_the_real_intermediate_still_wins(alice_client, inter, hostile)


def test_an_intermediate_on_a_verified_path_is_learned_for_the_next_check(
    alice_client, celery_worker, real
):
    _root, inter = real
    good = scan_good_host(alice_client, inter)

    learned = scanning.LearnedIssuers().issuers_for(describe(good.der))

    assert learned == [inter.der]


def test_issuers_are_looked_up_by_key_identifier_and_name_newest_first(real):
    """Two learned intermediates share a name (a re-keyed CA): a child naming its
    issuer's key gets that one; a child naming no key gets both, newest first."""
    from scans import services

    root, inter = real
    rekeyed = pki.intermediate(
        "Learned Test Issuing CA",
        root,
        key=pki.key_for("rekeyed issuing CA"),
        not_after=NOW + dt.timedelta(days=1200),
    )
    services.certificates_store(infos=[describe(inter.der), describe(rekeyed.der)])
    services.certificates_learn(sha256s=[describe(inter.der).sha256, describe(rekeyed.der).sha256])
    child = describe(pki.leaf(HOST, inter).der)
    assert child.aki is not None

    by_key = scanning.LearnedIssuers().issuers_for(child)
    by_name = scanning.LearnedIssuers().issuers_for(dataclasses.replace(child, aki=None))

    assert by_key == [inter.der]
    assert by_name == [rekeyed.der, inter.der]
