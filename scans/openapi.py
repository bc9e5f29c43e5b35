"""The OpenAPI 3.1 document for the JSON API (served at /api/openapi.json).

A test validates real responses against these schemas, so the document cannot
drift from the code unnoticed.
"""

from __future__ import annotations

from typing import Any

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_NUM = {"type": ["number", "null"]}

CERTIFICATE = {
    "type": "object",
    "required": [
        "sha256",
        "subject",
        "issuer",
        "serial",
        "not_before",
        "not_after",
        "spki_sha256",
        "ski",
        "aki",
    ],
    "properties": {
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
        "key_size": {"type": "integer"},
        "is_ca": {"type": "boolean"},
        "self_signed": {"type": "boolean"},
        "aia_issuers": {"type": "array", "items": _STR},
        "san": {"type": "array", "items": _STR},
        "parse_error": _NSTR,
    },
}

FINDING = {
    "type": "object",
    "required": ["code", "severity", "title", "detail", "fix", "certificates"],
    "properties": {
        "code": _STR,
        "severity": {"enum": ["error", "warning", "info"]},
        "title": _STR,
        "detail": _STR,
        "fix": _STR,
        "certificates": {"type": "array", "items": _STR},
        "clients": {"type": "array", "items": _STR},
    },
}

CLIENT = {
    "type": "object",
    "required": ["family", "name", "accepts", "reason"],
    "properties": {
        "family": _STR,
        "name": _STR,
        "examples": _STR,
        "accepts": {"type": "boolean"},
        "reason": _STR,
    },
}

ENDPOINT = {
    "type": "object",
    "required": [
        "address",
        "sni",
        "served",
        "expected",
        "findings",
        "clients",
        "valid_until",
        "verdict",
    ],
    "properties": {
        "address": _STR,
        "port": {"type": "integer"},
        "sni": _NSTR,
        "verdict": {"enum": ["ok", "warning", "broken"]},
        "error": _NSTR,
        "tls_version": _NSTR,
        "cipher": _NSTR,
        "connect_ms": _NUM,
        "handshake_ms": _NUM,
        "served": {"type": "array", "items": {"$ref": "#/components/schemas/Certificate"}},
        "expected": {"type": "array", "items": {"$ref": "#/components/schemas/Certificate"}},
        "anchor": {"oneOf": [{"$ref": "#/components/schemas/Certificate"}, {"type": "null"}]},
        "anchor_source": _NSTR,
        "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}},
        "clients": {"type": "array", "items": {"$ref": "#/components/schemas/Client"}},
        "valid_until": _NTIME,
    },
}

SCAN = {
    "type": "object",
    "required": ["token", "status", "host", "port", "url"],
    "properties": {
        "token": _STR,
        "url": _STR,
        "status": {"enum": ["queued", "running", "done", "failed"]},
        "host": _STR,
        "port": {"type": "integer"},
        "requested_at": _TIME,
        "finished_at": _NTIME,
        "verdict": {"enum": ["ok", "warning", "broken"]},
        "trust_store": _STR,
        "evaluated_at": _TIME,
        "valid_until": _NTIME,
        "error": _NSTR,
        "duration_ms": _NUM,
        "change": _NSTR,
        "schema": {"type": "integer"},
        "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}},
        "endpoints": {"type": "array", "items": {"$ref": "#/components/schemas/Endpoint"}},
    },
}

HISTORY = {
    "type": "object",
    "required": ["host", "port", "count", "page", "pages", "scans"],
    "properties": {
        "host": _STR,
        "port": {"type": "integer"},
        "count": {"type": "integer"},
        "page": {"type": "integer"},
        "pages": {"type": "integer"},
        "next": _NSTR,
        "previous": _NSTR,
        "scans": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["token", "url", "status", "requested_at"],
                "properties": {
                    "token": _STR,
                    "url": _STR,
                    "status": {"enum": ["queued", "running", "done", "failed"]},
                    "verdict": {"type": ["string", "null"]},
                    "change": {"type": ["string", "null"]},
                    "change_summary": _NSTR,
                    "requested_at": _TIME,
                    "finished_at": _NTIME,
                    "error": _NSTR,
                },
            },
        },
    },
}

CERT_BRIEF = {
    "oneOf": [
        {
            "type": "object",
            "required": ["sha256", "subject", "label"],
            "properties": {"sha256": _STR, "subject": _STR, "label": _STR},
        },
        {"type": "null"},
    ]
}
CHANGE = {
    "type": "object",
    "required": ["kind", "position", "before", "after", "text"],
    "properties": {
        "kind": {"enum": ["added", "removed", "moved", "replaced"]},
        "position": {"type": "integer"},
        "before": CERT_BRIEF,
        "after": CERT_BRIEF,
        "text": _STR,
        "routine": {"type": "boolean"},
    },
}
DIFF = {
    "type": "object",
    "required": ["kind", "summary", "endpoints", "from", "to"],
    "properties": {
        "kind": {"enum": ["same", "renewal", "material"]},
        "summary": _STR,
        "from": _STR,
        "to": _STR,
        "introduced": {"type": "array", "items": _STR},
        "resolved": {"type": "array", "items": _STR},
        "endpoints": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "status", "served", "expected"],
                "properties": {
                    "key": _STR,
                    "status": {"enum": ["added", "removed", "changed", "same"]},
                    "verdict_before": _NSTR,
                    "verdict_after": _NSTR,
                    "served": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                    "expected": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                    "introduced": {"type": "array", "items": _STR},
                    "resolved": {"type": "array", "items": _STR},
                },
            },
        },
    },
}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": _STR, "message": _STR},
        }
    },
}


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _err(text: str) -> dict[str, Any]:
    return {"description": text, **_json("Error")}


def document(server: str) -> dict[str, Any]:
    token_param = {"name": "token", "in": "path", "required": True, "schema": _STR}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chainscan API",
            "version": "1",
            "description": "Scan TLS certificate chains, read reports, history and diffs.",
        },
        "servers": [{"url": server.rstrip("/")}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/scans": {
                "post": {
                    "summary": "Request a scan",
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
                                        "ip": {"oneOf": [_STR, {"type": "array", "items": _STR}]},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Queued (or the same host already queued: that scan)",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["token", "url", "status"],
                                        "properties": {"token": _STR, "url": _STR, "status": _STR},
                                    }
                                }
                            },
                        },
                        "400": _err("Invalid input"),
                        "401": _err("No or bad API token"),
                        "429": _err("Rate limited"),
                    },
                }
            },
            "/api/scans/{token}": {
                "get": {
                    "summary": "A scan's status and, once finished, its report",
                    "parameters": [token_param],
                    "responses": {
                        "200": {"description": "The scan", **_json("Scan")},
                        "404": _err("Unknown token"),
                    },
                }
            },
            "/api/scans/{token}/diff/{other}": {
                "get": {
                    "summary": "What changed between two scans of one host",
                    "parameters": [
                        token_param,
                        {"name": "other", "in": "path", "required": True, "schema": _STR},
                    ],
                    "responses": {
                        "200": {"description": "The diff", **_json("Diff")},
                        "400": _err("Different hosts"),
                        "404": _err("Unknown token"),
                        "409": _err("A scan is not finished"),
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
                            "description": "host or host:port",
                        },
                        {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": {
                        "200": {"description": "One page of history", **_json("History")},
                        "401": _err("Login required"),
                        "404": _err("Unknown host or page"),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Certificate": CERTIFICATE,
                "Finding": FINDING,
                "Client": CLIENT,
                "Endpoint": ENDPOINT,
                "Scan": SCAN,
                "History": HISTORY,
                "Change": CHANGE,
                "Diff": DIFF,
                "Error": ERROR,
            },
        },
    }
