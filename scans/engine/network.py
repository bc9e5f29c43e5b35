"""The network seams: name resolution and TLS handshakes.

Both are ``Protocol``s so the tests can resolve a made-up host name to several
loopback addresses, and the CLI and worker use the real thing. The prober
connects to exactly the address it is given — the one the policy checked.
"""

from __future__ import annotations

import functools
import os
import select
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from OpenSSL import SSL, crypto

from .policy import parse_ip


class ResolveError(Exception):
    """The name has no usable address; the message says why."""


class Resolver(Protocol):
    def resolve(self, host: str, port: int) -> list[str]:
        """Return every address (A and AAAA) of ``host``, as text, without duplicates."""
        ...


# Lookups run here so that a caller can stop waiting: getaddrinfo cannot be
# cancelled, and a name whose nameservers never answer would otherwise hold the
# caller for as long as the C library's resolver keeps retrying. Threads are
# created only when all are busy and reused after; an abandoned lookup ends on
# the C library's own timeouts. A forked child (Celery's prefork pool) gets an
# executor of its own: the parent's threads do not exist there.
def _new_lookups() -> None:
    global _LOOKUPS
    _LOOKUPS = ThreadPoolExecutor(max_workers=256, thread_name_prefix="chainscan-dns")


_LOOKUPS: ThreadPoolExecutor
_new_lookups()
if hasattr(os, "register_at_fork"):  # not on Windows, where nothing forks
    os.register_at_fork(after_in_child=_new_lookups)

Lookup = Callable[..., list[tuple[Any, ...]]]


class SystemResolver:
    """Resolve with the operating system (``getaddrinfo``): A and AAAA, in ``timeout`` seconds.

    ``lookup`` is ``socket.getaddrinfo``; a test may put a slow one in its place.
    """

    def __init__(self, timeout: float = 5.0, lookup: Lookup = socket.getaddrinfo) -> None:
        self.timeout = timeout
        self._lookup = lookup

    def resolve(self, host: str, port: int) -> list[str]:
        if parse_ip(host) is not None:
            return [str(parse_ip(host))]
        future = _LOOKUPS.submit(self._lookup, host, port, type=socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=self.timeout)
        except TimeoutError:
            future.cancel()
            raise ResolveError(
                f"DNS did not answer for {host} within {self.timeout:g} s (its nameservers may "
                "be down or unreachable)"
            ) from None
        except socket.gaierror as exc:
            raise ResolveError(_gai_reason(host, exc)) from None
        except (UnicodeError, OSError) as exc:
            raise ResolveError(f"{host} could not be looked up ({exc})") from None
        out: list[str] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            ip = parse_ip(str(sockaddr[0]))
            if ip is not None and str(ip) not in out:
                out.append(str(ip))
        if not out:
            raise ResolveError(f"{host} has no A or AAAA record")
        return out


def _gai_reason(host: str, exc: socket.gaierror) -> str:
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
        return f"{host} does not exist in DNS (no A or AAAA record)"
    if exc.errno == socket.EAI_AGAIN:
        return f"DNS did not answer for {host} (temporary failure; try again)"
    return f"{host} could not be resolved ({exc.strerror})"


class StaticResolver:
    """A resolver from a fixed table, for tests and for pinned addresses.

    A key ``*.example.test`` is a wildcard: it answers for every name below
    ``example.test`` (any depth, not ``example.test`` itself). An exact name
    wins over a wildcard, and the longest wildcard wins over a shorter one, so
    a load test can spread thousands of names over a few servers with one
    entry per server.
    """

    def __init__(self, table: dict[str, list[str]], fallback: Resolver | None = None) -> None:
        self.table = {k.lower(): v for k, v in table.items() if not k.startswith("*.")}
        # Suffixes with their leading dot (".example.test"), longest first.
        self.wildcards = sorted(
            ((k.lower()[1:], v) for k, v in table.items() if k.startswith("*.")),
            key=lambda item: len(item[0]),
            reverse=True,
        )
        self.fallback = fallback

    def resolve(self, host: str, port: int) -> list[str]:
        name = host.lower()
        if name in self.table:
            return list(self.table[name])
        for suffix, addresses in self.wildcards:
            if name.endswith(suffix) and len(name) > len(suffix):
                return list(addresses)
        if self.fallback is not None:
            return self.fallback.resolve(host, port)
        raise ResolveError(f"{host} does not exist in DNS (no A or AAAA record)")


@dataclass(frozen=True)
class ProbeLimits:
    connect_timeout: float = 5.0
    handshake_timeout: float = 10.0
    # Bytes of certificates accepted from one handshake; it bounds memory per
    # handshake. OpenSSL itself refuses a Certificate message above 100 KiB
    # (its default, which pyOpenSSL cannot change), so a larger value changes
    # nothing; a smaller one is enforced after the handshake.
    max_chain_bytes: int = 256 * 1024
    # After the handshake, one ``HEAD /`` over the same connection to read the
    # ``Server`` header (which fix to show: IIS, nginx…). Bounded in time and
    # bytes; a server that does not speak HTTP simply gives no answer.
    detect_server: bool = True
    server_timeout: float = 2.0
    max_header_bytes: int = 8192


@dataclass
class ProbeResult:
    """What one handshake gave. ``error`` is a finding code when it failed."""

    chain: list[bytes] = field(default_factory=list)
    tls_version: str | None = None
    cipher: str | None = None
    connect_ms: float | None = None
    handshake_ms: float | None = None
    error: str | None = None
    error_detail: str | None = None
    server: str | None = None  # the HTTP Server header, when the server answered HEAD /


class Prober(Protocol):
    def probe(self, address: str, port: int, sni: str | None, limits: ProbeLimits) -> ProbeResult:
        """Handshake with ``address`` (already checked by the policy) and read the chain."""
        ...


class OpenSSLProber:
    """Handshake with pyOpenSSL and record the certificates exactly as sent.

    Verification is off on purpose: the point is to see what the server sends,
    whatever it is; the analysis judges it afterwards.
    """

    def probe(self, address: str, port: int, sni: str | None, limits: ProbeLimits) -> ProbeResult:
        result = ProbeResult()
        ip = parse_ip(address)
        if ip is None:
            result.error, result.error_detail = "connect-failed", f"{address} is not an address"
            return result
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        started = time.monotonic()
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            result.error, result.error_detail = "connect-failed", f"no socket: {exc}"
            return result
        try:
            sock.settimeout(limits.connect_timeout)
            try:
                sock.connect((str(ip), port))
            except TimeoutError:
                result.error = "timeout"
                result.error_detail = (
                    f"{host_port(address, port)} did not accept a connection within "
                    f"{limits.connect_timeout:g} s (a firewall may be dropping packets)"
                )
                return result
            except ConnectionRefusedError:
                result.error = "connect-failed"
                result.error_detail = (
                    f"{host_port(address, port)} refused the connection: nothing listens on "
                    f"port {port} there"
                )
                return result
            except OSError as exc:
                result.error = "connect-failed"
                result.error_detail = (
                    f"could not connect to {host_port(address, port)}: {exc.strerror or exc}"
                )
                return result
            result.connect_ms = (time.monotonic() - started) * 1000
            self._handshake(sock, address, port, sni, limits, result)
            return result
        finally:
            sock.close()

    def _handshake(
        self,
        sock: socket.socket,
        address: str,
        port: int,
        sni: str | None,
        limits: ProbeLimits,
        result: ProbeResult,
    ) -> None:
        conn = SSL.Connection(_client_context(), sock)
        if sni:
            conn.set_tlsext_host_name(sni.encode("ascii", "ignore"))
        conn.set_connect_state()
        sock.setblocking(False)
        started = time.monotonic()
        deadline = started + limits.handshake_timeout
        while True:
            try:
                conn.do_handshake()
                break
            except (SSL.WantReadError, SSL.WantWriteError) as want:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    result.error = "timeout"
                    result.error_detail = (
                        f"{host_port(address, port)} accepted the connection but did not complete "
                        f"a TLS handshake within {limits.handshake_timeout:g} s"
                    )
                    return
                _wait_for(sock, write=isinstance(want, SSL.WantWriteError), timeout=remaining)
            except SSL.ZeroReturnError:
                result.error, result.error_detail = "handshake-failed", _closed(address, port)
                return
            except SSL.SysCallError as exc:
                result.error = "handshake-failed"
                result.error_detail = (
                    _closed(address, port)
                    if exc.args and exc.args[0] in (-1, 0)
                    else f"{host_port(address, port)} reset the connection during the TLS handshake"
                )
                return
            except SSL.Error as exc:
                result.error, result.error_detail = _classify_ssl_error(exc, address, port)
                # Keep whatever chain arrived before the failure, if any.
                result.chain = _peer_chain(conn)
                return
            except OSError as exc:
                result.error = "handshake-failed"
                result.error_detail = f"{host_port(address, port)}: {exc}"
                return
        result.handshake_ms = (time.monotonic() - started) * 1000
        result.chain = _peer_chain(conn)
        result.tls_version = conn.get_protocol_version_name()
        result.cipher = conn.get_cipher_name()
        if not result.chain:
            result.error = "handshake-failed"
            result.error_detail = f"{host_port(address, port)} completed the handshake without sending any certificate"
        total = sum(len(der) for der in result.chain)
        if total > limits.max_chain_bytes:
            result.error = "too-many-certs"
            result.error_detail = (
                f"{host_port(address, port)} sent {len(result.chain)} certificates "
                f"({total:,} bytes), more than the {limits.max_chain_bytes:,} bytes chainscan "
                "accepts from one server"
            )
            result.chain = []
        if limits.detect_server and result.chain:
            result.server = _server_header(conn, sock, sni or address, limits)
        try:
            conn.shutdown()
        except (SSL.Error, OSError):
            pass


def _server_header(
    conn: SSL.Connection, sock: socket.socket, host: str, limits: ProbeLimits
) -> str | None:
    """Send ``HEAD /`` on the established connection and return the ``Server`` header.

    Never raises: a server that is not HTTP, closes, stalls or floods gives ``None``
    within ``limits.server_timeout`` and ``limits.max_header_bytes``.
    """
    safe_host = "".join(ch for ch in host if ch.isalnum() or ch in ".-:[]")[:253]
    request = (
        f"HEAD / HTTP/1.1\r\nHost: {safe_host}\r\nUser-Agent: chainscan\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    deadline = time.monotonic() + limits.server_timeout
    data = b""
    sent = 0
    while time.monotonic() < deadline:
        try:
            if sent < len(request):
                sent += conn.send(request[sent:])
                continue
            chunk = conn.recv(max(limits.max_header_bytes - len(data), 1))
        except (SSL.WantReadError, SSL.WantWriteError) as want:
            _wait_for(
                sock,
                write=isinstance(want, SSL.WantWriteError),
                timeout=max(deadline - time.monotonic(), 0.0),
            )
            continue
        except (SSL.Error, OSError):
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data or len(data) >= limits.max_header_bytes:
            break
    return parse_server_header(data)


def parse_server_header(data: bytes) -> str | None:
    """The ``Server`` header of an HTTP response head, printable ASCII, at most 200 characters."""
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    if not lines or not lines[0].startswith(b"HTTP/"):
        return None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"server":
            text = "".join(ch for ch in value.decode("latin-1") if " " <= ch <= "~").strip()
            return text[:200] or None
    return None


@functools.cache
def _client_context() -> SSL.Context:
    """One client context for every handshake of the process (building one costs
    more CPU than a third of a handshake). OpenSSL contexts may be shared by
    connections in many threads once configured; this one is never changed."""
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    # No callback: nothing is judged here, so no Python runs per certificate.
    context.set_verify(SSL.VERIFY_NONE)
    # Old servers still exist; we want to see their chain, not judge their
    # protocol version (another tool's job).
    context.set_min_proto_version(0)
    try:
        context.set_cipher_list(b"ALL:@SECLEVEL=0")
    except SSL.Error:
        pass
    return context


def _wait_for(sock: socket.socket, *, write: bool, timeout: float) -> None:
    """Wait until ``sock`` is readable (or writable), at most ``timeout`` seconds.

    ``poll`` rather than ``select``: a busy worker has descriptors above 1023,
    which ``select.select`` refuses with a ValueError.
    """
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLOUT if write else select.POLLIN)
        poller.poll(max(timeout, 0.0) * 1000)
    elif write:  # pragma: no cover - platforms without poll (Windows)
        select.select([], [sock], [], timeout)
    else:  # pragma: no cover
        select.select([sock], [], [], timeout)


def _peer_chain(conn: SSL.Connection) -> list[bytes]:
    try:
        chain = conn.get_peer_cert_chain()
    except SSL.Error:
        return []
    if not chain:
        return []
    return [crypto.dump_certificate(crypto.FILETYPE_ASN1, cert) for cert in chain]


def host_port(address: str, port: int) -> str:
    """`address:port`, with brackets around an IPv6 address."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _closed(address: str, port: int) -> str:
    return f"{host_port(address, port)} closed the connection in the middle of the TLS handshake"


def _classify_ssl_error(exc: SSL.Error, address: str, port: int) -> tuple[str, str]:
    reasons = []
    for item in exc.args[0] if exc.args and isinstance(exc.args[0], list) else []:
        if isinstance(item, tuple) and len(item) >= 3:
            reasons.append(str(item[2]))
    text = "; ".join(reasons) or str(exc)
    where = host_port(address, port)
    lowered = text.lower()
    if (
        "wrong version number" in lowered
        or "unknown protocol" in lowered
        or "packet length" in lowered
    ):
        return "not-tls", (
            f"{where} answered, but not with TLS (is this a plain HTTP port, SSH or another "
            f"protocol?). OpenSSL said: {text}"
        )
    if "excessive message size" in lowered:
        return "too-many-certs", (
            f"{where} sent a certificate message larger than chainscan accepts; clients will "
            f"reject it too. OpenSSL said: {text}"
        )
    if "asn1" in lowered or ("certificate" in lowered and "parse" in lowered) or "x509" in lowered:
        return "handshake-failed", (
            f"{where} sent certificate bytes that OpenSSL cannot parse (malformed DER). "
            f"OpenSSL said: {text}"
        )
    return "handshake-failed", f"the TLS handshake with {where} failed. OpenSSL said: {text}"
