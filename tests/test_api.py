"""The JSON API: requesting scans, reading reports, history and diffs.

Bodies are checked for what an API user relies on; tests/test_openapi.py
checks every response against the published schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scans.models import ApiToken, Scan
from tests import factories
from tests.factories import HOST, chains, queued_scan, record_scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_key(alice) -> str:  # type: ignore[no-untyped-def]
    return ApiToken.issue(user=alice)[1]


def call(client, method: str, url: str, key: str | None = None, body: Any = None):  # type: ignore[no-untyped-def]
    """One API request; ``body`` is sent as JSON (bytes as they are)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = body if isinstance(body, bytes) or body is None else json.dumps(body)
    return getattr(client, method.lower())(
        url, data=data, content_type="application/json", headers=headers
    )


def post_scan(client, key: str | None, body: Any):  # type: ignore[no-untyped-def]
    return call(client, "POST", reverse("api-scans"), key, body)


def get(client, url: str, key: str | None = None):  # type: ignore[no-untyped-def]
    return call(client, "GET", url, key)


# --- POST /api/scans -------------------------------------------------------------


def test_posting_a_host_queues_a_scan_and_answers_with_its_permalink(client, alice, alice_key):
    response = post_scan(client, alice_key, {"host": "HTTPS://Example.COM/login"})

    assert response.status_code == 202
    body = response.json()
    scan = Scan.objects.select_related("host").get(token=body["token"])
    assert body == {
        "token": scan.token,
        "url": f"http://testserver/r/{scan.token}",
        "status": "queued",
    }
    assert (scan.host.hostname, scan.host.port, scan.requested_by) == ("example.com", 443, alice)


def test_port_and_pinned_addresses_are_taken_from_the_body(client, alice_key):
    response = post_scan(
        client, alice_key, {"host": "example.com", "port": 8443, "ip": ["192.0.2.1", "2001:db8::1"]}
    )
    scan = Scan.objects.select_related("host").get(token=response.json()["token"])
    assert scan.host.port == 8443
    assert scan.pinned_addresses == ["192.0.2.1", "2001:db8::1"]


def test_posting_the_same_host_twice_returns_the_scan_already_queued(client, alice_key):
    first = post_scan(client, alice_key, {"host": "example.com"}).json()
    second = post_scan(client, alice_key, {"host": "example.com"}).json()
    assert first["token"] == second["token"]
    assert Scan.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "bad-json"),
        (["example.com"], "bad-request"),
        ({"hostname": "example.com"}, "bad-request"),
        ({}, "bad-host"),
        ({"host": ""}, "bad-host"),
        ({"host": "exa mple.com"}, "bad-host"),
        ({"host": 42}, "bad-host"),
        ({"host": "example.com", "port": 0}, "bad-port"),
        ({"host": "example.com", "port": "443"}, "bad-port"),
        ({"host": "example.com", "port": True}, "bad-port"),
        ({"host": "example.com", "ip": "not-an-ip"}, "bad-ip"),
        ({"host": "example.com", "ip": ["192.0.2.1"] * 9}, "bad-ip"),
    ],
)
def test_an_invalid_request_is_a_400_naming_the_problem(client, alice_key, body, code):
    response = post_scan(client, alice_key, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert not Scan.objects.exists()


def test_a_body_over_16_kib_is_refused(client, alice_key):
    response = post_scan(client, alice_key, {"host": "example.com", "pad": "x" * 17_000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too-large"


def test_too_many_requests_are_rate_limited(client, alice_key, settings):
    from django.core.cache import cache

    cache.clear()
    settings.CHAINSCAN_SUBMIT_RATE = (1, 60)
    assert post_scan(client, alice_key, {"host": "a.example.com"}).status_code == 202
    response = post_scan(client, alice_key, {"host": "b.example.com"})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate-limited"
    cache.clear()


# --- GET /api/scans/<token> -------------------------------------------------------------


def test_a_finished_scan_is_the_engines_report_json_plus_status(client, alice, alice_key):
    report = factories.engine_report({"192.0.2.10": chains().served_x1()})
    scan = factories.record_report(report, user=alice)

    body = get(client, reverse("api-scan", args=[scan.token]), alice_key).json()

    assert body["status"] == "done" and body["verdict"] == "broken"
    assert body["token"] == scan.token and body["url"] == f"http://testserver/r/{scan.token}"
    assert body["change"] == "first"
    # The same JSON as `chainscan scan --json`, but the evaluation time, which
    # is when the scan was stored.
    engine = report.to_json()
    for key, value in engine.items():
        if key != "evaluated_at":
            assert body[key] == value, key
    codes = [f["code"] for f in body["endpoints"][0]["findings"]]
    assert codes == ["wrong-intermediate-same-key"]


def test_a_queued_scan_has_a_status_and_no_report_yet(client, alice, alice_key):
    scan = queued_scan(user=alice)
    body = get(client, reverse("api-scan", args=[scan.token]), alice_key).json()
    assert body["status"] == "queued"
    assert body["finished_at"] is None
    assert "endpoints" not in body and "verdict" not in body


def test_a_scan_stopped_before_it_had_a_report_has_no_verdict(client, alice, alice_key):
    from scans import services

    scan = queued_scan(user=alice)
    services.scan_fail(scan_id=scan.pk, error="the scan took longer than its time limit")
    body = get(client, reverse("api-scan", args=[scan.token]), alice_key).json()
    assert body["status"] == "failed" and body["verdict"] is None
    assert body["error"] == "the scan took longer than its time limit"


def test_an_unknown_token_is_a_404_that_says_nothing_more(client, alice, alice_key):
    real = record_scan(chains().served_x3(), user=alice)
    unknown = get(client, reverse("api-scan", args=["x" * 43]), alice_key)
    malformed = get(client, reverse("api-scan", args=["short"]), alice_key)
    near_miss = get(client, reverse("api-scan", args=[real.token[:-1] + "_"]), alice_key)

    assert unknown.status_code == malformed.status_code == near_miss.status_code == 404
    assert unknown.json() == malformed.json() == near_miss.json()
    assert unknown.json() == {"error": {"code": "not-found", "message": "no such resource"}}


# --- GET /api/hosts/<host>/scans ------------------------------------------------------------


def test_the_host_history_lists_scans_newest_first_with_their_changes(client, alice, alice_key):
    c = chains()
    broken = record_scan(c.served_x1(), user=alice)
    fixed = record_scan(c.served_x3(), user=alice)

    body = get(client, reverse("api-host-scans", args=[HOST]), alice_key).json()

    assert (body["host"], body["port"], body["count"], body["pages"]) == (HOST, 443, 2, 1)
    assert [s["token"] for s in body["scans"]] == [fixed.token, broken.token]
    newest = body["scans"][0]
    assert newest["change"] == "improvement" and newest["verdict"] == "ok"
    assert newest["changed"] == ["served", "findings"]
    assert "wrong-intermediate-same-key resolved" in newest["change_summary"]
    assert newest["diff"] == "http://testserver" + reverse(
        "api-diff", args=[fixed.token, broken.token]
    )
    assert body["scans"][1]["change"] == "first" and body["scans"][1]["diff"] is None


def test_the_host_history_is_paginated(client, alice, alice_key, settings):
    settings.CHAINSCAN_HISTORY_PAGE_SIZE = 2
    tokens = [record_scan(chains().served_x3(), user=alice).token for _ in range(3)][::-1]
    url = reverse("api-host-scans", args=[HOST])

    first = get(client, url, alice_key).json()
    second = get(client, first["next"], alice_key).json()

    assert [s["token"] for s in first["scans"]] == tokens[:2]
    assert (first["page"], first["pages"], first["previous"]) == (1, 2, None)
    assert [s["token"] for s in second["scans"]] == tokens[2:]
    assert second["next"] is None and second["previous"] == f"http://testserver{url}?page=1"


def test_a_page_that_is_not_a_number_is_a_400_and_one_past_the_end_a_404(client, alice, alice_key):
    record_scan(chains().served_x3(), user=alice)
    url = reverse("api-host-scans", args=[HOST])
    assert get(client, url + "?page=two", alice_key).json()["error"]["code"] == "bad-page"
    past = get(client, url + "?page=9", alice_key)
    assert past.status_code == 404 and past.json()["error"]["code"] == "no-such-page"


def test_a_host_with_a_port_is_addressed_as_host_colon_port(client, alice, alice_key):
    scan = record_scan(chains().served_x3(), user=alice, port=8443)
    body = get(client, reverse("api-host-scans", args=[f"{HOST}:8443"]), alice_key).json()
    assert [s["token"] for s in body["scans"]] == [scan.token]
    assert get(client, reverse("api-host-scans", args=[HOST]), alice_key).status_code == 404


def test_the_host_history_costs_the_same_queries_at_10_and_1000_scans(client, alice, alice_key):
    seed = record_scan(chains().served_x1(), user=alice)
    factories.bulk_history(seed, 9)
    url = reverse("api-host-scans", args=[HOST])
    get(client, url, alice_key)  # the token's first use is recorded (once a minute at most)

    with CaptureQueriesContext(connection) as small:
        assert get(client, url, alice_key).json()["count"] == 10
    factories.bulk_history(seed, 990)
    with CaptureQueriesContext(connection) as large:
        body = get(client, url, alice_key).json()

    assert body["count"] == 1000 and len(body["scans"]) == 50
    assert len(large) == len(small) >= 5, [q["sql"] for q in large]


# --- GET /api/scans/<token>/diff/<other> --------------------------------------------------


def test_the_diff_says_which_intermediate_changed_and_what_it_resolved(client, alice, alice_key):
    c = chains()
    broken = record_scan(c.served_x1(), user=alice)
    fixed = record_scan(c.served_x3(), user=alice)

    # Newest token first: the diff still runs from the older scan to the newer.
    body = get(client, reverse("api-diff", args=[fixed.token, broken.token]), alice_key).json()

    assert (body["from"], body["to"], body["kind"]) == (broken.token, fixed.token, "improvement")
    assert body["headline"] == "Fixed: BROKEN → OK" and body["material"] is False
    assert (
        "position 1 changed from Example Authority X1 to Example Authority X3"
        " — wrong-intermediate-same-key resolved" in body["summary"]
    )
    endpoint = body["endpoints"][0]
    assert endpoint["key"] == "192.0.2.10" and endpoint["resolved"] == [
        "wrong-intermediate-same-key"
    ]
    (swap,) = endpoint["served"]
    assert swap["kind"] == "replaced" and swap["position"] == 1
    assert swap["before"]["label"] == "Example Authority X1"
    assert swap["after"]["label"] == "Example Authority X3"


def test_a_renewal_diff_is_routine(client, alice, alice_key):
    c = chains()
    before = record_scan(c.served_x3(), user=alice)
    after = record_scan([c.renewed_leaf, c.x3], user=alice)
    body = get(client, reverse("api-diff", args=[before.token, after.token]), alice_key).json()
    assert body["kind"] == "renewal"
    assert [ch["routine"] for ch in body["endpoints"][0]["served"]] == [True]


def test_scans_of_two_hosts_cannot_be_diffed(client, alice, alice_key):
    here = record_scan(chains().served_x3(), user=alice)
    there = record_scan(chains().served_x3(), user=alice, port=8443)
    response = get(client, reverse("api-diff", args=[here.token, there.token]), alice_key)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "different-hosts"


def test_a_scan_without_a_report_cannot_be_diffed(client, alice, alice_key):
    done = record_scan(chains().served_x3(), user=alice)
    waiting = queued_scan(user=alice)
    response = get(client, reverse("api-diff", args=[done.token, waiting.token]), alice_key)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not-finished"


def test_a_diff_with_an_unknown_token_is_a_plain_404(client, alice, alice_key):
    done = record_scan(chains().served_x3(), user=alice)
    response = get(client, reverse("api-diff", args=[done.token, "y" * 43]), alice_key)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not-found", "message": "no such resource"}}


# --- errors are always JSON ----------------------------------------------------------------


def test_a_wrong_method_is_a_json_405(client, alice_key):
    response = call(client, "GET", reverse("api-scans"), alice_key)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"]["code"] == "method-not-allowed"


def test_an_unknown_api_path_is_a_json_404(client, alice_key):
    response = get(client, "/api/nothing/here", alice_key)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not-found", "message": "no such resource"}}
