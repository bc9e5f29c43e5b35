"""The Server header, read with one HEAD / over the scan's own TLS connection."""

from __future__ import annotations

import time

import pytest

from scans.engine.network import OpenSSLProber, ProbeLimits, parse_server_header
from tests.tlsserver import TLSServer


def test_the_probe_reads_the_server_header_after_the_handshake() -> None:
    with TLSServer(http_server="Microsoft-IIS/10.0") as server:
        result = OpenSSLProber().probe(server.address, server.port, "localhost", ProbeLimits())
    assert result.error is None and result.chain
    assert result.server == "Microsoft-IIS/10.0"


def test_detection_off_sends_no_request_and_names_no_server() -> None:
    with TLSServer(http_server="nginx") as server:
        limits = ProbeLimits(detect_server=False)
        result = OpenSSLProber().probe(server.address, server.port, "localhost", limits)
    assert result.chain and result.server is None


def test_a_server_without_the_header_is_not_named() -> None:
    with TLSServer() as server:
        started = time.monotonic()
        result = OpenSSLProber().probe(server.address, server.port, "localhost", ProbeLimits())
    assert result.chain and result.server is None
    assert time.monotonic() - started < 2  # it answered: no waiting for the timeout


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n", "nginx"),
        (
            b"HTTP/1.0 301 Moved\r\nSERVER:  Apache/2.4.7 (Ubuntu) \r\n\r\nbody",
            "Apache/2.4.7 (Ubuntu)",
        ),
        (b"HTTP/1.1 200 OK\r\nServer: <b>\x00\x1b[31mevil\r\n\r\n", "<b>[31mevil"),
        (b"HTTP/1.1 200 OK\r\nServer: " + b"A" * 5000 + b"\r\n\r\n", "A" * 200),
        (b"SSH-2.0-OpenSSH_9.6\r\n", None),
        (b"", None),
        (b"HTTP/1.1 200 OK\r\nX-Server: nope\r\n\r\nServer: body\r\n", None),
    ],
)
def test_the_header_is_parsed_defensively(raw: bytes, expected: str | None) -> None:
    assert parse_server_header(raw) == expected
