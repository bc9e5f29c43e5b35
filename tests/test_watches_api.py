"""/api/watches: create (one, many, idempotent), list with filters, read, change,
delete, scan now — with the same auth and error shape as the scan API."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from scans.models import ApiToken, Scan, Watch
from tests.factories import HOST, chains, record_scan, team

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(client):  # type: ignore[no-untyped-def]
    keys: dict[str, str] = {}

    def _call(user, method: str, url: str, body=None):  # type: ignore[no-untyped-def]
        headers = {}
        if user is not None:
            if user.pk not in keys:
                keys[user.pk] = ApiToken.issue(user=user)[1]
            headers["Authorization"] = f"Bearer {keys[user.pk]}"
        data = None if body is None else json.dumps(body)
        return getattr(client, method)(
            url, data=data, content_type="application/json", headers=headers
        )

    return _call


def test_a_watch_is_created_with_201_and_the_same_again_is_200_with_the_same_watch(alice, call):
    body = {
        "host": "example.com",
        "port": 8443,
        "ip": ["192.0.2.7"],
        "interval": 3600,
        "tags": ["prod"],
    }
    first = call(alice, "post", "/api/watches", body)
    assert first.status_code == 201
    data = first.json()
    assert data["host"] == "example.com" and data["port"] == 8443
    assert data["ip"] == ["192.0.2.7"] and data["interval"] == 3600 and data["tags"] == ["prod"]
    assert data["paused"] is False and data["last_scan"] is None
    assert data["url"].endswith(f"/api/watches/{data['id']}")
    # Its first scan is queued at once, pinned like the watch.
    scan = Scan.objects.get(watch__uid=data["id"])
    assert scan.pinned_addresses == ["192.0.2.7"] and scan.requested_by == alice
    again = call(alice, "post", "/api/watches", body)
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert Watch.objects.count() == 1 and Scan.objects.count() == 1


def test_a_teammate_posting_the_same_host_gets_the_teams_watch_and_an_outsider_gets_their_own(
    alice, bob, charlie, call
):
    team("ops", alice, bob)
    mine = call(alice, "post", "/api/watches", {"host": "example.com"}).json()
    assert call(bob, "post", "/api/watches", {"host": "example.com"}).json()["id"] == mine["id"]
    theirs = call(charlie, "post", "/api/watches", {"host": "example.com"})
    assert theirs.status_code == 201 and theirs.json()["id"] != mine["id"]


def test_other_pins_are_another_watch(alice, call):
    a = call(alice, "post", "/api/watches", {"host": "example.com"}).json()
    b = call(alice, "post", "/api/watches", {"host": "example.com", "ip": "192.0.2.1"})
    assert b.status_code == 201 and b.json()["id"] != a["id"]


def test_many_targets_at_once(alice, call):
    response = call(
        alice,
        "post",
        "/api/watches",
        {"targets": ["a.example", "b.example:8443", "a.example"], "interval": "6h", "tags": "web"},
    )
    assert response.status_code == 201
    watches = response.json()["watches"]
    assert [(w["host"], w["port"]) for w in watches] == [
        ("a.example", 443),
        ("b.example", 8443),
        ("a.example", 443),
    ]
    assert watches[0]["id"] == watches[2]["id"]
    assert {w["interval"] for w in watches} == {21600} and watches[1]["tags"] == ["web"]
    assert Watch.objects.count() == 2


def test_a_thousand_targets_are_fine_and_one_more_is_refused_whole(alice, call):
    targets = [f"h{i}.example.com" for i in range(1001)]
    refused = call(alice, "post", "/api/watches", {"targets": targets})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "too-many"
    assert Watch.objects.count() == 0
    assert call(alice, "post", "/api/watches", {"targets": targets[:1000]}).status_code == 201
    assert Watch.objects.count() == 1000


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"host": "exa mple.com"}, "bad-host"),
        ({"host": "example.com", "interval": 60}, "bad-interval"),
        ({"host": "example.com", "interval": "soon"}, "bad-interval"),
        ({"host": "example.com", "tags": ["<b>"]}, "bad-tags"),
        ({"host": "example.com", "ip": "not-an-ip"}, "bad-ip"),
        ({"host": "example.com", "port": 0}, "bad-port"),
        ({"host": "example.com", "colour": "red"}, "bad-request"),
        ({"targets": ["ok.example", "bad host"]}, "bad-targets"),
        ([], "bad-request"),
    ],
)
def test_bad_input_is_a_400_with_a_code_and_creates_nothing(alice, call, body, code):
    response = call(alice, "post", "/api/watches", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert Watch.objects.count() == 0


def test_the_minimum_interval_is_a_setting(alice, call, settings):
    settings.CHAINSCAN_WATCH_MIN_INTERVAL = 30
    assert (
        call(alice, "post", "/api/watches", {"host": "e.example", "interval": 60}).status_code
        == 201
    )
    assert (
        call(alice, "post", "/api/watches", {"host": "f.example", "interval": 29}).status_code
        == 400
    )


def test_writes_need_a_token_and_a_session_may_only_read(alice, client, call):
    client.force_login(alice)
    created = client.post(
        "/api/watches", data={"host": "e.example"}, content_type="application/json"
    )
    assert created.status_code == 401 and created.json()["error"]["code"] == "token-required"
    assert client.get("/api/watches").status_code == 200
    w = call(alice, "post", "/api/watches", {"host": "e.example"}).json()
    client.force_login(alice)
    assert client.delete(f"/api/watches/{w['id']}").status_code == 401
    assert client.post(f"/api/watches/{w['id']}/scan").status_code == 401
    assert Watch.objects.count() == 1


def test_the_list_filters_by_verdict_tag_and_expiry_and_pages(alice, call, settings):
    c = chains()
    broken = record_scan(c.served_x1(), user=alice)
    ok = record_scan(c.served_x3(), user=alice, port=8443)
    assert (broken.verdict, ok.verdict) == ("broken", "ok")
    prod = call(alice, "post", "/api/watches", {"host": HOST, "tags": ["prod"]}).json()
    call(alice, "post", "/api/watches", {"host": f"{HOST}:8443", "tags": ["prod", "web"]})
    call(alice, "post", "/api/watches", {"host": "new.example.com"})
    Watch.objects.filter(host=broken.host).update(last_scan=broken)
    Watch.objects.filter(host=ok.host).update(last_scan=ok)
    Scan.objects.filter(pk=ok.pk).update(valid_until=timezone.now() + dt.timedelta(days=5))
    Scan.objects.filter(pk=broken.pk).update(valid_until=timezone.now() + dt.timedelta(days=60))
    okname = f"{HOST}:8443"

    def hosts(query: str) -> list[str]:
        response = call(alice, "get", f"/api/watches{query}")
        assert response.status_code == 200
        return [
            w["host"] + ("" if w["port"] == 443 else f":{w['port']}")
            for w in response.json()["watches"]
        ]

    # Most urgent first: broken, then no result yet, then ok.
    assert hosts("") == [HOST, "new.example.com", okname]
    assert hosts("?verdict=broken") == [HOST]
    assert hosts("?tag=prod") == [HOST, okname]
    assert hosts("?tag=web&verdict=ok") == [okname]
    assert hosts("?expiring_within=14") == [okname]
    assert hosts("?tag=pro") == []
    listed = call(alice, "get", "/api/watches?verdict=broken").json()
    last = listed["watches"][0]["last_scan"]
    assert last["token"] == broken.token and last["verdict"] == "broken"
    assert last["url"].endswith(f"/r/{broken.token}") and listed["watches"][0]["id"] == prod["id"]
    settings.CHAINSCAN_OVERVIEW_PAGE_SIZE = 2
    page = call(alice, "get", "/api/watches?page=2").json()
    assert (page["count"], page["pages"], page["page"]) == (3, 2, 2)
    assert page["next"] is None and "page=1" in page["previous"]
    assert [w["host"] for w in page["watches"]] == [HOST]
    assert call(alice, "get", "/api/watches?page=3").status_code == 404
    bad = call(alice, "get", "/api/watches?verdict=purple")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad-verdict"


def test_read_change_and_delete_one_watch(alice, call):
    w = call(alice, "post", "/api/watches", {"host": "e.example", "interval": 3600}).json()
    url = f"/api/watches/{w['id']}"
    assert call(alice, "get", url).json() == w | {
        "next_run_at": call(alice, "get", url).json()["next_run_at"]
    }
    changed = call(
        alice, "patch", url, {"interval": 600, "tags": ["a", "b"], "paused": True, "note": "n"}
    )
    assert changed.status_code == 200
    body = changed.json()
    assert body["interval"] == 600 and body["tags"] == ["a", "b"] and body["paused"] is True
    # A shorter interval brings the next run forward.
    assert dt.datetime.fromisoformat(body["next_run_at"]) <= timezone.now() + dt.timedelta(
        seconds=601
    )
    assert Watch.objects.get().note == "n"
    bad = call(alice, "patch", url, {"interval": 10})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad-interval"
    assert call(alice, "patch", url, {"paused": "yes"}).status_code == 400
    assert call(alice, "delete", url).status_code == 204
    assert call(alice, "get", url).status_code == 404
    # The scans stay in the host's history.
    assert Scan.objects.filter(host__hostname="e.example").count() == 1


def test_scan_now_queues_one_scan_and_a_second_call_returns_it(alice, call):
    w = call(alice, "post", "/api/watches", {"host": "e.example"}).json()
    Scan.objects.filter(watch__uid=w["id"]).update(status="done", finished_at=timezone.now())
    first = call(alice, "post", f"/api/watches/{w['id']}/scan")
    assert first.status_code == 202 and first.json()["status"] == "queued"
    second = call(alice, "post", f"/api/watches/{w['id']}/scan")
    assert second.json()["token"] == first.json()["token"]
    assert Scan.objects.filter(watch__uid=w["id"], status="queued").count() == 1


def test_a_teammate_manages_the_watch_and_an_outsider_sees_nothing(alice, bob, charlie, call):
    team("ops", alice, bob)
    w = call(alice, "post", "/api/watches", {"host": "e.example"}).json()
    url = f"/api/watches/{w['id']}"
    assert call(bob, "get", url).status_code == 200
    assert call(bob, "patch", url, {"paused": True}).json()["paused"] is True
    assert [x["id"] for x in call(bob, "get", "/api/watches").json()["watches"]] == [w["id"]]
    for method in ("get", "patch", "delete"):
        response = call(charlie, method, url, {} if method == "patch" else None)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not-found"
    assert call(charlie, "post", f"{url}/scan").status_code == 404
    assert call(charlie, "get", "/api/watches").json()["watches"] == []
    assert Watch.objects.filter(uid=w["id"]).exists()


def test_without_a_token_nothing_is_answered(client):
    response = client.get("/api/watches")
    assert response.status_code == 401 and response.json()["error"]["code"] == "token-required"
    assert client.get("/api/watches", headers={"Authorization": "Bearer nope"}).status_code == 401
