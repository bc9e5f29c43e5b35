"""Home: recent activity one row per host with its latest verdict; what a multi-host
submit queued, listed once."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def rows(html: str) -> list[str]:
    return re.findall(r'<li class="host-row" data-host="([^"]+)">', html)


def test_recent_activity_shows_each_host_once_with_its_latest_verdict(alice_client, alice):
    c = factories.chains()
    factories.record_scan(c.served_x1(), user=alice)
    factories.record_scan(c.served_x1(), user=alice)
    fixed = factories.record_scan(c.served_x3(), user=alice)
    factories.record_scan(c.served_x3(), user=alice, host="other.example")
    html = alice_client.get(reverse("home")).content.decode()
    assert rows(html) == ["other.example", factories.HOST]
    row = html.split(f'data-host="{factories.HOST}"', 1)[1].split("</li>", 1)[0]
    assert f'href="{reverse("report", args=[fixed.token])}"' in row
    assert "verdict-ok" in row and "verdict-broken" not in row


def test_a_host_being_rescanned_shows_its_last_verdict_and_the_running_scan(alice_client, alice):
    c = factories.chains()
    factories.record_scan(c.served_x1(), user=alice)
    queued = factories.queued_scan(user=alice)
    html = alice_client.get(reverse("recent")).content.decode()
    assert rows(html) == [factories.HOST]
    assert "verdict-broken" in html and "status-queued" in html
    assert reverse("report", args=[queued.token]) in html


def test_recent_activity_takes_the_same_queries_for_two_hosts_or_eight(alice_client, alice):
    c = factories.chains()
    for i in range(2):
        factories.record_scan(c.served_x3(), user=alice, host=f"h{i}.example")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as two:
        alice_client.get(reverse("recent"))
    for i in range(2, 8):
        factories.record_scan(c.served_x3(), user=alice, host=f"h{i}.example")
    with CaptureQueriesContext(connection) as eight:
        html = alice_client.get(reverse("recent")).content.decode()
    assert len(rows(html)) == 8
    assert len(eight.captured_queries) == len(two.captured_queries)


def test_charlie_sees_none_of_alices_hosts(client, charlie, alice):
    factories.record_scan(factories.chains().served_x3(), user=alice)
    client.force_login(charlie)
    assert rows(client.get(reverse("home")).content.decode()) == []


def test_a_multi_host_submit_lists_what_was_queued_once(alice_client):
    response = alice_client.post(
        reverse("home"), {"targets": "a.example\nb.example:8443", "addresses": ""}, follow=True
    )
    html = response.content.decode()
    assert "Queued 2 scans" in html
    queued = html.split('class="queued-list"', 1)[1].split("</ul>", 1)[0]
    assert "a.example" in queued and "b.example:8443" in queued
    again = alice_client.get(reverse("home")).content.decode()
    assert "Queued 2 scans" not in again
