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


@pytest.fixture(autouse=True)
def fresh_counters():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


def submit(client, user, host: str, forwarded_for: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {ApiToken.issue(user=user)[1]}"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return client.post(
        reverse("api-scans"),
        data=json.dumps({"host": host}),
        content_type="application/json",
        headers=headers,
        REMOTE_ADDR=PROXY,
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
