"""Real TLS servers on loopback, serving exactly the chain a test asks for.

``TLSServer`` listens on 127.0.0.1 (or ``::1``) in a background thread and
answers every connection in a thread of its own, so a benchmark can hit it
with hundreds of handshakes a second. In the normal mode (``"tls"``) it sends
``chain`` byte for byte in the given order — wrong orders, duplicates and
unrelated certificates included — because that is what broken servers do and
what the scanner must see. The hostile modes misbehave on purpose::

    tls            a normal TLS server (the default)
    garbage        reads the ClientHello, answers with random non-TLS bytes
    http           answers like an HTTP server: ``HTTP/1.1 400 Bad Request``
    close          reads the ClientHello and closes the connection
    reset          reads the ClientHello and resets the connection (TCP RST)
    stall          reads the ClientHello and never answers
    trickle        sends a real TLS server flight, one byte every 0.5 s
    malformed-der  a real TLS 1.2 flight whose leaf certificate bytes are
                   overwritten with bytes that are not DER (lengths intact)
    many-certs     a normal server sending 200 certificates
    huge-cert      a normal server sending one certificate of about 1 MB
    html-names     a normal server whose certificates are named with HTML

The certificates are made here with ``cryptography`` (no dependency on the
session PKI factory), once per process.

Usage::

    chain, key = self_signed()
    with TLSServer(chain, key) as server:
        OpenSSLProber().probe(server.address, server.port, "localhost", ProbeLimits())
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import select
import socket
import struct
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

# SSL_MODE_NO_AUTO_CHAIN from <openssl/ssl.h>; pyOpenSSL has no constant for
# it. With extra chain certificates set OpenSSL already sends them verbatim,
# but without this flag a server with only a leaf would complete the chain
# from its certificate store — the test must control every byte sent.
SSL_MODE_NO_AUTO_CHAIN = 0x00000008

MODES = (
    "tls",
    "garbage",
    "http",
    "close",
    "reset",
    "stall",
    "trickle",
    "malformed-der",
    "many-certs",
    "huge-cert",
    "html-names",
)
TRICKLE_INTERVAL = 0.5
MANY_CERTS = 200
HUGE_CERT_BYTES = 1_000_000
HTML_NAME = "<script>alert(1)</script>"
HTML_ORG = "\"Quoted\" & 'Co' <b>bold</b>"
# Socket reads and writes of a connection give up after this long, so a
# client that vanishes does not pin a thread; ``stop()`` also closes them.
IO_TIMEOUT = 30.0

# A chain to serve and the private key of its first certificate.
PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | dsa.DSAPrivateKey
)
ServedChain = tuple[list[bytes], PrivateKey]


class TLSServerError(RuntimeError):
    """The server could not be set up (e.g. OpenSSL refused the chain)."""


class TLSServer:
    """A TLS (or deliberately not-TLS) server on loopback, in a background thread.

    Args:
        chain: DER certificates, sent exactly in this order; ``chain[0]`` is the
            leaf. ``None`` picks a chain that fits ``mode`` (a self-signed
            ``localhost`` leaf for ``"tls"``).
        key: the private key of ``chain[0]`` (a ``cryptography`` key).
        host: ``"127.0.0.1"``, another 127/8 address, or ``"::1"``.
        port: 0 picks a free port; read it back from ``.port``.
        sni_chains: another chain (and key) per SNI name; clients that send no
            SNI or an unknown name get ``chain``.
        delay: seconds to sleep before answering each connection (load tests).
        mode: one of ``MODES``.
        max_version: e.g. ``SSL.TLS1_2_VERSION`` to cap the protocol.
        http_server: the ``Server`` header to answer an HTTP request with after
            the handshake (``Microsoft-IIS/10.0``); without it the server
            answers HTTP requests with no ``Server`` header.

    Attributes:
        connections: connections accepted so far.
        handshakes: TLS handshakes completed so far (normal modes only).
        server_names: the SNI name of each handshake (``None`` when absent),
            the most recent last; kept for the last 1,000 handshakes.
    """

    def __init__(
        self,
        chain: list[bytes] | None = None,
        key: PrivateKey | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        sni_chains: dict[str, ServedChain] | None = None,
        delay: float = 0,
        mode: str = "tls",
        *,
        max_version: int | None = None,
        http_server: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; pick one of {', '.join(MODES)}")
        if chain is None:
            chain, key = _default_chain(mode)
        if not chain or key is None:
            raise ValueError("a chain of at least one certificate and its key are needed")
        self.chain = list(chain)
        self.key = key
        self.host = host
        self.mode = mode
        self.delay = delay
        self.max_version = max_version
        self.http_server = http_server
        if mode == "malformed-der" and max_version is None:
            # TLS 1.3 encrypts the Certificate message; 1.2 sends it in clear,
            # so its bytes can be patched on the way out.
            self.max_version = SSL.TLS1_2_VERSION
        self.connections = 0
        self.handshakes = 0
        self.server_names: list[str | None] = []
        # The default context, public for tests that need to poke OpenSSL.
        self.context = self._make_context(self.chain, key)
        self._sni_contexts = {
            name.lower().rstrip("."): self._make_context(list(c), k)
            for name, (c, k) in (sni_chains or {}).items()
        }
        if self._sni_contexts:
            self._install_sni_callback()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError:
            self._listener.close()
            raise
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        self._thread: threading.Thread | None = None
        # stop() writes a byte here to wake the accept loop at once.
        self._wake_r, self._wake_w = socket.socketpair()

    # -- lifecycle ---------------------------------------------------------------

    @property
    def address(self) -> str:
        """The address to connect to (without brackets, as the prober takes it)."""
        return self.host

    def start(self) -> Self:
        self._listener.listen(1024)
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"tlsserver-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every open connection and wait for the threads."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:
            open_sockets = list(self._open)
            workers = list(self._workers)
        for sock in open_sockets:
            # shutdown() wakes a thread blocked in recv() on this socket.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for worker in workers:
            worker.join(timeout=5)

    def wait_for_handshakes(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` handshakes completed on the server's side.

        A client's handshake can end a moment before the server's thread
        records it; call this before reading ``handshakes`` or ``server_names``.
        """
        with self._lock:
            return self._lock.wait_for(lambda: self.handshakes >= count, timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"[{self.host}]" if ":" in self.host else self.host
        return f"<TLSServer {self.mode} {where}:{self.port} certs={len(self.chain)}>"

    # -- set-up ------------------------------------------------------------------

    def _make_context(self, chain: list[bytes], key: PrivateKey) -> SSL.Context:
        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        context.set_mode(SSL_MODE_NO_AUTO_CHAIN)
        # Security level 0: the test servers must be able to serve weak keys
        # and SHA-1 certificates, as badly configured real servers do.
        context.set_cipher_list(b"ALL:@SECLEVEL=0")
        if self.max_version is not None:
            context.set_max_proto_version(self.max_version)
        try:
            certs = [x509.load_der_x509_certificate(der) for der in chain]
            context.use_certificate(certs[0])
            context.use_privatekey(key)
            # One call per certificate, in order: OpenSSL sends the extra
            # certificates as they were added, duplicates included.
            for cert in certs[1:]:
                context.add_extra_chain_cert(cert)
        except (ValueError, SSL.Error) as exc:
            raise TLSServerError(f"OpenSSL would not load the chain: {exc}") from exc
        return context

    def _install_sni_callback(self) -> None:
        def pick(conn: SSL.Connection) -> None:
            raw = conn.get_servername()
            name = raw.decode("ascii", "replace").lower().rstrip(".") if raw else None
            chosen = self._sni_contexts.get(name) if name else None
            if chosen is not None:
                conn.set_context(chosen)

        self.context.set_tlsext_servername_callback(pick)

    # -- serving -----------------------------------------------------------------

    def _accept_loop(self) -> None:
        # poll, not select: a benchmark process may hold descriptors above 1023.
        poller = select.poll()
        poller.register(self._listener, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while not self._stopping.is_set():
            events = poller.poll()
            if self._stopping.is_set():
                return
            if not any(fd == self._listener.fileno() for fd, _ in events):
                continue
            try:
                sock, _peer = self._listener.accept()
            except OSError:
                continue
            worker = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            with self._lock:
                self.connections += 1
                self._open.add(sock)
                self._workers.add(worker)
            worker.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            _set_io_timeout(sock, IO_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.delay and self._stopping.wait(self.delay):
                return
            handler = getattr(self, "_mode_" + self.mode.replace("-", "_"), self._mode_tls)
            handler(sock)
        except (OSError, SSL.Error):
            pass  # the client went away or misbehaved; that is its right
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._open.discard(sock)
                self._workers.discard(threading.current_thread())

    def _mode_tls(self, sock: socket.socket) -> None:
        conn = SSL.Connection(self.context, sock)
        conn.set_accept_state()
        conn.do_handshake()
        raw = conn.get_servername()
        with self._lock:
            self.handshakes += 1
            self.server_names.append(raw.decode("ascii", "replace") if raw else None)
            del self.server_names[:-1000]
            self._lock.notify_all()
        # Answer an HTTP request (chainscan's HEAD / after the handshake) like a
        # web server, then wait for the client's close_notify or EOF and say
        # goodbye politely.
        with contextlib.suppress(SSL.Error, OSError):
            request = b""
            while chunk := conn.recv(4096):
                request += chunk
                if b"\r\n\r\n" in request and request[:5] in (b"HEAD ", b"GET /"):
                    header = f"Server: {self.http_server}\r\n" if self.http_server else ""
                    conn.sendall(
                        f"HTTP/1.1 200 OK\r\n{header}Content-Length: 0\r\n"
                        "Connection: close\r\n\r\n".encode("latin-1")
                    )
                    request = b""
        with contextlib.suppress(SSL.Error, OSError):
            conn.shutdown()

    _mode_many_certs = _mode_tls
    _mode_huge_cert = _mode_tls
    _mode_html_names = _mode_tls

    def _mode_garbage(self, sock: socket.socket) -> None:
        _read_record(sock)
        # 0x00 is no TLS record type and 0xdead no TLS version.
        sock.sendall(b"\x00\xde\xad" + os.urandom(509))
        self._drain(sock)

    def _mode_http(self, sock: socket.socket) -> None:
        _read_record(sock)
        body = b"<html><body><h1>400 Bad Request</h1>Plain HTTP on a TLS port?</body></html>\n"
        sock.sendall(
            b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )

    def _mode_reset(self, sock: socket.socket) -> None:
        _read_record(sock)
        # A zero linger time turns close() into a TCP reset.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _mode_close(self, sock: socket.socket) -> None:
        # Read the whole ClientHello first: closing with unread data would
        # send a TCP reset instead of a clean end of stream.
        _read_record(sock)

    def _mode_stall(self, sock: socket.socket) -> None:
        _read_record(sock)
        self._drain(sock)

    def _mode_trickle(self, sock: socket.socket) -> None:
        flight = self._server_flight(_read_record(sock))
        for i in range(len(flight)):
            if self._stopping.wait(TRICKLE_INTERVAL):
                return
            sock.sendall(flight[i : i + 1])
        self._drain(sock)

    def _mode_malformed_der(self, sock: socket.socket) -> None:
        flight = self._server_flight(_read_record(sock))
        leaf = self.chain[0]
        if leaf not in flight:
            raise TLSServerError("the leaf was not found in the server's flight")
        sock.sendall(flight.replace(leaf, not_der(len(leaf)), 1))
        self._drain(sock)

    def _server_flight(self, client_hello: bytes) -> bytes:
        """What a real server answers to ``client_hello`` (run through memory BIOs)."""
        conn = SSL.Connection(self.context, None)
        conn.set_accept_state()
        conn.bio_write(client_hello)
        with contextlib.suppress(SSL.WantReadError):
            conn.do_handshake()
        out = b""
        with contextlib.suppress(SSL.WantReadError):
            while chunk := conn.bio_read(65536):
                out += chunk
        return out

    def _drain(self, sock: socket.socket) -> None:
        """Read and ignore until the client closes or the server stops."""
        while not self._stopping.is_set():
            try:
                if not sock.recv(4096):
                    return
            except BlockingIOError:
                continue  # IO_TIMEOUT passed; keep holding the line


def _set_io_timeout(sock: socket.socket, seconds: float) -> None:
    # SO_RCVTIMEO/SO_SNDTIMEO keep the descriptor blocking, which pyOpenSSL
    # needs (a Python-level timeout would make it non-blocking).
    timeval = struct.pack("ll", int(seconds), int((seconds % 1) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _read_record(sock: socket.socket) -> bytes:
    """Read one TLS record (the ClientHello); whatever arrives if it is not TLS."""
    header = _recv_exactly(sock, 5)
    if len(header) < 5 or header[0] != 0x16:
        return header
    (length,) = struct.unpack("!H", header[3:5])
    return header + _recv_exactly(sock, length)


def not_der(size: int) -> bytes:
    """``size`` bytes that start like a certificate (a DER SEQUENCE) but are not DER."""
    return (b"\x30\x82\xff\xff" + b"\xde\xad\xbe\xef" * (size // 4 + 1))[:size]


def ipv6_loopback_available() -> bool:
    """Whether this machine can listen on ``::1``."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for connection-refused tests)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# -- certificates ---------------------------------------------------------------


@dataclass(frozen=True)
class MiniPKI:
    """root → intermediate → leaf, plus an unrelated self-signed certificate (all DER)."""

    root: bytes
    intermediate: bytes
    leaf: bytes
    leaf_key: ec.EllipticCurvePrivateKey
    unrelated: bytes

    @property
    def chain(self) -> list[bytes]:
        """The correct chain to serve: leaf, then intermediate."""
        return [self.leaf, self.intermediate]


_NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


@functools.cache
def _key(label: str) -> ec.EllipticCurvePrivateKey:
    """One P-256 key per label, so a run makes only a handful of keys."""
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: x509.Name | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    ca: bool = False,
    names: tuple[str, ...] = (),
    extra: list[x509.ExtensionType] | None = None,
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - dt.timedelta(days=1))
        .not_valid_after(_NOW + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    # The key usages the Web PKI requires, so a chain made here is valid when
    # its root is trusted (the analysis rejects CA certificates without them).
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=not ca,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    if issuer_key is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    for ext in extra or []:
        builder = builder.add_extension(ext, critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


@functools.cache
def _self_signed(hostname: str) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    key = _key("leaf:" + hostname)
    return _cert(_name(hostname), key, names=(hostname,)), key


def self_signed(hostname: str = "localhost") -> ServedChain:
    """A one-certificate chain: a self-signed EC leaf for ``hostname``."""
    der, key = _self_signed(hostname)
    return [der], key


@functools.cache
def mini_pki(hostname: str = "localhost") -> MiniPKI:
    """A small PKI for ``hostname``, built once per process."""
    root_key, inter_key, leaf_key = (_key(f"{role}:{hostname}") for role in ("root", "ca", "leaf"))
    root_name = _name("chainscan test root", "chainscan tests")
    inter_name = _name("chainscan test intermediate", "chainscan tests")
    root = _cert(root_name, root_key, ca=True)
    intermediate = _cert(inter_name, inter_key, issuer=root_name, issuer_key=root_key, ca=True)
    leaf = _cert(
        _name(hostname), leaf_key, issuer=inter_name, issuer_key=inter_key, names=(hostname,)
    )
    unrelated = _cert(_name("unrelated test root"), _key("unrelated"), ca=True)
    return MiniPKI(root, intermediate, leaf, leaf_key, unrelated)


@functools.cache
def _many_certs(count: int, padding: int) -> tuple[bytes, ...]:
    ca_key = _key("many")
    names = _padding_names(padding, "filler.example")
    return tuple(
        _cert(_name(f"filler certificate {i}"), ca_key, ca=True, names=names)
        for i in range(count - 1)
    )


def many_certs_chain(
    count: int = MANY_CERTS, hostname: str = "localhost", *, padding: int = 0
) -> ServedChain:
    """The ``hostname`` leaf followed by ``count - 1`` distinct CA certificates.

    About 380 bytes each; ``padding`` adds that many bytes of SAN entries to each.
    """
    pki = mini_pki(hostname)
    return [pki.leaf, *_many_certs(count, padding)], pki.leaf_key


def _padding_names(size: int, domain: str) -> tuple[str, ...]:
    # Each SAN entry costs its length plus two bytes of DER header.
    filler = f"padding-{'x' * 40}.{domain}"
    return tuple(f"{i:06d}{filler}" for i in range(size // (len(filler) + 8)))


@functools.cache
def _huge_cert(size: int, hostname: str) -> bytes:
    key = _key("leaf:" + hostname)
    return _cert(_name(hostname), key, names=(hostname, *_padding_names(size, hostname)))


def huge_cert_chain(size: int = HUGE_CERT_BYTES, hostname: str = "localhost") -> ServedChain:
    """One self-signed leaf of about ``size`` bytes (a very long SAN list)."""
    return [_huge_cert(size, hostname)], _key("leaf:" + hostname)


@functools.cache
def _hostile_names(hostname: str) -> tuple[bytes, bytes]:
    root_key, leaf_key = _key("html-root"), _key("leaf:" + hostname)
    root_name = _name(HTML_NAME + " root", HTML_ORG)
    root = _cert(root_name, root_key, ca=True)
    leaf_subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, HTML_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, HTML_ORG),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, '"><img src=x onerror=alert(2)>'),
        ]
    )
    leaf = _cert(leaf_subject, leaf_key, issuer=root_name, issuer_key=root_key, names=(hostname,))
    return leaf, root


def hostile_names_chain(hostname: str = "localhost") -> ServedChain:
    """A leaf and its root whose names carry HTML, script tags and quotes."""
    leaf, root = _hostile_names(hostname)
    return [leaf, root], _key("leaf:" + hostname)


def _default_chain(mode: str) -> ServedChain:
    if mode == "many-certs":
        return many_certs_chain()
    if mode == "huge-cert":
        return huge_cert_chain()
    if mode == "html-names":
        return hostile_names_chain()
    return self_signed()
