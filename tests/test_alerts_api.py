"""Channels and incidents through the API and the pages: write-only secrets, one team's
channels and incidents only."""

from __future__ import annotations

import json

import pytest
import time_machine
from django.urls import reverse

from scans.models import ApiToken, Channel, Notification
from tests import pki
from tests.factories import chains, record_scan, team, watch_for

pytestmark = pytest.mark.django_db

HOOK_URL = "https://hooks.example.com/services/T000/B000/very-secret-path"


def api(client, method: str, path: str, user=None, body=None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {ApiToken.issue(user=user)[1]}"} if user else {}
    data = json.dumps(body) if body is not None else None
    return getattr(client, method)(
        path, data=data, content_type="application/json", headers=headers
    )


def broken_watch(user, port: int = 443):  # type: ignore[no-untyped-def]
    watch = watch_for(user, port=port)
    with time_machine.travel(pki.NOW, tick=False):
        record_scan(chains().served_x1(), user=user, watch=watch, port=port)
    return watch


def test_creating_a_channel_answers_the_documented_body_with_the_url_masked(client, alice):
    body = {"kind": "webhook", "name": "ops", "url": HOOK_URL, "secret": "k" * 20}
    response = api(client, "post", "/api/channels", alice, body)
    assert response.status_code == 201
    data = response.json()
    channel = Channel.objects.get()
    assert data == {
        "id": channel.public_id,
        "kind": "webhook",
        "name": "ops",
        "url": "https://hooks.example.com/…",
        "enabled": True,
    }
    assert channel.url == HOOK_URL and channel.secret == "k" * 20
    listed = api(client, "get", "/api/channels", alice).content.decode()
    assert "very-secret-path" not in listed and "k" * 20 not in listed


def test_an_email_channel_takes_addresses_and_a_webhook_needs_a_secret(client, alice):
    ok = api(
        client,
        "post",
        "/api/channels",
        alice,
        {"kind": "email", "name": "m", "to": ["a@example.com"]},
    )
    assert ok.status_code == 201 and Channel.objects.get().to == ["a@example.com"]
    bad = api(
        client, "post", "/api/channels", alice, {"kind": "webhook", "name": "w", "url": HOOK_URL}
    )
    assert bad.status_code == 400 and "16 characters" in bad.json()["error"]["message"]
    unknown = api(client, "post", "/api/channels", alice, {"kind": "pager", "name": "p"})
    assert unknown.status_code == 400


def test_a_browser_session_may_list_channels_but_not_add_one(alice_client):
    assert alice_client.get("/api/channels").status_code == 200
    response = alice_client.post(
        "/api/channels",
        data=json.dumps({"kind": "ntfy", "name": "n", "url": "https://ntfy.sh/t"}),
        content_type="application/json",
    )
    assert response.status_code == 401 and not Channel.objects.exists()


def test_another_team_neither_sees_nor_tests_a_channel(client, alice, bob, charlie):
    team("ops", alice, bob)
    channel = Channel.objects.create(
        created_by=alice, kind="ntfy", name="n", url="https://ntfy.sh/t"
    )
    assert api(client, "get", "/api/channels", charlie).json() == {"channels": []}
    assert len(api(client, "get", "/api/channels", bob).json()["channels"]) == 1
    path = f"/api/channels/{channel.public_id}/test"
    assert api(client, "post", path, charlie).status_code == 404
    response = api(client, "post", path, bob)
    assert response.status_code == 202 and response.json()["event"] == "test"
    assert Notification.objects.get().channel == channel


def test_a_channel_is_changed_through_the_api_keeping_what_is_not_sent(client, alice, bob, charlie):
    team("ops", alice, bob)
    body = {"kind": "webhook", "name": "ops", "url": HOOK_URL, "secret": "k" * 20}
    created = api(client, "post", "/api/channels", alice, body).json()
    path = f"/api/channels/{created['id']}"
    Channel.objects.update(enabled=False, failures=5, disabled_reason="HTTP 410 five times")

    renamed = api(client, "patch", path, bob, {"name": "ops-eu", "remind_hours": 4})
    assert renamed.status_code == 200 and renamed.json()["name"] == "ops-eu"
    channel = Channel.objects.get()
    # Nothing about where it sends changed: the secret stays, so does the disabling.
    assert channel.url == HOOK_URL and channel.secret == "k" * 20 and channel.remind_hours == 4
    assert not channel.enabled

    moved = api(client, "patch", path, bob, {"url": "https://hooks.example.net/new", "secret": ""})
    assert moved.json()["url"] == "https://hooks.example.net/…" and moved.json()["enabled"]
    channel.refresh_from_db()
    assert channel.secret == "k" * 20 and channel.failures == 0 and channel.disabled_reason == ""

    too_short = api(client, "patch", path, bob, {"secret": "short"})
    assert too_short.status_code == 400 and "16 characters" in too_short.json()["error"]["message"]
    assert api(client, "patch", path, bob, {"kind": "email"}).status_code == 400
    assert api(client, "patch", path, bob, {"enabled": False}).json()["enabled"] is False
    assert api(client, "patch", path, charlie, {"name": "mine"}).status_code == 404
    assert api(client, "delete", path, charlie).status_code == 404
    assert api(client, "delete", path, bob).status_code == 204
    assert not Channel.objects.exists()


def test_a_browser_session_may_read_a_channel_but_not_change_it(alice_client, alice):
    channel = Channel.objects.create(
        created_by=alice, kind="ntfy", name="n", url="https://ntfy.sh/t"
    )
    path = f"/api/channels/{channel.public_id}"
    assert alice_client.get(path).json()["name"] == "n"
    patch = alice_client.patch(path, data='{"name": "x"}', content_type="application/json")
    assert patch.status_code == 401 and Channel.objects.get().name == "n"


def test_open_incidents_of_the_team_are_listed(client, alice, bob, charlie):
    team("ops", alice, bob)
    watch = broken_watch(alice)
    fixed = broken_watch(alice, port=8443)
    with time_machine.travel(pki.NOW, tick=False):
        record_scan(chains().served_x3(), user=alice, watch=fixed, port=8443)
    data = api(client, "get", "/api/incidents?open=true", bob).json()
    (incident,) = data["incidents"]
    assert incident["kind"] == "breakage" and incident["host"] == "x3.example.com"
    assert incident["port"] == 443 and incident["resolved_at"] is None
    watch.refresh_from_db()
    assert incident["opened_by"].endswith(watch.last_scan.token)
    everything = api(client, "get", "/api/incidents", bob).json()["incidents"]
    assert sorted(i["port"] for i in everything) == [443, 8443]
    assert api(client, "get", "/api/incidents?open=true", charlie).json() == {"incidents": []}


def test_the_host_page_and_the_overview_show_open_incidents(alice_client, alice, client, charlie):
    broken_watch(alice)
    host_page = alice_client.get(reverse("host", args=["x3.example.com"])).content.decode()
    assert "Open incidents" in host_page and "right key, wrong name" in host_page
    assert "Open incidents" in alice_client.get(reverse("overview")).content.decode()
    client.force_login(charlie)
    assert "Open incidents" not in client.get(reverse("overview")).content.decode()


def test_the_channels_page_adds_a_channel_and_never_shows_its_url_again(alice_client):
    response = alice_client.post(
        reverse("channels"),
        {
            "kind": "slack",
            "name": "chat",
            "url": HOOK_URL,
            "secret": "",
            "to": "",
            "remind_hours": "",
        },
    )
    assert response.status_code == 302
    page = alice_client.get(reverse("channels")).content.decode()
    assert "chat" in page and "https://hooks.example.com/…" in page
    assert "very-secret-path" not in page
    channel = Channel.objects.get()
    alice_client.post(reverse("channel-test", args=[channel.public_id]))
    assert Notification.objects.get().event == "test"


def test_the_channels_page_edits_a_channel_without_showing_its_url(alice_client, alice):
    channel = Channel.objects.create(
        created_by=alice,
        kind="slack",
        name="chat",
        url=HOOK_URL,
        enabled=False,
        failures=5,
        disabled_reason="HTTP 404 five times in a row",
    )
    edit = reverse("channel-edit", args=[channel.public_id])
    assert edit in alice_client.get(reverse("channels")).content.decode()
    page = alice_client.get(edit).content.decode()
    assert "https://hooks.example.com/…" in page and "very-secret-path" not in page
    assert "HTTP 404 five times in a row" in page

    kept = alice_client.post(edit, {"name": "chat-ops", "url": "", "to": "", "remind_hours": ""})
    assert kept.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.url, channel.enabled) == ("chat-ops", HOOK_URL, False)

    alice_client.post(edit, {"name": "chat-ops", "url": "https://hooks.example.org/x"})
    channel.refresh_from_db()
    assert channel.url == "https://hooks.example.org/x" and channel.enabled
    bad = alice_client.post(edit, {"name": "chat-ops", "url": "ftp://nope"})
    assert bad.status_code == 200 and "an http(s) URL is needed" in bad.content.decode()


def test_the_channels_page_rejects_a_url_that_is_not_http(alice_client):
    response = alice_client.post(
        reverse("channels"), {"kind": "discord", "name": "d", "url": "javascript:alert(1)"}
    )
    assert response.status_code == 200 and "an http(s) URL is needed" in response.content.decode()
    assert not Channel.objects.exists()


def test_incident_and_channel_names_are_shown_escaped(alice_client, alice):
    watch = broken_watch(alice)
    incident = watch.incidents.get()
    incident.title = "<script>alert('title')</script>"
    incident.save(update_fields=["title"])
    Channel.objects.create(
        created_by=alice,
        kind="ntfy",
        name="<img src=x onerror=alert(1)>",
        url="https://ntfy.sh/t",
        enabled=False,
        disabled_reason="<b>down</b>",
    )
    for url in (reverse("overview"), reverse("channels")):
        page = alice_client.get(url).content.decode()
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>down" not in page
    assert "&lt;script&gt;alert" in alice_client.get(reverse("overview")).content.decode()
