"""The OpenAPI 3.1 document for the JSON API (served at /api/openapi.json).

Objects are closed (``additionalProperties: false``) and list every field as
required, so a field added to or dropped from a response without updating this
document fails the test that validates real responses against it
(tests/test_openapi.py). The report parts mirror ``engine/report.py``'s JSON
and the diff mirrors ``engine/diff.py``'s ``diff_to_json``.
"""

from __future__ import annotations

from typing import Any

_STR: dict[str, Any] = {"type": "string"}
_NSTR: dict[str, Any] = {"type": ["string", "null"]}
_INT: dict[str, Any] = {"type": "integer"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_NTIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
_NNUM: dict[str, Any] = {"type": ["number", "null"]}
_STATUS: dict[str, Any] = {"enum": ["queued", "running", "done", "failed"]}
_VERDICT: dict[str, Any] = {"enum": ["ok", "warning", "broken"]}
_NVERDICT: dict[str, Any] = {"enum": ["ok", "warning", "broken", None]}
_NCHANGE: dict[str, Any] = {"enum": ["first", "same", "renewal", "material", None]}


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
    }
)

ENDPOINT_DIFF = _closed(
    {
        "key": _STR,
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
        "kind": {"enum": ["same", "renewal", "material"]},
        "summary": _STR,
        "from": _STR,
        "to": _STR,
        "introduced": _array(_STR),
        "resolved": _array(_STR),
        "endpoints": _array(_ref("EndpointDiff")),
    }
)

ERROR = _closed({"error": _closed({"code": _STR, "message": _STR})})

SCHEMAS: dict[str, dict[str, Any]] = {
    "Certificate": CERTIFICATE,
    "Finding": FINDING,
    "Client": CLIENT,
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
}


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(schema)}}}


def _ok(text: str, schema: str) -> dict[str, Any]:
    return {"description": text, **_json(schema)}


def _err(text: str) -> dict[str, Any]:
    return {"description": text, **_json("Error")}


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
