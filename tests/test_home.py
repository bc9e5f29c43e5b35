"""The home page form: what people type becomes scans, or a clear message and nothing queued."""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scans.models import Host, Scan

pytestmark = pytest.mark.django_db


def post(client, targets: str, addresses: str = ""):  # type: ignore[no-untyped-def]
    return client.post(reverse("home"), {"targets": targets, "addresses": addresses})


def test_one_host_queues_one_scan_and_goes_to_its_permalink(alice_client):
    response = post(alice_client, "Example.COM.")
    scan = Scan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("report", args=[scan.token])
    assert (scan.host.hostname, scan.host.port, scan.status) == ("example.com", 443, "queued")
    assert len(scan.token) >= 43  # 256 random bits, URL-safe


def test_many_hosts_one_per_line_or_comma_separated_queue_one_scan_each(alice_client):
    response = post(
        alice_client,
        "a.example\nb.example:8443, https://c.example/login?x=1 ; bücher.example",
    )
    assert response.status_code == 302
    assert sorted((h.hostname, h.port) for h in Host.objects.all()) == [
        ("a.example", 443),
        ("b.example", 8443),
        ("c.example", 443),
        ("xn--bcher-kva.example", 443),
    ]
    assert Scan.objects.count() == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "This field is required"),
        ("bad!name.example", "is not a host name: &#x27;!&#x27; is not allowed"),
        ("example.com:0", "out of range"),
        ("ftp://example.com", "not a TLS service"),
        ("-bad-.example", "cannot start or end with a hyphen"),
        ("0x7f.1", "numeric address"),
    ],
)
def test_invalid_input_gets_a_message_next_to_the_field_and_nothing_is_queued(
    alice_client, text, message
):
    response = post(alice_client, text)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'class="errors field-errors"' in html
    assert Scan.objects.count() == 0


def test_one_bad_target_among_good_ones_queues_nothing(alice_client):
    response = post(alice_client, "good.example, bad..example")
    assert response.status_code == 400
    assert Scan.objects.count() == 0


def test_pinned_addresses_are_kept_on_the_scan(alice_client):
    post(alice_client, "example.com", "192.0.2.10, 2001:db8::10")
    assert Scan.objects.get().pinned_addresses == ["192.0.2.10", "2001:db8::10"]


def test_a_pinned_address_that_is_not_an_ip_is_refused(alice_client):
    response = post(alice_client, "example.com", "ten.zero.zero.one")
    assert response.status_code == 400
    assert "is not an IP address" in response.content.decode()
    assert Scan.objects.count() == 0


def test_the_form_needs_a_signed_in_user(client):
    response = post(client, "example.com")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert Scan.objects.count() == 0


def test_the_same_host_submitted_twice_quickly_returns_the_same_scan(alice_client):
    first = post(alice_client, "example.com")
    second = post(alice_client, "example.com")
    assert first["Location"] == second["Location"]
    assert Scan.objects.count() == 1


def test_submissions_over_the_rate_limit_get_a_clear_429(alice_client, settings):
    settings.CHAINSCAN_SUBMIT_RATE = (2, 60)
    from django.core.cache import cache

    cache.clear()
    assert post(alice_client, "a.example").status_code == 302
    assert post(alice_client, "b.example").status_code == 302
    response = post(alice_client, "c.example")
    assert response.status_code == 429
    assert "Too many scans requested" in response.content.decode()
    assert Scan.objects.count() == 2


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
def test_any_text_gives_a_scan_or_a_message_never_a_server_error(alice_client, text):
    response = post(alice_client, text)
    assert response.status_code in (302, 400)
