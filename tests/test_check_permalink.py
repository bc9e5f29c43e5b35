"""/check: the result first at a permalink of its own, file upload, an "as of" date,
and the fix as files to install."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from scans.engine.certs import describe, pem_bundle
from scans.models import CheckResult, TrustAnchor
from tests import pki

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _at_the_scenarios_time():  # type: ignore[no-untyped-def]
    with time_machine.travel(pki.NOW, tick=False):
        yield


@pytest.fixture
def cast():  # type: ignore[no-untyped-def]
    c = pki.cast()
    TrustAnchor.objects.create(name="Example Root", pem=pem_bundle([describe(c.root.der)]))
    return c


def pem(*ders: bytes) -> str:
    return pem_bundle([describe(d) for d in ders])


def test_a_check_is_stored_and_reopens_at_an_unguessable_permalink(alice_client, client, cast):
    response = alice_client.post(
        reverse("check"), {"pem": pem(cast.leaf_x3.der, cast.x1.der), "host": "x3.example.com"}
    )
    result = CheckResult.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("check-result", args=[result.token])
    assert len(result.token) >= 43 and result.verdict == "broken"
    # Anyone holding the link reopens it, as with a report's permalink.
    html = client.get(response["Location"]).content.decode()
    assert 'data-code="wrong-intermediate-same-key"' in html
    assert f'value="http://testserver/check/{result.token}"' in html
    assert client.get(reverse("check-result", args=["x" * 43])).status_code == 404


def test_the_result_comes_first_then_what_was_pasted(alice_client, cast):
    response = alice_client.post(
        reverse("check"), {"pem": pem(cast.leaf_x3.der, cast.x1.der)}, follow=True
    )
    html = response.content.decode()
    assert html.index('id="summary"') < html.index('data-code="wrong-intermediate-same-key"')
    assert html.index('data-code="wrong-intermediate-same-key"') < html.index(
        "-----BEGIN CERTIFICATE"
    )
    assert "The chain has the wrong intermediate (Example Authority X1)." in html


def test_a_der_file_can_be_uploaded_instead_of_pasting(alice_client, cast):
    upload = SimpleUploadedFile("leaf.cer", cast.leaf.der, content_type="application/pkix-cert")
    response = alice_client.post(
        reverse("check"), {"pem": "", "upload": upload, "host": "www.example.com"}, follow=True
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-code="incomplete-chain"' in html
    assert CheckResult.objects.get().pem == pem(cast.leaf.der)


def test_an_upload_that_is_not_a_certificate_is_explained(alice_client):
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = alice_client.post(reverse("check"), {"upload": upload})
    assert response.status_code == 400
    assert "neither PEM, DER nor PKCS#7" in response.content.decode()
    assert CheckResult.objects.count() == 0


def test_nothing_pasted_and_nothing_uploaded_asks_for_one(alice_client):
    response = alice_client.post(reverse("check"), {"pem": "  "})
    assert response.status_code == 400
    assert "paste a chain, or choose a file to upload" in response.content.decode()


def test_as_of_a_later_date_the_same_chain_has_expired(alice_client, cast):
    good = pem(cast.leaf.der, cast.issuing.der)
    leaf = describe(cast.leaf.der)
    assert leaf.not_after is not None
    later = (leaf.not_after + dt.timedelta(days=2)).date()
    now = alice_client.post(reverse("check"), {"pem": good, "host": "www.example.com"}, follow=True)
    then = alice_client.post(
        reverse("check"),
        {"pem": good, "host": "www.example.com", "at": later.isoformat()},
        follow=True,
    )
    assert 'data-code="leaf-expired"' not in now.content.decode()
    assert 'data-code="leaf-expired"' in then.content.decode()
    stored = CheckResult.objects.order_by("created_at").last()
    assert stored is not None and stored.evaluated_at.date() == later


def test_an_as_of_date_out_of_range_is_refused(alice_client, cast):
    response = alice_client.post(reverse("check"), {"pem": pem(cast.leaf.der), "at": "1900-01-01"})
    assert response.status_code == 400
    assert "pick a day between 1995 and 2100" in response.content.decode()


def test_the_fix_of_a_check_downloads_as_pem_pkcs7_and_der(alice_client, cast):
    alice_client.post(reverse("check"), {"pem": pem(cast.leaf.der, cast.issuing.der)})
    token = CheckResult.objects.get().token
    url = reverse("check-download", args=[token])
    full = alice_client.get(url, {"fmt": "fullchain"})
    assert full.content.decode() == pem(cast.leaf.der, cast.issuing.der)
    assert alice_client.get(url, {"fmt": "chain"}).content.decode() == pem(cast.issuing.der)
    assert (
        alice_client.get(url, {"fmt": "p7b"})["Content-Type"] == "application/x-pkcs7-certificates"
    )
    assert alice_client.get(url, {"fmt": "cer", "cert": 1}).content == cast.issuing.der
    page = alice_client.get(reverse("check-result", args=[token])).content.decode()
    assert f"{url}?fmt=p7b" in page


def test_checks_older_than_the_retention_are_pruned_by_the_next_check(
    alice_client, alice, cast, settings
):
    settings.CHAINSCAN_CHECK_RETENTION_DAYS = 30
    alice_client.post(reverse("check"), {"pem": pem(cast.leaf.der)})
    old = CheckResult.objects.get()
    with time_machine.travel(pki.NOW + dt.timedelta(days=31), tick=False):
        alice_client.force_login(alice)  # the session of a month ago has expired
        alice_client.post(reverse("check"), {"pem": pem(cast.leaf.der)})
    assert not CheckResult.objects.filter(pk=old.pk).exists()
    assert CheckResult.objects.count() == 1
    assert alice_client.get(reverse("check-result", args=[old.token])).status_code == 404
