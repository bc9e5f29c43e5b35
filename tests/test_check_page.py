"""The "Check a chain" page and custom trust anchors managed in the admin."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from scans.engine.certs import describe, pem_bundle
from scans.models import TrustAnchor
from tests import pki

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _at_the_scenarios_time():  # type: ignore[no-untyped-def]
    # The crafted certificates are valid around pki.NOW, not today.
    with time_machine.travel(pki.NOW, tick=False):
        yield


def pem(*ders: bytes) -> str:
    return pem_bundle([describe(d) for d in ders])


def test_a_pasted_x1_chain_is_explained_with_both_names(alice_client):
    cast = pki.cast()
    TrustAnchor.objects.create(name="example root", pem=pem(cast.root.der))
    response = alice_client.post(
        reverse("check"),
        {"pem": pem(cast.leaf_x3.der, cast.x1.der), "host": "x3.example.com"},
        follow=True,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-code="wrong-intermediate-same-key"' in html
    assert "Example Authority X1" in html and "Example Authority X3" in html
    # Who it breaks, in words (not the family codes the JSON carries).
    assert "Affects strict clients, AIA-fetching clients" in html
    assert "strict, aia" not in html


def test_a_good_pasted_chain_is_ok_against_a_custom_anchor(alice_client):
    cast = pki.cast()
    TrustAnchor.objects.create(name="example root", pem=pem(cast.root.der))
    response = alice_client.post(
        reverse("check"),
        {"pem": pem(cast.leaf.der, cast.issuing.der), "host": "www.example.com"},
        follow=True,
    )
    html = response.content.decode()
    assert "No problems found" in html
    assert "Trusted via <strong>Example Root CA</strong>" in html


def test_without_the_anchor_a_private_root_is_reported_untrusted(alice_client):
    cast = pki.cast()
    response = alice_client.post(
        reverse("check"),
        {"pem": pem(cast.leaf.der, cast.issuing.der, cast.root.der)},
        follow=True,
    )
    html = response.content.decode()
    assert 'data-code="untrusted-root"' in html
    assert "Example Root CA" in html


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello", "neither PEM, DER nor PKCS#7"),
        ("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----", "no BEGIN CERTIFICATE"),
    ],
)
def test_text_that_is_not_a_chain_gets_a_clear_message(alice_client, text, message):
    response = alice_client.post(reverse("check"), {"pem": text})
    assert response.status_code == 400
    assert message in response.content.decode()


def test_an_admin_uploads_a_trust_anchor_bundle(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    cast = pki.cast()
    response = client.post(
        reverse("admin:scans_trustanchor_add"),
        {"name": "corp", "pem": pem(cast.corp_root.der), "enabled": "on"},
    )
    assert response.status_code == 302
    assert TrustAnchor.objects.get().name == "corp"
    bad = client.post(
        reverse("admin:scans_trustanchor_add"), {"name": "junk", "pem": "not a certificate"}
    )
    assert bad.status_code == 200 and "neither PEM" in bad.content.decode()


def test_a_paste_larger_than_a_real_chain_needs_is_refused_with_the_limit(alice_client, settings):
    settings.CHAINSCAN_CHECK_MAX_BYTES = 64 * 1024
    cast = pki.cast()
    # A real chain is a few KiB; padding it past the limit is not a chain.
    text = pem(cast.leaf.der, cast.issuing.der) + "server log line\n" * 4096

    response = alice_client.post(reverse("check"), {"pem": text})

    assert response.status_code == 400
    html = response.content.decode()
    assert "at most 64 KiB" in html
    assert 'data-code="' not in html


def test_a_paste_within_the_limit_is_analysed(alice_client, settings):
    settings.CHAINSCAN_CHECK_MAX_BYTES = 8 * 1024
    cast = pki.cast()

    response = alice_client.post(
        reverse("check"), {"pem": pem(cast.leaf.der, cast.issuing.der)}, follow=True
    )

    assert response.status_code == 200
    assert 'data-code="' in response.content.decode()


def test_a_paste_of_begin_lines_without_end_gets_a_clear_error_at_once(alice_client):
    """The shape that took seconds per 128 KiB with the old PEM pattern."""
    text = "-----BEGIN CERTIFICATE-----\n" * (60 * 1024 // 28)

    response = alice_client.post(reverse("check"), {"pem": text})

    assert response.status_code == 400
    assert "more than 500 certificates" in response.content.decode()
