"""The AIA issuer fetcher against a real HTTP server on loopback.

The server misbehaves the ways issuer URLs in the wild (or in a hostile
certificate) do: wrong content, stalls, trickles, endless bodies, redirect
loops, redirects to cloud metadata. A guard on ``socket.connect`` fails any
test that would reach beyond loopback, so a policy refusal is proven to happen
before connecting, and no test ever sends a packet to a real network.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from scans.engine.aia import DictIssuerFetcher, HttpIssuerFetcher
from scans.engine.errors import FetchError
from scans.engine.network import StaticResolver
from scans.engine.policy import AddressPolicy

LOOPBACK = AddressPolicy(allowed_networks=("127.0.0.0/8", "::1/128"))
SECRET = b"SECRET-INTERNAL-BANNER"
OPEN = AddressPolicy(allow_private=True)
HTML = b"<!doctype html><title>Moved</title><p>Our certificates moved to the new portal.</p>"
# Whitespace bytes as bytes.strip() knows them.
WHITESPACE = b" \t\n\r\x0b\x0c"


def AnyPort(*args: Any, **kwargs: Any) -> HttpIssuerFetcher:
    """The fetcher with its port rule lifted: the test server listens on a random port."""
    kwargs.setdefault("allowed_ports", None)
    return HttpIssuerFetcher(*args, **kwargs)


# --- certificates ---------------------------------------------------------------------------


def _self_signed(name: str, serial: int = 1) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


class Certs:
    def __init__(self) -> None:
        self.ca = _self_signed("Test Issuing CA")
        self.root = _self_signed("Test Root CA")
        self.der = _der(self.ca)
        self.pem = self.ca.public_bytes(serialization.Encoding.PEM)
        self.p7c = pkcs7.serialize_certificates([self.ca, self.root], serialization.Encoding.DER)
        # A DER certificate whose last byte is a whitespace byte (about 1 in 40
        # signatures): naive whitespace stripping would cut it.
        serial = 2
        while True:
            cert = _self_signed("Test CA ending in whitespace", serial)
            if _der(cert)[-1:] in [bytes([b]) for b in WHITESPACE]:
                self.der_ending_in_whitespace = _der(cert)
                break
            serial += 1


@pytest.fixture(scope="module")
def certs() -> Certs:
    return Certs()


# --- the server -----------------------------------------------------------------------------


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, certs: Certs) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.certs = certs
        self.seen: list[tuple[str, str | None]] = []
        self.stop = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _host in self.seen]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host")))
        self.close_connection = True
        route = ROUTES.get(self.path.split("?", 1)[0])
        if route is None:
            self.answer(404, b"not here", "text/plain")
            return
        try:
            route(self)
        except OSError:
            pass  # the client hung up, as it should on hostile answers

    def answer(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str, status: int = 302) -> None:
        self.answer(status, b"", "text/plain", Location=location)

    def head_only(self, length: int | None, content_type: str = "application/pkix-cert") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.flush()


def _stall(h: Handler) -> None:
    h.head_only(1000)
    h.server.stop.wait(10)


def _trickle(h: Handler) -> None:
    h.head_only(1000)
    for _ in range(1000):
        if h.server.stop.wait(0.2):
            return
        h.wfile.write(b"0")
        h.wfile.flush()


def _endless(h: Handler) -> None:
    # Streams "forever" (bounded so a broken client cannot keep a thread
    # busy): the body is produced lazily, 16 KiB at a time.
    h.head_only(None, "application/octet-stream")
    block = b"\x30" * 16384
    for _ in range(64 * 1024):  # 1 GiB at most
        if h.server.stop.is_set():
            return
        h.wfile.write(block)


def _endless_chunked(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/octet-stream")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"4000\r\n" + b"\x30" * 16384 + b"\r\n"
    for _ in range(64 * 1024):
        if h.server.stop.is_set():
            return
        h.wfile.write(chunk)


def _chunked_der(h: Handler) -> None:
    der = h.server.certs.der
    h.send_response(200)
    h.send_header("Content-Type", "application/pkix-cert")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    for start in range(0, len(der), 100):
        piece = der[start : start + 100]
        h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    h.wfile.write(b"0\r\n\r\n")


def _huge_length(h: Handler) -> None:
    h.head_only(1024**3)
    h.wfile.write(b"\x30" * 1024)


def _truncated(h: Handler) -> None:
    h.head_only(2000)
    h.wfile.write(h.server.certs.der[:100])


def _not_http(h: Handler) -> None:
    h.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")


def _slow_der(h: Handler) -> None:
    time.sleep(0.3)
    h.answer(200, h.server.certs.der, "application/pkix-cert")


ROUTES: dict[str, Callable[[Handler], None]] = {
    "/der": lambda h: h.answer(200, h.server.certs.der, "application/pkix-cert"),
    "/pem": lambda h: h.answer(200, h.server.certs.pem, "application/x-pem-file"),
    "/p7c": lambda h: h.answer(200, h.server.certs.p7c, "application/pkcs7-mime"),
    "/ws": lambda h: h.answer(
        200, h.server.certs.der_ending_in_whitespace, "application/pkix-cert"
    ),
    "/chunked": _chunked_der,
    "/html": lambda h: h.answer(200, HTML, "text/html; charset=utf-8"),
    "/empty": lambda h: h.answer(200, b"", "application/pkix-cert"),
    "/bad-pem": lambda h: h.answer(
        200, b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "text/plain"
    ),
    "/gone": lambda h: h.answer(410, b"gone", "text/plain"),
    "/secret-page": lambda h: h.answer(200, SECRET + b" admin console", "text/x-secret"),
    "/secret-error": lambda h: h.answer(500, SECRET + b" stack trace", "text/x-secret"),
    "/secret-banner": lambda h: h.wfile.write(SECRET + b" ready\r\n"),
    "/to-port-9999": lambda h: h.redirect("http://127.0.0.1:9999/der"),
    "/stall": _stall,
    "/trickle": _trickle,
    "/endless": _endless,
    "/endless-chunked": _endless_chunked,
    "/huge-length": _huge_length,
    "/truncated": _truncated,
    "/not-http": _not_http,
    "/slow-der": _slow_der,
    "/redirect": lambda h: h.redirect("/der"),
    "/redirect-301": lambda h: h.redirect(h.server.url("/pem"), 301),
    "/redirect-named": lambda h: h.redirect(h.server.url("/der", host="ca.test")),
    "/loop": lambda h: h.redirect("/loop"),
    "/loop-a": lambda h: h.redirect("/loop-b"),
    "/loop-b": lambda h: h.redirect("/loop-a"),
    "/hop/1": lambda h: h.redirect("/hop/2"),
    "/hop/2": lambda h: h.redirect("/hop/3"),
    "/hop/3": lambda h: h.redirect("/hop/4"),
    "/hop/4": lambda h: h.redirect("/hop/5"),
    "/hop/5": lambda h: h.redirect("/der"),
    "/no-location": lambda h: h.answer(302, b"", "text/plain"),
    "/to-metadata": lambda h: h.redirect("http://169.254.169.254/latest/meta-data/"),
    "/to-internal": lambda h: h.redirect("http://internal.test/ca.crt", 307),
    "/to-mapped-loopback": lambda h: h.redirect(f"http://[::ffff:127.0.0.1]:{h.server.port}/der"),
    "/to-ftp": lambda h: h.redirect("ftp://127.0.0.1/ca.crt"),
    "/to-file": lambda h: h.redirect("file:///etc/passwd"),
    "/to-https": lambda h: h.redirect(h.server.url("/der").replace("http:", "https:"), 308),
}


@pytest.fixture
def server(certs: Certs) -> Iterator[Server]:
    httpd = Server(certs)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


# --- the network guard ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every address the code under test connects to; anything beyond loopback fails the test.

    The check runs instead of the real connect, so a wrong address is never
    even tried.
    """
    seen: list[tuple[str, int]] = []
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> None:
        host, port = address[0], address[1]
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"the code under test tried to connect to {host}:{port}")
        seen.append((host, port))
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return seen


class CountingResolver(StaticResolver):
    def __init__(self, table: dict[str, list[str]]) -> None:
        super().__init__(table)
        self.calls: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return super().resolve(host, port)


def _refusal(fetcher: HttpIssuerFetcher, url: str) -> str:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    return str(caught.value)


# --- what a good server gives ---------------------------------------------------------------


def test_it_fetches_a_der_certificate(server: Server, certs: Certs) -> None:
    assert AnyPort(OPEN).fetch(server.url("/der")) == [certs.der]


def test_it_fetches_a_pem_certificate(server: Server, certs: Certs) -> None:
    assert AnyPort(OPEN).fetch(server.url("/pem")) == [certs.der]


def test_it_fetches_every_certificate_of_a_pkcs7_bundle(server: Server, certs: Certs) -> None:
    fetched = AnyPort(OPEN).fetch(server.url("/p7c"))

    assert sorted(fetched) == sorted([certs.der, _der(certs.root)])


def test_it_reads_a_chunked_response(server: Server, certs: Certs) -> None:
    assert AnyPort(OPEN).fetch(server.url("/chunked")) == [certs.der]


def test_it_keeps_a_der_certificate_whose_last_byte_looks_like_whitespace(
    server: Server, certs: Certs
) -> None:
    fetched = AnyPort(OPEN).fetch(server.url("/ws"))

    assert fetched == [certs.der_ending_in_whitespace]


def test_it_connects_to_the_checked_address_and_sends_the_original_host_name(
    server: Server, certs: Certs, connects: list[tuple[str, int]]
) -> None:
    resolver = CountingResolver({"ca.test": ["127.0.0.1"]})
    fetcher = AnyPort(LOOPBACK, resolver)

    assert fetcher.fetch(f"http://ca.test:{server.port}/der") == [certs.der]
    assert resolver.calls == ["ca.test"]  # one lookup: nothing to rebind
    assert connects == [("127.0.0.1", server.port)]
    assert server.seen == [("/der", f"ca.test:{server.port}")]


def test_it_sends_the_path_and_query_of_the_url(server: Server) -> None:
    AnyPort(OPEN).fetch(server.url("/der?serial=1"))

    assert server.paths() == ["/der?serial=1"]


# --- what a bad server gets -----------------------------------------------------------------


def test_it_reports_an_http_error_status(server: Server) -> None:
    url = server.url("/gone")

    message = _refusal(AnyPort(OPEN), url)

    # The status is what the server chose to answer: not echoed, like its body.
    assert (
        message
        == f"The issuer URL {url} did not return a certificate: not a certificate (4 bytes)."
    )


def test_it_says_what_came_instead_of_a_certificate(server: Server) -> None:
    url = server.url("/html")

    message = _refusal(AnyPort(OPEN), url)

    assert message == (
        f"The issuer URL {url} did not return a certificate: not a certificate ({len(HTML)} bytes)."
    )


@pytest.mark.parametrize("path", ["/empty", "/bad-pem"])
def test_it_refuses_a_body_with_no_readable_certificate(server: Server, path: str) -> None:
    message = _refusal(AnyPort(OPEN), server.url(path))

    assert "did not return a certificate" in message


def test_it_gives_up_on_a_server_that_stalls_after_the_headers(server: Server) -> None:
    started = time.monotonic()

    message = _refusal(AnyPort(OPEN, timeout=1.0), server.url("/stall"))

    assert time.monotonic() - started < 2.0
    assert message == (
        f"The issuer URL {server.url('/stall')} did not send its whole answer within 1 s."
    )


def test_it_gives_up_on_a_server_that_trickles_bytes(server: Server) -> None:
    # Each byte arrives well within any per-read timeout; only a deadline
    # for the whole fetch ends this.
    started = time.monotonic()

    message = _refusal(AnyPort(OPEN, timeout=1.0), server.url("/trickle"))

    assert time.monotonic() - started < 2.0
    assert "did not send its whole answer within 1 s" in message


@pytest.mark.parametrize("path", ["/endless", "/endless-chunked"])
def test_it_stops_reading_a_response_that_never_ends(server: Server, path: str) -> None:
    started = time.monotonic()

    message = _refusal(AnyPort(OPEN), server.url(path))

    assert time.monotonic() - started < 6.0
    assert message == (
        f"The issuer URL {server.url(path)} returned a response larger than 64 KiB; an issuer "
        "certificate is a few KiB, so chainscan stopped reading."
    )


def test_it_refuses_a_huge_content_length_before_reading_the_body(server: Server) -> None:
    message = _refusal(AnyPort(OPEN), server.url("/huge-length"))

    assert f"announced a response of {1024**3} bytes, larger than 64 KiB" in message


def test_it_honours_a_smaller_size_cap(server: Server) -> None:
    message = _refusal(AnyPort(OPEN, max_bytes=100), server.url("/chunked"))

    assert "larger than 100 bytes" in message


def test_it_reports_a_response_cut_short(server: Server) -> None:
    message = _refusal(AnyPort(OPEN), server.url("/truncated"))

    assert "closed the connection before sending the whole response" in message


def test_it_reports_a_server_that_does_not_speak_http(server: Server) -> None:
    message = _refusal(AnyPort(OPEN), server.url("/not-http"))

    assert "did not return a certificate: not a certificate (21 bytes, not HTTP)" in message
    assert "SSH" not in message


@pytest.mark.parametrize("path", ["/secret-page", "/secret-error", "/secret-banner"])
def test_nothing_a_non_certificate_answer_held_is_echoed(server: Server, path: str) -> None:
    message = _refusal(AnyPort(OPEN), server.url(path))

    assert "not a certificate (" in message
    for leaked in ("SECRET", "admin", "stack", "ready", "x-secret", "500"):
        assert leaked not in message


# --- the ports issuer URLs may use ---------------------------------------------------------


def test_issuer_urls_use_ports_80_and_8080_unless_the_operator_allows_others(
    server: Server, connects: list[tuple[str, int]]
) -> None:
    url = server.url("/der")

    message = _refusal(HttpIssuerFetcher(OPEN), url)

    assert message == (
        f"The issuer URL {url} points at port {server.port}; chainscan fetches issuer "
        "certificates from ports 80 and 8080 only (the operator can allow others with "
        "CHAINSCAN_AIA_ALLOWED_PORTS)."
    )
    assert connects == []


def test_an_allowed_port_is_fetched(server: Server, certs: Certs) -> None:
    fetcher = HttpIssuerFetcher(OPEN, allowed_ports=frozenset({80, 8080, server.port}))

    assert fetcher.fetch(server.url("/der")) == [certs.der]


def test_a_redirect_to_a_port_that_is_not_allowed_is_refused(
    server: Server, connects: list[tuple[str, int]]
) -> None:
    fetcher = HttpIssuerFetcher(OPEN, allowed_ports=frozenset({80, 8080, server.port}))

    message = _refusal(fetcher, server.url("/to-port-9999"))

    assert "http://127.0.0.1:9999/der (reached by following redirects" in message
    assert "points at port 9999" in message
    assert connects == [("127.0.0.1", server.port)]


def test_it_reports_a_refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the fetch: nothing listens

    message = _refusal(AnyPort(OPEN), f"http://127.0.0.1:{port}/ca.crt")

    assert f"127.0.0.1:{port} refused the connection" in message


def test_it_reports_a_name_that_does_not_exist(connects: list[tuple[str, int]]) -> None:
    fetcher = AnyPort(OPEN, StaticResolver({}))

    message = _refusal(fetcher, "http://nowhere.test/ca.crt")

    assert message == (
        "The issuer URL http://nowhere.test/ca.crt could not be fetched: nowhere.test does "
        "not exist in DNS (no A or AAAA record)."
    )
    assert connects == []


# --- redirects ------------------------------------------------------------------------------


def test_it_follows_a_redirect_to_another_path(server: Server, certs: Certs) -> None:
    assert AnyPort(OPEN).fetch(server.url("/redirect")) == [certs.der]
    assert server.paths() == ["/redirect", "/der"]


def test_it_follows_a_permanent_redirect_to_an_absolute_url(server: Server, certs: Certs) -> None:
    assert AnyPort(OPEN).fetch(server.url("/redirect-301")) == [certs.der]


def test_it_resolves_and_checks_the_name_a_redirect_points_at(server: Server, certs: Certs) -> None:
    resolver = CountingResolver({"ca.test": ["127.0.0.1"]})

    fetched = AnyPort(LOOPBACK, resolver).fetch(server.url("/redirect-named"))

    assert fetched == [certs.der]
    assert server.seen[-1] == ("/der", f"ca.test:{server.port}")


@pytest.mark.parametrize(
    ("path", "loop"),
    [("/loop", ["/loop", "/loop"]), ("/loop-a", ["/loop-a", "/loop-b", "/loop-a"])],
)
def test_it_reports_a_redirect_loop(server: Server, path: str, loop: list[str]) -> None:
    message = _refusal(AnyPort(OPEN, max_redirects=5), server.url(path))

    chain = " → ".join(server.url(p) for p in loop)
    assert message == f"The issuer URL {server.url(path)} redirects in a loop: {chain}."


def test_it_stops_after_too_many_redirects(server: Server) -> None:
    message = _refusal(AnyPort(OPEN, max_redirects=3), server.url("/hop/1"))

    assert "redirected more than 3 times" in message
    assert server.paths() == ["/hop/1", "/hop/2", "/hop/3", "/hop/4"]


def test_it_follows_as_many_redirects_as_allowed(server: Server, certs: Certs) -> None:
    assert AnyPort(OPEN, max_redirects=5).fetch(server.url("/hop/1")) == [certs.der]


def test_it_reports_a_redirect_that_says_not_where(server: Server) -> None:
    message = _refusal(AnyPort(OPEN), server.url("/no-location"))

    assert "answered HTTP 302 without saying where to go" in message


def test_it_refuses_a_redirect_to_cloud_metadata(
    server: Server, connects: list[tuple[str, int]]
) -> None:
    url = server.url("/to-metadata")

    message = _refusal(AnyPort(LOOPBACK), url)

    assert message.startswith(
        "The issuer URL http://169.254.169.254/latest/meta-data/ (reached by following "
        f"redirects from {url}) was not fetched: 169.254.169.254 is the cloud metadata service"
    )
    assert connects == [("127.0.0.1", server.port)]  # the first hop only


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/to-internal", "internal.test resolves to 10.0.0.1, and 10.0.0.1 is a private-network"),
        ("/to-mapped-loopback", "is a loopback address (embedded in the IPv6 address"),
        ("/to-ftp", "uses the ftp: scheme"),
        ("/to-file", "uses the file: scheme"),
        ("/to-https", "uses https"),
    ],
)
def test_it_refuses_a_redirect_it_would_refuse_as_a_url(
    server: Server, connects: list[tuple[str, int]], path: str, reason: str
) -> None:
    policy = AddressPolicy(allowed_networks=("127.0.0.0/8",))
    fetcher = AnyPort(policy, StaticResolver({"internal.test": ["10.0.0.1"]}))

    message = _refusal(fetcher, server.url(path))

    assert reason in message
    assert f"(reached by following redirects from {server.url(path)})" in message
    assert connects == [("127.0.0.1", server.port)]


# --- the address policy ---------------------------------------------------------------------


def test_it_refuses_loopback_under_the_default_policy_without_connecting(
    server: Server, connects: list[tuple[str, int]]
) -> None:
    url = server.url("/der")

    message = _refusal(AnyPort(AddressPolicy()), url)

    assert message.startswith(
        f"The issuer URL {url} was not fetched: 127.0.0.1 is a loopback address; chainscan "
        "does not connect to such addresses"
    )
    assert connects == []
    assert server.seen == []


def test_it_fetches_from_loopback_when_private_addresses_are_allowed(
    server: Server, certs: Certs
) -> None:
    assert AnyPort(AddressPolicy(allow_private=True)).fetch(server.url("/der")) == [certs.der]


def test_it_fetches_from_an_allowlisted_network(server: Server, certs: Certs) -> None:
    policy = AddressPolicy(allowed_networks=("127.0.0.0/24",))

    assert AnyPort(policy).fetch(server.url("/der")) == [certs.der]


def test_it_refuses_what_the_allowlist_does_not_cover(
    server: Server, connects: list[tuple[str, int]]
) -> None:
    policy = AddressPolicy(allowed_networks=("10.20.0.0/16",))

    message = _refusal(AnyPort(policy), server.url("/der"))

    assert "127.0.0.1 is a loopback address" in message
    assert connects == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "10.0.0.1 is a private-network address"),
        ("::ffff:127.0.0.1", "is a loopback address (embedded in the IPv6 address"),
        ("169.254.169.254", "169.254.169.254 is the cloud metadata service"),
        ("168.63.129.16", "168.63.129.16 is Azure's platform endpoint"),
        ("100.64.0.1", "100.64.0.1 is"),
    ],
)
def test_it_refuses_a_name_that_resolves_to_a_blocked_address_before_connecting(
    connects: list[tuple[str, int]], address: str, reason: str
) -> None:
    fetcher = AnyPort(AddressPolicy(), StaticResolver({"ca.test": [address]}))

    message = _refusal(fetcher, "http://ca.test/ca.crt")

    assert message.startswith(
        f"The issuer URL http://ca.test/ca.crt was not fetched: ca.test resolves to {address}, "
    )
    assert reason in message
    assert connects == []


def test_it_refuses_a_name_if_any_of_its_addresses_is_blocked(
    server: Server, connects: list[tuple[str, int]]
) -> None:
    resolver = StaticResolver({"ca.test": ["127.0.0.1", "169.254.169.254"]})
    fetcher = AnyPort(LOOPBACK, resolver)

    message = _refusal(fetcher, f"http://ca.test:{server.port}/der")

    assert "ca.test resolves to 169.254.169.254" in message
    assert connects == []


def test_it_tries_the_next_address_when_one_refuses(server: Server, certs: Certs) -> None:
    # The server listens on 127.0.0.1 only: ::1 refuses (or is unreachable
    # where IPv6 is off); either way the next address is tried.
    resolver = StaticResolver({"ca.test": ["::1", "127.0.0.1"]})

    fetched = AnyPort(LOOPBACK, resolver).fetch(f"http://ca.test:{server.port}/der")

    assert fetched == [certs.der]


# --- URLs it will not fetch -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://ca.test/ca.crt", "uses https; issuer certificates are published over plain"),
        ("ftp://ca.test/ca.crt", "uses the ftp: scheme"),
        ("file:///etc/passwd", "uses the file: scheme"),
        ("ldap://ca.test/cn=CA?cACertificate", "uses the ldap: scheme"),
        ("//ca.test/ca.crt", "is not an absolute http:// URL"),
        ("http://user:secret@ca.test/ca.crt", "contains a user name or password"),
        ("http://ca.test:25/ca.crt", "points at port 25, which belongs to another protocol"),
        ("http://ca.test:0/ca.crt", "does not name a usable host and port"),
        ("http://ca.test:99999/ca.crt", "does not name a usable host and port"),
        ("http://ca.test:http/ca.crt", "does not name a usable host and port"),
        ("http://2130706433/ca.crt", "does not name a usable host and port"),
        ("http://ca..test/ca.crt", "does not name a usable host and port"),
        ("http:///ca.crt", "names no host"),
        ("http://[::1/ca.crt", "is not a valid URL"),
        ("http://ca.test/a b.crt", "contains spaces, control or non-ASCII characters"),
        ("http://ca.test/ca.crt\r\nX-Injected: 1", "contains spaces, control or non-ASCII"),
        ("http://bücher.test/ca.crt", "contains spaces, control or non-ASCII characters"),
        ("http://ca.test/" + "a" * 3000, "is 3015 characters long"),
    ],
)
def test_it_refuses_urls_it_will_not_fetch(
    connects: list[tuple[str, int]], url: str, reason: str
) -> None:
    resolver = CountingResolver({"ca.test": ["127.0.0.1"]})

    message = _refusal(AnyPort(OPEN, resolver), url)

    assert message.startswith("The issuer URL ")
    assert reason in message
    assert resolver.calls == []
    assert connects == []


def test_it_shows_a_hostile_url_escaped_and_shortened() -> None:
    message = _refusal(AnyPort(OPEN), "http://ca.test/\x1b[31m" + "a" * 3000)

    assert "\x1b" not in message
    assert "http://ca.test/%1B[31maaa" in message
    assert len(message) < 400


# --- the cache ------------------------------------------------------------------------------


def test_it_fetches_each_url_once_per_fetcher(server: Server, certs: Certs) -> None:
    fetcher = AnyPort(OPEN)

    first = fetcher.fetch(server.url("/der"))
    first.clear()  # a caller's changes do not reach the cache
    second = fetcher.fetch(server.url("/der"))

    assert second == [certs.der]
    assert server.paths() == ["/der"]


def test_it_remembers_a_failure_too(server: Server) -> None:
    fetcher = AnyPort(OPEN)

    messages = {_refusal(fetcher, server.url("/gone")) for _ in range(3)}

    assert len(messages) == 1
    assert server.paths() == ["/gone"]


def test_it_fetches_a_url_once_when_threads_ask_at_the_same_time(
    server: Server, certs: Certs
) -> None:
    fetcher = AnyPort(OPEN)
    results: list[list[bytes]] = []

    threads = [
        threading.Thread(target=lambda: results.append(fetcher.fetch(server.url("/slow-der"))))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert results == [[certs.der]] * 8
    assert server.paths() == ["/slow-der"]


def test_it_uses_a_cache_it_is_given(server: Server, certs: Certs) -> None:
    cache: dict[str, list[bytes] | FetchError] = {}
    AnyPort(OPEN, cache=cache).fetch(server.url("/der"))

    assert AnyPort(OPEN, cache=cache).fetch(server.url("/der")) == [certs.der]
    assert server.paths() == ["/der"]


def test_it_refuses_limits_that_make_no_sense() -> None:
    with pytest.raises(ValueError):
        AnyPort(OPEN, timeout=0)


# --- the fake for other tests ---------------------------------------------------------------


def test_the_dict_fetcher_answers_from_its_table(certs: Certs) -> None:
    fetcher = DictIssuerFetcher(
        {"http://a.test/ca.crt": [certs.der], "http://b.test/ca.crt": FetchError("down")}
    )

    assert fetcher.fetch("http://a.test/ca.crt") == [certs.der]
    with pytest.raises(FetchError, match="down"):
        fetcher.fetch("http://b.test/ca.crt")
    with pytest.raises(FetchError, match="not in this test's table"):
        fetcher.fetch("http://c.test/ca.crt")
    assert fetcher.calls == ["http://a.test/ca.crt", "http://b.test/ca.crt", "http://c.test/ca.crt"]
