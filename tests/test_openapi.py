"""/api/openapi.json is a valid OpenAPI 3.1 document and tells the truth.

Every response the document lists (path, method, status) has a scenario here
that produces it from the running API, and the body must validate against the
schema the document gives for it, ``$ref``s resolved inside the document. The
document's schemas are closed (no undeclared fields, every field required), so
a field added or dropped on either side fails.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from scans.models import ApiToken, PrunedScan, Scan
from scans.openapi import document
from tests.factories import HOST, chains, queued_scan, record_scan

pytestmark = pytest.mark.django_db

DOC_URI = "urn:chainscan:openapi"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document("http://testserver/")


def validator_for(doc: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` in the document, resolving its $refs there."""
    registry: Registry[Any] = Registry().with_resource(
        DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{DOC_URI}#{pointer}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def response_validator(doc: dict[str, Any], path: str, method: str, status: str):  # type: ignore[no-untyped-def]
    pointer = "/" + "/".join(
        _escape(p)
        for p in ("paths", path, method, "responses", status, "content", "application/json")
    )
    return validator_for(doc, pointer + "/schema")


# --- the scenarios -------------------------------------------------------------------------


@dataclass
class World:
    """Scans and credentials the scenarios draw on."""

    client: Client
    key: str
    broken: Scan
    fixed: Scan
    queued: Scan
    elsewhere: Scan
    settings: Any

    def call(self, method: str, url: str, body: Any = None, *, key: str | None = "own"):  # type: ignore[no-untyped-def]
        token = self.key if key == "own" else key
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = body if isinstance(body, bytes) or body is None else json.dumps(body)
        return getattr(self.client, method)(
            url, data=data, content_type="application/json", headers=headers
        )


Scenario = Callable[[World], list[Any]]


def _url(template: str, **params: str) -> str:
    """The documented path template filled in: proves the documented path is served."""
    return template.format(**params)


SCANS, SCAN, DIFF, HISTORY, OPENAPI = (
    "/api/scans",
    "/api/scans/{token}",
    "/api/scans/{token}/diff/{other}",
    "/api/hosts/{host}/scans",
    "/api/openapi.json",
)
CHANNELS, CHANNEL_TEST, INCIDENTS = "/api/channels", "/api/channels/{id}/test", "/api/incidents"
CHANNEL = "/api/channels/{id}"
HOOK = {"kind": "webhook", "name": "ops", "url": "https://hooks.example.com/x", "secret": "s" * 16}


def _channel_id(w: World) -> str:
    return str(w.call("post", CHANNELS, HOOK).json()["id"])


def _incident(w: World) -> None:
    from tests.factories import watch_for

    watch = watch_for(w.broken.requested_by, port=8444)
    record_scan(chains().served_x1(), user=w.broken.requested_by, port=8444, watch=watch)


def _rate_limited(w: World) -> list[Any]:
    cache.clear()
    w.settings.CHAINSCAN_SUBMIT_RATE = (1, 60)
    w.call("post", SCANS, {"host": "one.example.com"})
    try:
        return [w.call("post", SCANS, {"host": "two.example.com"})]
    finally:
        cache.clear()


def _pruned(w: World) -> str:
    """The token of a routine rescan pruned by CHAINSCAN_KEEP_UNCHANGED_DAYS (its tombstone)."""
    PrunedScan.objects.create(token="p" * 43, host=w.fixed.host, requested_at=w.fixed.requested_at)
    return "p" * 43


def _expired_token(w: World) -> str:
    return ApiToken.issue(
        user=w.broken.requested_by, expires_at=timezone.now() - dt.timedelta(seconds=1)
    )[1]


def _team_busy(w: World) -> list[Any]:
    w.settings.CHAINSCAN_TEAM_MAX_UNFINISHED = 1  # alice's queued scan fills it
    return [w.call("post", SCANS, {"host": "three.example.com"})]


SCENARIOS: dict[tuple[str, str, str], Scenario] = {
    (SCANS, "post", "202"): lambda w: [
        w.call("post", SCANS, {"host": "example.com", "port": 8443, "ip": "192.0.2.1"})
    ],
    (SCANS, "post", "400"): lambda w: [
        w.call("post", SCANS, {"host": "example.com", "port": 0}),
        w.call("post", SCANS, b"not json"),
    ],
    (SCANS, "post", "401"): lambda w: [
        w.call("post", SCANS, {"host": "example.com"}, key=None),
        w.call("post", SCANS, {"host": "example.com"}, key="cs_not-a-token"),
        w.call("post", SCANS, {"host": "example.com"}, key=_expired_token(w)),
    ],
    (SCANS, "post", "403"): lambda w: [
        w.call(
            "post",
            SCANS,
            {"host": "example.com"},
            key=ApiToken.issue(user=w.broken.requested_by, read_only=True)[1],
        )
    ],
    (SCANS, "post", "413"): lambda w: [w.call("post", SCANS, b" " * 20_000)],
    (SCANS, "post", "429"): lambda w: [*_rate_limited(w), *_team_busy(w)],
    (SCAN, "get", "200"): lambda w: [
        w.call("get", _url(SCAN, token=w.broken.token)),
        w.call("get", _url(SCAN, token=w.queued.token)),
    ],
    (SCAN, "get", "401"): lambda w: [w.call("get", _url(SCAN, token=w.fixed.token), key=None)],
    (SCAN, "get", "404"): lambda w: [w.call("get", _url(SCAN, token="n" * 43))],
    (SCAN, "get", "410"): lambda w: [w.call("get", _url(SCAN, token=_pruned(w)))],
    (DIFF, "get", "200"): lambda w: [
        w.call("get", _url(DIFF, token=w.fixed.token, other=w.broken.token))
    ],
    (DIFF, "get", "400"): lambda w: [
        w.call("get", _url(DIFF, token=w.fixed.token, other=w.elsewhere.token))
    ],
    (DIFF, "get", "401"): lambda w: [
        w.call("get", _url(DIFF, token=w.fixed.token, other=w.broken.token), key=None)
    ],
    (DIFF, "get", "404"): lambda w: [
        w.call("get", _url(DIFF, token=w.fixed.token, other="n" * 43))
    ],
    (DIFF, "get", "409"): lambda w: [
        w.call("get", _url(DIFF, token=w.fixed.token, other=w.queued.token))
    ],
    (HISTORY, "get", "200"): lambda w: [w.call("get", _url(HISTORY, host=HOST))],
    (HISTORY, "get", "400"): lambda w: [w.call("get", _url(HISTORY, host=HOST) + "?page=x")],
    (HISTORY, "get", "401"): lambda w: [w.call("get", _url(HISTORY, host=HOST), key=None)],
    (HISTORY, "get", "404"): lambda w: [
        w.call("get", _url(HISTORY, host="unknown.example")),
        w.call("get", _url(HISTORY, host=HOST) + "?page=99"),
    ],
    (OPENAPI, "get", "200"): lambda w: [w.call("get", OPENAPI, key=None)],
    (CHANNELS, "get", "200"): lambda w: [_channel_id(w) and w.call("get", CHANNELS)],
    (CHANNELS, "get", "401"): lambda w: [w.call("get", CHANNELS, key=None)],
    (CHANNELS, "post", "201"): lambda w: [
        w.call("post", CHANNELS, HOOK),
        w.call("post", CHANNELS, {"kind": "email", "name": "mail", "to": ["ops@example.com"]}),
    ],
    (CHANNELS, "post", "400"): lambda w: [
        w.call("post", CHANNELS, {"kind": "webhook", "name": "x", "url": "ftp://x"}),
        w.call("post", CHANNELS, {"kind": "email", "name": "x", "to": ["not-an-address"]}),
    ],
    (CHANNELS, "post", "401"): lambda w: [w.call("post", CHANNELS, HOOK, key=None)],
    (CHANNELS, "post", "413"): lambda w: [w.call("post", CHANNELS, b" " * 20_000)],
    (CHANNEL_TEST, "post", "202"): lambda w: [
        w.call("post", _url(CHANNEL_TEST, id=_channel_id(w)))
    ],
    (CHANNEL_TEST, "post", "401"): lambda w: [
        w.call("post", _url(CHANNEL_TEST, id=_channel_id(w)), key=None)
    ],
    (CHANNEL_TEST, "post", "404"): lambda w: [w.call("post", _url(CHANNEL_TEST, id="nope"))],
    (CHANNEL, "get", "200"): lambda w: [w.call("get", _url(CHANNEL, id=_channel_id(w)))],
    (CHANNEL, "get", "401"): lambda w: [w.call("get", _url(CHANNEL, id=_channel_id(w)), key=None)],
    (CHANNEL, "get", "404"): lambda w: [w.call("get", _url(CHANNEL, id="nope"))],
    (CHANNEL, "patch", "200"): lambda w: [
        w.call("patch", _url(CHANNEL, id=_channel_id(w)), {"name": "renamed", "enabled": False})
    ],
    (CHANNEL, "patch", "400"): lambda w: [
        w.call("patch", _url(CHANNEL, id=_channel_id(w)), {"url": "ftp://x"}),
        w.call("patch", _url(CHANNEL, id=_channel_id(w)), {"kind": "email"}),
    ],
    (CHANNEL, "patch", "401"): lambda w: [
        w.call("patch", _url(CHANNEL, id=_channel_id(w)), {"name": "x"}, key=None)
    ],
    (CHANNEL, "patch", "404"): lambda w: [w.call("patch", _url(CHANNEL, id="nope"), {})],
    (CHANNEL, "patch", "413"): lambda w: [
        w.call("patch", _url(CHANNEL, id=_channel_id(w)), b" " * 20_000)
    ],
    (CHANNEL, "delete", "204"): lambda w: [w.call("delete", _url(CHANNEL, id=_channel_id(w)))],
    (CHANNEL, "delete", "401"): lambda w: [
        w.call("delete", _url(CHANNEL, id=_channel_id(w)), key=None)
    ],
    (CHANNEL, "delete", "404"): lambda w: [w.call("delete", _url(CHANNEL, id="nope"))],
    (INCIDENTS, "get", "200"): lambda w: [
        _incident(w) or w.call("get", INCIDENTS + "?open=true"),
        w.call("get", INCIDENTS),
    ],
    (INCIDENTS, "get", "400"): lambda w: [w.call("get", INCIDENTS + "?open=maybe")],
    (INCIDENTS, "get", "401"): lambda w: [w.call("get", INCIDENTS, key=None)],
}

# --- watches (monitoring) --------------------------------------------------------------------
WATCHES, WATCH, WATCH_SCAN = "/api/watches", "/api/watches/{id}", "/api/watches/{id}/scan"


def _watch(w: World) -> str:
    """A watch of alice's whose last scan is the broken one."""
    from scans.models import Watch

    body = w.call("post", WATCHES, {"host": HOST, "tags": ["prod"]}).json()
    Watch.objects.filter(uid=body["id"]).update(last_scan=w.broken)
    return str(body["id"])


SCENARIOS.update(
    {
        (WATCHES, "get", "200"): lambda w: [
            _watch(w) and w.call("get", WATCHES),
            w.call("get", WATCHES + "?verdict=broken&tag=prod&expiring_within=14000"),
        ],
        (WATCHES, "get", "400"): lambda w: [w.call("get", WATCHES + "?expiring_within=x")],
        (WATCHES, "get", "401"): lambda w: [w.call("get", WATCHES, key=None)],
        (WATCHES, "get", "404"): lambda w: [w.call("get", WATCHES + "?page=9")],
        (WATCHES, "post", "200"): lambda w: [_watch(w) and w.call("post", WATCHES, {"host": HOST})],
        (WATCHES, "post", "201"): lambda w: [
            w.call("post", WATCHES, {"host": "a.example", "ip": "192.0.2.1", "interval": "6h"}),
            w.call("post", WATCHES, {"targets": ["b.example", "c.example:8443"]}),
        ],
        (WATCHES, "post", "400"): lambda w: [
            w.call("post", WATCHES, {"host": "a.example", "interval": 1})
        ],
        (WATCHES, "post", "401"): lambda w: [
            w.call("post", WATCHES, {"host": "a.example"}, key=None)
        ],
        (WATCHES, "post", "413"): lambda w: [w.call("post", WATCHES, b" " * 600_000)],
        (WATCH, "get", "200"): lambda w: [w.call("get", _url(WATCH, id=_watch(w)))],
        (WATCH, "get", "401"): lambda w: [w.call("get", _url(WATCH, id=_watch(w)), key=None)],
        (WATCH, "get", "404"): lambda w: [w.call("get", _url(WATCH, id="wnope"))],
        (WATCH, "patch", "200"): lambda w: [
            w.call("patch", _url(WATCH, id=_watch(w)), {"paused": True, "tags": "a b"})
        ],
        (WATCH, "patch", "400"): lambda w: [
            w.call("patch", _url(WATCH, id=_watch(w)), {"interval": 5})
        ],
        (WATCH, "patch", "401"): lambda w: [
            w.call("patch", _url(WATCH, id=_watch(w)), {"paused": True}, key=None)
        ],
        (WATCH, "patch", "404"): lambda w: [w.call("patch", _url(WATCH, id="wnope"), {})],
        (WATCH, "delete", "204"): lambda w: [w.call("delete", _url(WATCH, id=_watch(w)))],
        (WATCH, "delete", "401"): lambda w: [w.call("delete", _url(WATCH, id=_watch(w)), key=None)],
        (WATCH, "delete", "404"): lambda w: [w.call("delete", _url(WATCH, id="wnope"))],
        (WATCH_SCAN, "post", "202"): lambda w: [w.call("post", _url(WATCH_SCAN, id=_watch(w)))],
        (WATCH_SCAN, "post", "401"): lambda w: [
            w.call("post", _url(WATCH_SCAN, id=_watch(w)), key=None)
        ],
        (WATCH_SCAN, "post", "404"): lambda w: [w.call("post", _url(WATCH_SCAN, id="wnope"))],
    }
)


def documented(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (path, method, status)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
    }


@pytest.fixture
def world(client, alice, settings) -> World:  # type: ignore[no-untyped-def]
    return World(
        client=client,
        key=ApiToken.issue(user=alice)[1],
        broken=record_scan(chains().served_x1(), user=alice),
        fixed=record_scan(chains().served_x3(), user=alice),
        queued=queued_scan(user=alice),
        elsewhere=record_scan(chains().served_x3(), user=alice, port=8443),
        settings=settings,
    )


# --- the tests -----------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(doc):
    validate_openapi(doc)
    assert doc["openapi"] == "3.1.0"


def test_the_served_document_is_the_one_tested(client, doc):
    assert client.get(reverse("api-openapi")).json() == doc


def test_every_documented_response_is_exercised_and_nothing_else(doc):
    assert documented(doc) == set(SCENARIOS)


@pytest.mark.parametrize("case", sorted(SCENARIOS), ids=lambda c: f"{c[1].upper()} {c[0]} {c[2]}")
def test_real_responses_match_their_documented_schema(doc, world, case):
    path, method, status = case
    validator = response_validator(doc, path, method, status)
    for response in SCENARIOS[case](world):
        assert response.status_code == int(status), response.content
        if "content" not in doc["paths"][path][method]["responses"][status]:
            assert response.content == b""  # documented as bodiless (204)
            continue
        assert response["Content-Type"] == "application/json"
        body = response.json()
        errors = [e.message for e in validator.iter_errors(body)]
        assert not errors, (errors, body)


def test_the_schemas_catch_a_field_the_document_does_not_know(doc, world):
    body = world.call("get", _url(SCAN, token=world.broken.token)).json()
    validator = validator_for(doc, "/components/schemas/Scan")
    validator.validate(body)

    body["endpoints"][0]["served"][0]["nickname"] = "X1"
    with pytest.raises(jsonschema.ValidationError, match="nickname"):
        validator.validate(body)


def test_the_schemas_catch_a_field_the_code_stopped_sending(doc, world):
    body = world.call("get", _url(DIFF, token=world.fixed.token, other=world.broken.token)).json()
    validator = validator_for(doc, "/components/schemas/Diff")
    validator.validate(body)

    del body["endpoints"][0]["served"][0]["before"]["short_fingerprint"]
    errors = list(validator.iter_errors(body))
    # "before" is CertBrief or null: the reason sits in the oneOf's sub-errors.
    reasons = [sub.message for e in errors for sub in (e.context or [e])]
    assert "'short_fingerprint' is a required property" in reasons


def test_an_unfinished_scan_must_not_carry_report_fields(doc, world):
    body = world.call("get", _url(SCAN, token=world.queued.token)).json()
    validator = validator_for(doc, "/components/schemas/Scan")
    validator.validate(body)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**body, "endpoints": []})
