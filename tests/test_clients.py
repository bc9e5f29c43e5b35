"""The client's address behind the operator's reverse proxies: recorded on the scan,
and the key of the per-address rate limit. What a client writes itself is not believed."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.urls import reverse

from scans.models import ApiToken, Scan

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"  # the reverse proxy, as the app sees it
STRANGER = "203.0.113.50"  # someone reaching the app's port directly, past the proxy


@pytest.fixture(autouse=True)
def fresh_counters(settings):  # type: ignore[no-untyped-def]
    settings.CHAINSCAN_TRUSTED_PROXIES = ["10.0.0.0/24"]
    cache.clear()
    yield
    cache.clear()


def submit(client, user, host: str, forwarded_for: str | None = None, peer: str = PROXY):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {ApiToken.issue(user=user)[1]}"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return client.post(
        reverse("api-scans"),
        data=json.dumps({"host": host}),
        content_type="application/json",
        headers=headers,
        REMOTE_ADDR=peer,
    )


def test_behind_one_proxy_the_scan_records_the_address_the_proxy_saw(client, alice, settings):
    settings.CHAINSCAN_PROXY_HOPS = 1
    # The client wrote the first entry itself; the proxy appended the second.
    response = submit(client, alice, "a.example.com", forwarded_for="198.51.100.66, 203.0.113.7")
    assert response.status_code == 202
    assert Scan.objects.get().requested_from == "203.0.113.7"


def test_without_a_proxy_setting_x_forwarded_for_is_ignored(client, alice, settings):
    settings.CHAINSCAN_PROXY_HOPS = 0
    submit(client, alice, "a.example.com", forwarded_for="203.0.113.7")
    assert Scan.objects.get().requested_from == PROXY


def test_a_forwarded_value_that_is_no_address_records_none(client, alice, settings):
    settings.CHAINSCAN_PROXY_HOPS = 1
    response = submit(client, alice, "a.example.com", forwarded_for="<script>, unknown")
    assert response.status_code == 202
    assert Scan.objects.get().requested_from is None


def test_the_address_limit_counts_each_client_behind_the_proxy_apart(
    client, alice, bob, charlie, settings
):
    settings.CHAINSCAN_PROXY_HOPS = 1
    settings.CHAINSCAN_SUBMIT_RATE = (1, 60)

    first = submit(client, alice, "a.example.com", forwarded_for="203.0.113.7")
    same_address = submit(client, bob, "b.example.com", forwarded_for="203.0.113.7")
    other_address = submit(client, charlie, "c.example.com", forwarded_for="203.0.113.8")

    assert first.status_code == 202
    assert same_address.status_code == 429  # bob is new, but his address is not
    assert other_address.status_code == 202  # same proxy, another client


# --- Only the operator's proxies are believed (issue 9, item 11) ---------------


def test_a_peer_outside_the_trusted_proxies_cannot_choose_its_recorded_address(
    client, alice, settings
):
    settings.CHAINSCAN_PROXY_HOPS = 1
    submit(client, alice, "a.example.com", forwarded_for="198.51.100.1", peer=STRANGER)
    assert Scan.objects.get().requested_from == STRANGER


def test_a_peer_outside_the_trusted_proxies_cannot_dodge_the_address_limit(
    client, alice, bob, settings
):
    settings.CHAINSCAN_PROXY_HOPS = 1
    settings.CHAINSCAN_SUBMIT_RATE = (1, 60)
    first = submit(client, alice, "a.example.com", forwarded_for="198.51.100.1", peer=STRANGER)
    # A fresh account and a fresh made-up address: still the same real peer.
    second = submit(client, bob, "b.example.com", forwarded_for="198.51.100.2", peer=STRANGER)
    assert (first.status_code, second.status_code) == (202, 429)


@pytest.fixture
def behind_tls_proxy(settings):  # type: ignore[no-untyped-def]
    """Production behind a TLS proxy: plain HTTP is redirected unless the proxy says https."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.CHAINSCAN_PROXY_HOPS = 1


def test_x_forwarded_proto_from_a_trusted_proxy_marks_the_request_secure(client, behind_tls_proxy):
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"}, REMOTE_ADDR=PROXY)
    assert response.status_code == 200  # served, not redirected to https


def test_x_forwarded_proto_from_anyone_else_is_ignored(client, behind_tls_proxy):
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"}, REMOTE_ADDR=STRANGER)
    # Plain HTTP as far as the app knows: sent to https, no session served over it.
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_a_system_check_warns_behind_a_tls_proxy_with_no_trusted_proxies(settings):
    from scans.checks import chainscan_settings

    settings.BEHIND_TLS_PROXY = True
    settings.CHAINSCAN_TRUSTED_PROXIES = []
    assert "chainscan.W004" in {p.id for p in chainscan_settings()}
    settings.CHAINSCAN_TRUSTED_PROXIES = ["172.16.0.0/12"]
    assert "chainscan.W004" not in {p.id for p in chainscan_settings()}
