"""The OpenAPI 3.1 document for the JSON API (served at /api/openapi.json).

Objects are closed (``additionalProperties: false``) and list every field as
required, so a field added to or dropped from a response without updating this
document fails the test that validates real responses against it
(tests/test_openapi.py). The report parts mirror ``engine/report.py``'s JSON
and the diff mirrors ``engine/diff.py``'s ``diff_to_json``.
"""

from __future__ import annotations

from typing import Any

from .engine.report import Role

_STR: dict[str, Any] = {"type": "string"}
_NSTR: dict[str, Any] = {"type": ["string", "null"]}
_INT: dict[str, Any] = {"type": "integer"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_NTIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
_NNUM: dict[str, Any] = {"type": ["number", "null"]}
_STATUS: dict[str, Any] = {"enum": ["queued", "running", "done", "failed"]}
_EXPECTED_ROLES = (Role.SERVED, Role.NOT_SERVED, Role.ANCHOR)
_SERVED_ROLES = tuple(r for r in Role if r not in _EXPECTED_ROLES)
_VERDICT: dict[str, Any] = {"enum": ["ok", "warning", "broken"]}
_NVERDICT: dict[str, Any] = {"enum": ["ok", "warning", "broken", None]}
# "material" and "rollback" are the material changes; "improvement" is a fix.
_CHANGES = ["same", "renewal", "improvement", "rollback", "material"]
_NCHANGE: dict[str, Any] = {
    "enum": ["first", *_CHANGES, None],
    "description": (
        "How this scan differs from the previous scan its requester's team ran: "
        "'material' and 'rollback' (an older leaf) are material changes, 'improvement' "
        "a fix, 'renewal' routine. Null (with change_summary) when the caller may not "
        "browse that previous scan."
    ),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _closed(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with exactly these properties, all required unless named in ``optional``."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [name for name in properties if name not in optional],
        "properties": properties,
    }


CERTIFICATE = _closed(
    {
        "sha256": _STR,
        "subject": _STR,
        "issuer": _STR,
        "common_name": _STR,
        "serial": _STR,
        "not_before": _NTIME,
        "not_after": _NTIME,
        "spki_sha256": _STR,
        "ski": _NSTR,
        "aki": _NSTR,
        "signature_algorithm": _STR,
        "signature_hash": _NSTR,
        "key_type": _STR,
        "key_size": _INT,
        "is_ca": _BOOL,
        "self_signed": _BOOL,
        "aia_issuers": _array(_STR),
        "san": _array(_STR),
        "parse_error": _NSTR,
        # SHA-1 of the DER: the thumbprint Windows tools show.
        "sha1": _STR,
        # Only with include_der (the CLI's --der); the API never sends DER.
        "der_base64": _STR,
    },
    optional=("der_base64",),
)

FINDING = _closed(
    {
        "code": _STR,
        "severity": {"enum": ["error", "warning", "info"]},
        "title": _STR,
        "detail": _STR,
        "fix": _STR,
        "certificates": _array(_STR),
        "clients": _array(_STR),
    }
)

CLIENT = _closed({"family": _STR, "name": _STR, "examples": _STR, "accepts": _BOOL, "reason": _STR})

# One platform: a root store at a date plus its chain-building behaviour.
PLATFORM = _closed(
    {
        "id": _STR,  # android-4.4, android-7.0, android-7.1.1, android-13, apple, mozilla, microsoft, openssl-1.0…
        "family": _STR,
        "name": _STR,
        "store": _STR,  # the snapshot used, e.g. "Mozilla 2021-10-01 (certifi 2021.05.30)"
        "accepts": _BOOL,
        "reason": _STR,
        "path": _array(_STR),  # SHA-256 of the path it builds, leaf first; [] when it rejects
    }
)

ENDPOINT = _closed(
    {
        "address": _STR,
        "port": _INT,
        "sni": _NSTR,
        "verdict": _VERDICT,
        "error": _NSTR,
        "tls_version": _NSTR,
        "cipher": _NSTR,
        "connect_ms": _NNUM,
        "handshake_ms": _NNUM,
        "served": _array(_ref("Certificate")),
        "expected": _array(_ref("Certificate")),
        "anchor": {"oneOf": [_ref("Certificate"), {"type": "null"}]},
        "anchor_source": _NSTR,
        "findings": _array(_ref("Finding")),
        "clients": _array(_ref("Client")),
        "valid_until": _NTIME,
        # One role per certificate of served / expected, same order (empty
        # for reports recorded before roles existed).
        "served_roles": _array({"enum": [r.value for r in _SERVED_ROLES]}),
        "expected_roles": _array({"enum": [r.value for r in _EXPECTED_ROLES]}),
        "platforms": _array(_ref("Platform")),
        "server": _NSTR,  # the HTTP Server header, when the server answered HEAD /
    }
)

# Fields of the engine's report (Report.to_json), present once a scan finished.
_REPORT_FIELDS: dict[str, Any] = {
    "schema": _INT,
    "verdict": _NVERDICT,
    "trust_store": _STR,
    "evaluated_at": _TIME,
    "valid_until": _NTIME,
    "error": _NSTR,
    "duration_ms": _NNUM,
    "findings": _array(_ref("Finding")),
    "endpoints": _array(_ref("Endpoint")),
    "change": _NCHANGE,
    "change_summary": _NSTR,
}
SCAN = {
    **_closed(
        {
            "token": _STR,
            "url": _STR,
            "status": _STATUS,
            "host": _STR,
            "port": _INT,
            "requested_at": _TIME,
            "finished_at": _NTIME,
            **_REPORT_FIELDS,
        },
        optional=tuple(_REPORT_FIELDS),
    ),
    "description": "A scan. Once its status is done or failed it carries the whole report, "
    "the same JSON as `chainscan scan --json`; `verdict` is null only when the scan was "
    "stopped before it produced a report.",
    "if": {"properties": {"status": {"enum": ["done", "failed"]}}},
    "then": {"required": list(_REPORT_FIELDS)},
    "else": {"not": {"anyOf": [{"required": [name]} for name in _REPORT_FIELDS]}},
}

SCAN_CREATED = _closed({"token": _STR, "url": _STR, "status": _STATUS})

HISTORY_ITEM = _closed(
    {
        "token": _STR,
        "url": _STR,
        "status": _STATUS,
        "verdict": _NVERDICT,
        "change": _NCHANGE,
        "change_summary": _NSTR,
        "changed": _array({"enum": ["served", "expected", "findings"]}),
        "diff": {
            **_NSTR,
            "description": "The diff with the scan before, for a renewal or a material change.",
        },
        "requested_at": _TIME,
        "finished_at": _NTIME,
        "error": _NSTR,
    }
)

HISTORY = _closed(
    {
        "host": _STR,
        "port": _INT,
        "count": _INT,
        "page": _INT,
        "pages": _INT,
        "next": _NSTR,
        "previous": _NSTR,
        "scans": _array(_ref("HistoryItem")),
    }
)

CERT_BRIEF = _closed({"sha256": _STR, "short_fingerprint": _STR, "subject": _STR, "label": _STR})

CHANGE = _closed(
    {
        "kind": {"enum": ["added", "removed", "moved", "replaced"]},
        "position": _INT,
        "from_position": {"type": ["integer", "null"]},
        "before": {"oneOf": [_ref("CertBrief"), {"type": "null"}]},
        "after": {"oneOf": [_ref("CertBrief"), {"type": "null"}]},
        "text": _STR,
        "routine": _BOOL,
        "rollback": _BOOL,
    }
)

ENDPOINT_DIFF = _closed(
    {
        "key": _STR,
        "addresses": _array(_STR),
        "addresses_before": _array(_STR),
        "worsened": _array(_closed({"code": _STR, "before": _STR, "after": _STR})),
        "status": {"enum": ["added", "removed", "changed", "same"]},
        "verdict_before": _NVERDICT,
        "verdict_after": _NVERDICT,
        "served": _array(_ref("Change")),
        "expected": _array(_ref("Change")),
        "introduced": _array(_STR),
        "resolved": _array(_STR),
    }
)

DIFF = _closed(
    {
        "kind": {"enum": _CHANGES},
        "material": _BOOL,
        "headline": _STR,
        "summary": _STR,
        "from": _STR,
        "to": _STR,
        "introduced": _array(_STR),
        "resolved": _array(_STR),
        "endpoints": _array(_ref("EndpointDiff")),
    }
)

ERROR = _closed({"error": _closed({"code": _STR, "message": _STR})})

# --- Watches (monitoring) ---------------------------------------------------------
_WATCH_STATE: dict[str, Any] = {"enum": ["ok", "warning", "broken", "failed", "pending"]}
_INTERVAL: dict[str, Any] = {
    "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}],
    "description": "Seconds, or a string such as 90m, 6h, 1d; at least "
    "CHAINSCAN_WATCH_MIN_INTERVAL (300 s by default). Default: CHAINSCAN_WATCH_DEFAULT_INTERVAL.",
}
_TAGS: dict[str, Any] = {
    "oneOf": [_array(_STR), _STR],
    "description": "Up to 10 tags of letters, digits and . _ : / - (a string: separated by ; "
    "or spaces).",
}
WATCH_LAST_SCAN = _closed(
    {
        "token": _STR,
        "url": _STR,
        "status": _STATUS,
        "verdict": _NVERDICT,
        "finished_at": _NTIME,
        "valid_until": {
            **_NTIME,
            "description": "Earliest expiry on the expected chain (and its root).",
        },
        "change": _NCHANGE,
    }
)
WATCH = {
    **_closed(
        {
            "id": _STR,
            "url": _STR,
            "host": _STR,
            "port": _INT,
            "ip": _array(_STR),
            "interval": _INT,
            "tags": _array(_STR),
            "paused": _BOOL,
            "next_run_at": _TIME,
            "last_scan": {"oneOf": [_ref("WatchLastScan"), {"type": "null"}]},
        }
    ),
    "description": "A host:port (and pinned addresses) rescanned on a schedule; "
    "`last_scan` is its newest finished scan.",
}
WATCH_LIST = _closed(
    {
        "count": _INT,
        "page": _INT,
        "pages": _INT,
        "next": _NSTR,
        "previous": _NSTR,
        "watches": _array(_ref("Watch")),
    }
)
WATCHES_CREATED = _closed({"watches": _array(_ref("Watch"))})
# --- Alerts: channels, incidents, and the webhook body ---------------------------------

_CHANNEL_KIND: dict[str, Any] = {"enum": ["email", "webhook", "slack", "teams", "discord", "ntfy"]}
_INCIDENT_KIND: dict[str, Any] = {"enum": ["breakage", "unreachable", "expiry", "change"]}
# What a channel's owner writes (POST; PATCH without the kind, plus "enabled").
_CHANNEL_FIELDS: dict[str, Any] = {
    "name": _STR,
    "url": {**_STR, "description": "all but email; ntfy: the topic URL"},
    "secret": {
        **_STR,
        "description": "webhook: the HMAC key (16+ characters); ntfy: an optional access token",
    },
    "to": {**_array(_STR), "description": "email only"},
    "remind_hours": {"type": "integer", "minimum": 0},
}
CHANNEL = _closed({"id": _STR, "kind": _CHANNEL_KIND, "name": _STR, "url": _STR, "enabled": _BOOL})
CHANNEL_LIST = _closed({"channels": _array(_ref("Channel"))})
CHANNEL_TEST = _closed({"id": _INT, "event": {"const": "test"}, "status": _STR})
INCIDENT = _closed(
    {
        "id": _INT,
        "kind": _INCIDENT_KIND,
        "key": _STR,
        "host": _STR,
        "port": _INT,
        "title": _STR,
        "summary": _STR,
        "opened_at": _TIME,
        "resolved_at": _NTIME,
        "opened_by": _STR,
        "resolved_by": _NSTR,
    }
)
INCIDENT_LIST = _closed({"incidents": _array(_ref("Incident"))})
WEBHOOK_EVENT = _closed(
    {
        "event": {
            "enum": [
                "incident.opened",
                "incident.resolved",
                "change.material",
                "change.renewal",
                "test",
            ]
        },
        "kind": {"enum": ["breakage", "unreachable", "expiry", "change", "test"]},
        "team": _STR,
        "verdict": {"enum": ["ok", "warning", "broken", "unreachable"]},
        "title": _STR,
        "summary": _STR,
        "targets": _array(
            _closed({"host": _STR, "port": _INT, "report_url": _STR, "diff_url": _NSTR})
        ),
        "certificate": {
            "oneOf": [
                _closed({"sha256": _STR, "subject": _STR, "not_after": _NTIME}),
                {"type": "null"},
            ]
        },
        "incident": {
            "oneOf": [
                _closed({"id": _INT, "opened_at": _TIME, "resolved_at": _NTIME}),
                {"type": "null"},
            ],
            "description": "null for test messages and for grouped messages (one "
            "certificate's incidents on several hosts: one target each)",
        },
        "sent_at": _TIME,
    }
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "Certificate": CERTIFICATE,
    "Finding": FINDING,
    "Client": CLIENT,
    "Platform": PLATFORM,
    "Endpoint": ENDPOINT,
    "Scan": SCAN,
    "ScanCreated": SCAN_CREATED,
    "HistoryItem": HISTORY_ITEM,
    "History": HISTORY,
    "CertBrief": CERT_BRIEF,
    "Change": CHANGE,
    "EndpointDiff": ENDPOINT_DIFF,
    "Diff": DIFF,
    "Error": ERROR,
    "Pruned": _closed({"error": ERROR["properties"]["error"], "host": _STR, "history": _STR}),
    "WatchLastScan": WATCH_LAST_SCAN,
    "Watch": WATCH,
    "WatchList": WATCH_LIST,
    "WatchesCreated": WATCHES_CREATED,
    "Channel": CHANNEL,
    "ChannelList": CHANNEL_LIST,
    "ChannelTest": CHANNEL_TEST,
    "Incident": INCIDENT,
    "IncidentList": INCIDENT_LIST,
    "WebhookEvent": WEBHOOK_EVENT,
}


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(schema)}}}


def _ok(text: str, schema: str) -> dict[str, Any]:
    return {"description": text, **_json(schema)}


def _err(text: str) -> dict[str, Any]:
    return {"description": text, **_json("Error")}


def _delete(summary: str, parameter: dict[str, Any], not_found: dict[str, Any]) -> dict[str, Any]:
    """DELETE of one item by id: 204, or 401 / 404."""
    return {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": [parameter],
        "responses": {
            "204": {"description": "Deleted"},
            "401": _UNAUTHORISED,
            "404": not_found,
        },
    }


_CHANNEL_ID = {"name": "id", "in": "path", "required": True, "schema": _STR}
_NO_CHANNEL = _err("Unknown channel (or another team's)")
_UNAUTHORISED = _err(
    "No API token (or session), or a token that is not valid (bad-token) or has expired "
    "(token-expired)"
)
_TOKEN = {"name": "token", "in": "path", "required": True, "schema": _STR}


def document(server: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chainscan API",
            "version": "1",
            "description": (
                "Scan TLS certificate chains, read reports, history and diffs. Every error "
                'is `{"error": {"code", "message"}}`; an unknown token or host is a 404 '
                "that does not say whether anything exists."
            ),
        },
        "servers": [{"url": server.rstrip("/")}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/scans": {
                "post": {
                    "summary": "Request a scan",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["host"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "host": _STR,
                                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                                        "ip": {"oneOf": [_STR, _array(_STR)]},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _ok(
                            "Queued (or the same host already queued by you: that scan)",
                            "ScanCreated",
                        ),
                        "400": _err("Invalid input"),
                        "401": _UNAUTHORISED,
                        "403": _err("A read-only API token (read-only-token)"),
                        "413": _err("The body is too large"),
                        "429": _err(
                            "Rate limited (rate-limited), or the team has too many scans unfinished (team-busy)"
                        ),
                    },
                }
            },
            "/api/scans/{token}": {
                "get": {
                    "summary": "A scan's status and, once finished, its report",
                    "parameters": [_TOKEN],
                    "responses": {
                        "200": _ok("The scan", "Scan"),
                        "401": _UNAUTHORISED,
                        "404": _err("Unknown token"),
                        "410": {
                            "description": "A routine rescan pruned by "
                            "CHAINSCAN_KEEP_UNCHANGED_DAYS; `history` is the host's scans",
                            **_json("Pruned"),
                        },
                    },
                }
            },
            "/api/scans/{token}/diff/{other}": {
                "get": {
                    "summary": "What changed between two scans of one host",
                    "parameters": [
                        _TOKEN,
                        {"name": "other", "in": "path", "required": True, "schema": _STR},
                    ],
                    "responses": {
                        "200": _ok("The diff, from the older scan to the newer one", "Diff"),
                        "400": _err("The scans are of different hosts"),
                        "401": _UNAUTHORISED,
                        "404": _err("Unknown token"),
                        "409": _err("A scan has no report yet"),
                    },
                }
            },
            "/api/hosts/{host}/scans": {
                "get": {
                    "summary": "A host's scans, newest first, paginated",
                    "parameters": [
                        {
                            "name": "host",
                            "in": "path",
                            "required": True,
                            "schema": _STR,
                            "description": "host, host:port or [IPv6]:port",
                        },
                        {
                            "name": "page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1},
                        },
                    ],
                    "responses": {
                        "200": _ok("One page of history", "History"),
                        "400": _err("'page' is not a page number"),
                        "401": _UNAUTHORISED,
                        "404": _err("Unknown host, or a page past the end"),
                    },
                }
            },
            **_watch_paths(),
            "/api/channels": {
                "get": {
                    "summary": "Your team's notification channels (URLs and secrets masked)",
                    "responses": {
                        "200": _ok("The channels", "ChannelList"),
                        "401": _UNAUTHORISED,
                    },
                },
                "post": {
                    "summary": "Add a notification channel for your team",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["kind", "name"],
                                    "additionalProperties": False,
                                    "properties": {"kind": _CHANNEL_KIND, **_CHANNEL_FIELDS},
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _ok("Created; the URL is shown masked from now on", "Channel"),
                        "400": _err("Invalid input"),
                        "401": _UNAUTHORISED,
                        "413": _err("The body is too large"),
                    },
                },
            },
            "/api/channels/{id}": {
                "get": {
                    "summary": "One channel of your team (URL masked)",
                    "parameters": [_CHANNEL_ID],
                    "responses": {
                        "200": _ok("The channel", "Channel"),
                        "401": _UNAUTHORISED,
                        "404": _NO_CHANNEL,
                    },
                },
                "patch": {
                    "summary": "Change a channel: absent fields, and an empty URL or secret, "
                    "keep their value; a new URL, secret or address list turns a disabled "
                    "channel on again",
                    "security": [{"bearer": []}],
                    "parameters": [_CHANNEL_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {**_CHANNEL_FIELDS, "enabled": _BOOL},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _ok("The changed channel", "Channel"),
                        "400": _err("Invalid input"),
                        "401": _UNAUTHORISED,
                        "404": _NO_CHANNEL,
                        "413": _err("The body is too large"),
                    },
                },
                "delete": _delete("Delete a channel and its log", _CHANNEL_ID, _NO_CHANNEL),
            },
            "/api/channels/{id}/test": {
                "post": {
                    "summary": "Queue a test message on a channel",
                    "security": [{"bearer": []}],
                    "parameters": [_CHANNEL_ID],
                    "responses": {
                        "202": _ok("Queued; the channel's log shows the outcome", "ChannelTest"),
                        "401": _UNAUTHORISED,
                        "404": _NO_CHANNEL,
                    },
                }
            },
            "/api/incidents": {
                "get": {
                    "summary": "Your team's incidents, newest first (at most 500)",
                    "parameters": [
                        {"name": "open", "in": "query", "schema": {"enum": ["true", "false"]}}
                    ],
                    "responses": {
                        "200": _ok("The incidents", "IncidentList"),
                        "400": _err("'open' is not true or false"),
                        "401": _UNAUTHORISED,
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "webhooks": {
            "chainscan-event": {
                "post": {
                    "summary": "What a webhook channel receives",
                    "description": (
                        "Headers: `X-Chainscan-Timestamp: <unix seconds>` and "
                        "`X-Chainscan-Signature: sha256=<hex HMAC-SHA256 of "
                        '"<timestamp>.<body>" keyed with the channel\'s secret>`. '
                        "Answer 2xx; timeouts, 429 and 5xx are retried with backoff, "
                        "other answers are not."
                    ),
                    "parameters": [
                        {
                            "name": "X-Chainscan-Timestamp",
                            "in": "header",
                            "required": True,
                            "schema": _STR,
                        },
                        {
                            "name": "X-Chainscan-Signature",
                            "in": "header",
                            "required": True,
                            "schema": _STR,
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("WebhookEvent")}},
                    },
                    "responses": {"200": {"description": "Received"}},
                }
            }
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A per-user token from the admin or `manage.py api_token`.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "sessionid",
                    "description": "A signed-in browser session; reads only.",
                },
            },
            "schemas": SCHEMAS,
        },
    }


_WATCH_ID = {"name": "id", "in": "path", "required": True, "schema": _STR}
_NO_WATCH = _err("No such watch (or not your team's)")


def _watch_paths() -> dict[str, Any]:
    """/api/watches: the monitoring API (scans/api_watches.py)."""
    target = {"host": _STR, "port": {"type": "integer", "minimum": 1, "maximum": 65535}}
    single = {
        "type": "object",
        "required": ["host"],
        "additionalProperties": False,
        "properties": {
            **target,
            "ip": {"oneOf": [_STR, _array(_STR)]},
            **{"interval": _INTERVAL, "tags": _TAGS, "note": _STR},
        },
    }
    many = {
        "type": "object",
        "required": ["targets"],
        "additionalProperties": False,
        "properties": {
            "targets": {**_array(_STR), "minItems": 1, "maxItems": 1000},
            "interval": _INTERVAL,
            "tags": _TAGS,
        },
    }
    patch = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"interval": _INTERVAL, "tags": _TAGS, "note": _STR, "paused": _BOOL},
    }

    def body(schema: dict[str, Any]) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    return {
        "/api/watches": {
            "get": {
                "summary": "The team's watches, most urgent first, paginated",
                "parameters": [
                    {"name": "verdict", "in": "query", "schema": _WATCH_STATE},
                    {"name": "tag", "in": "query", "schema": _STR},
                    {
                        "name": "expiring_within",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 36500},
                        "description": "Days: only watches whose expected chain expires sooner.",
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                ],
                "responses": {
                    "200": _ok("One page of watches", "WatchList"),
                    "400": _err("A filter or the page is not valid"),
                    "401": _UNAUTHORISED,
                    "404": _err("A page past the end"),
                },
            },
            "post": {
                "summary": "Watch a host (or up to 1,000 with `targets`); its first scan starts now",
                "security": [{"bearer": []}],
                "requestBody": body({"oneOf": [single, many]}),
                "responses": {
                    "200": _ok("The team already watches this host, port and pins", "Watch"),
                    "201": {
                        "description": "Created (with `targets`: every watch, new or existing)",
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [_ref("Watch"), _ref("WatchesCreated")]}
                            }
                        },
                    },
                    "400": _err("Invalid input; nothing was created"),
                    "401": _UNAUTHORISED,
                    "413": _err("The body is too large"),
                },
            },
        },
        "/api/watches/{id}": {
            "get": {
                "summary": "One watch",
                "parameters": [_WATCH_ID],
                "responses": {
                    "200": _ok("The watch", "Watch"),
                    "401": _UNAUTHORISED,
                    "404": _NO_WATCH,
                },
            },
            "patch": {
                "summary": "Change interval, tags, note or paused",
                "security": [{"bearer": []}],
                "parameters": [_WATCH_ID],
                "requestBody": body(patch),
                "responses": {
                    "200": _ok("The changed watch", "Watch"),
                    "400": _err("Invalid input"),
                    "401": _UNAUTHORISED,
                    "404": _NO_WATCH,
                },
            },
            "delete": _delete(
                "Stop watching (the scans stay in the host's history)", _WATCH_ID, _NO_WATCH
            ),
        },
        "/api/watches/{id}/scan": {
            "post": {
                "summary": "Scan now (a scan of this watch still queued or running is returned)",
                "security": [{"bearer": []}],
                "parameters": [_WATCH_ID],
                "responses": {
                    "202": _ok("Queued", "ScanCreated"),
                    "401": _UNAUTHORISED,
                    "404": _NO_WATCH,
                },
            }
        },
    }
