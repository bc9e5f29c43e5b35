"""Fetching issuer certificates from AIA "CA Issuers" URLs.

When a server leaves out an intermediate, Chrome, Windows and Apple download it
from the URL in the child certificate's Authority Information Access extension.
chainscan does the same, to build the expected chain and to say which clients
cope with the served one.

That URL was written by whoever made the certificate, so it is hostile input:
it may point at cloud metadata (169.254.169.254), at the scanner's own network,
at a redirect loop, at an endless stream or at a server that trickles one byte
a second. Hence:

- plain ``http://`` only (as Chrome's fetcher), no credentials, ports 80 and
  8080 only unless the operator allows others (never ports that belong to
  other protocols);
- the host is resolved once, every address is checked by the address policy,
  and the socket connects to a checked address, so DNS rebinding gets nowhere;
  every redirect goes through the same checks;
- one deadline for the whole fetch, redirects included, enforced on every
  socket call; the body is capped;
- answers and failures are cached per fetcher, so one scan asks a URL once;
- what a non-certificate answer held (status, banner, body, content type) is
  never repeated: "not a certificate (N bytes)" is all a report says, so the
  fetcher cannot be used to read internal pages.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import threading
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

from .certs import BundleError, load_certificate, read_bundle
from .errors import FetchError
from .network import ResolveError, Resolver, SystemResolver, host_port
from .policy import AddressBlocked, AddressPolicy, parse_ip
from .targets import TargetError, parse_target

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_MAX_REDIRECTS = 3
MAX_URL_LENGTH = 2048
HTTP_PORT = 80
# Where CAs publish issuer certificates; anything else needs the operator's word.
DEFAULT_PORTS = frozenset({HTTP_PORT, 8080})
USER_AGENT = "chainscan (AIA issuer fetch)"
ACCEPT = "application/pkix-cert, application/pkcs7-mime, application/x-x509-ca-cert, */*;q=0.5"

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The Fetch standard's "bad ports": ports of other protocols (mail, SSH, IRC…)
# that browsers never send HTTP to, so that a URL cannot turn a fetch into a
# cross-protocol request to someone's mail or SSH server.
_BAD_PORTS = frozenset(
    {
        1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95,
        101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161,
        179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563,
        587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060,
        5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
    }
)  # fmt: skip
# Printable ASCII other than space: kept as is when a URL is shown to a person.
_SHOWN_AS_IS = "".join(chr(c) for c in range(0x21, 0x7F))
_MAX_SHOWN = 200


class HttpIssuerFetcher:
    """Fetch issuer certificates over plain HTTP, refusing whatever the policy forbids.

    Safe to share between the threads of one scan: each URL is fetched at most
    once per fetcher, and threads asking for a URL being fetched wait for that
    answer. Failures are cached too, so a dead URL costs one timeout per scan.

    Args:
        policy: which addresses may be contacted; checked on every resolved
            address of every URL, redirects included, before connecting.
        resolver: name resolution; the system resolver by default.
        timeout: seconds for the whole fetch (connects, redirects, every byte),
            not per read. Name resolution counts against it but cannot be
            interrupted: the resolver's own timeout bounds that part.
        max_bytes: the largest body accepted; an issuer certificate is a few KiB.
        max_redirects: redirects followed before giving up.
        allowed_ports: the ports a URL (or a redirect) may name; ``None``
            allows any port but those of other protocols.
        cache: where answers are kept (URL → DER certificates or the error);
            a fresh dict by default. Only this fetcher's lock guards it, so do
            not hand one dict to two fetchers used at the same time.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        cache: MutableMapping[str, list[bytes] | FetchError] | None = None,
        allowed_ports: frozenset[int] | None = DEFAULT_PORTS,
    ) -> None:
        if timeout <= 0 or max_bytes <= 0 or max_redirects < 0:
            raise ValueError("timeout and max_bytes must be positive, max_redirects not negative")
        self.policy = policy
        self.resolver: Resolver = resolver if resolver is not None else SystemResolver()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.allowed_ports = allowed_ports
        self._cache: MutableMapping[str, list[bytes] | FetchError] = {} if cache is None else cache
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}

    def fetch(self, url: str, *, deadline: float | None = None) -> list[bytes]:
        """Return the DER certificates served at ``url`` (usually one).

        Args:
            deadline: a ``time.monotonic()`` moment the fetch must end by, if
                sooner than its own timeout (the scan's deadline).

        Raises:
            FetchError: with a sentence naming the URL and what went wrong.
        """
        with self._lock:
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        # Threads asking for the same URL queue here and find the first one's
        # answer in the cache; other URLs are fetched in parallel.
        with url_lock:
            with self._lock:
                answer = self._cache.get(url)
            if answer is None:
                try:
                    answer = self._fetch(url, deadline)
                except FetchError as exc:
                    # Keep the words only: the traceback would hold sockets alive.
                    answer = FetchError(str(exc))
                with self._lock:
                    self._cache[url] = answer
        if isinstance(answer, FetchError):
            # A fresh exception per caller: re-raising one instance from
            # several threads would tangle its traceback.
            raise FetchError(str(answer))
        return list(answer)

    def _fetch(self, url: str, scan_deadline: float | None) -> list[bytes]:
        own = time.monotonic() + self.timeout
        deadline = _Deadline(own, f"did not send its whole answer within {self.timeout:g} s")
        if scan_deadline is not None and scan_deadline < own:
            deadline = _Deadline(scan_deadline, "did not answer before the scan's deadline")
        visited = [url]
        hop = _Hop(url=url, origin=url)
        while True:
            target = _parse_url(hop, self.allowed_ports)
            response = self._get(hop, target, deadline)
            if response.location is None:
                return _certificates(hop, response)
            following = urljoin(hop.url, response.location)
            if following in visited:
                chain = " → ".join(_show(u) for u in [*visited, following])
                raise FetchError(f"The issuer URL {_show(url)} redirects in a loop: {chain}.")
            if len(visited) > self.max_redirects:
                raise FetchError(
                    f"The issuer URL {_show(url)} redirected more than {self.max_redirects} "
                    f"times (the last time to {_show(following)}); chainscan stops following "
                    "redirects there."
                )
            visited.append(following)
            hop = _Hop(url=following, origin=url)

    def _addresses(self, hop: _Hop, target: _Target) -> list[str]:
        """Resolve once and check every address: one blocked address refuses the URL.

        A name that mixes public and private addresses is either misconfigured
        or trying its luck; either way chainscan does not pick among them.
        """
        if parse_ip(target.host) is not None:
            addresses = [target.host]
        else:
            try:
                addresses = self.resolver.resolve(target.host, target.port)
            except ResolveError as exc:
                raise hop.error(f"could not be fetched: {exc}") from None
            if not addresses:
                raise hop.error(f"could not be fetched: {target.host} has no address")
        checked = []
        for address in addresses:
            try:
                checked.append(str(self.policy.check(address)))
            except AddressBlocked as exc:
                # The policy's words start with the address: "10.0.0.1 is a …".
                name = (
                    "" if address == target.host else f"{target.host} resolves to {address}, and "
                )
                raise hop.error(f"was not fetched: {name}{exc}") from None
        return checked

    def _get(self, hop: _Hop, target: _Target, deadline: _Deadline) -> _Response:
        errors: list[str] = []
        for address in self._addresses(hop, target):
            # Like browsers, try the next address when one refuses; the shared
            # deadline bounds the total.
            connection = _PinnedConnection(target, address, deadline.at)
            try:
                try:
                    connection.connect()
                except TimeoutError:
                    raise hop.error(deadline.words) from None
                except OSError as exc:
                    errors.append(_connect_failure(address, target.port, exc))
                    continue
                return self._exchange(hop, target, connection, deadline)
            finally:
                connection.close()
        raise hop.error(f"could not be fetched: {'; '.join(errors)}")

    def _exchange(
        self, hop: _Hop, target: _Target, connection: _PinnedConnection, deadline: _Deadline
    ) -> _Response:
        """Send the GET and read the answer, within the limits."""
        try:
            connection.request(
                "GET",
                target.path,
                headers={
                    # The name from the URL, though the socket goes to a checked address.
                    "Host": target.host_header,
                    "User-Agent": USER_AGENT,
                    "Accept": ACCEPT,
                    "Connection": "close",
                },
            )
            response = connection.getresponse()
            status = response.status
            if status in _REDIRECT_STATUSES:
                location = response.getheader("Location")
                if not location:
                    raise hop.error(f"answered HTTP {status} without saying where to go")
                return _Response(location=location.strip())
            if status != 200:
                # Neither the status nor the body: an internal page's answer
                # is not chainscan's to repeat.
                raise _not_a_certificate(hop, len(response.read(self.max_bytes)))
            announced = response.length  # None when absent, invalid or chunked
            if announced is not None and announced > self.max_bytes:
                raise hop.error(
                    f"announced a response of {announced} bytes, larger than "
                    f"{_size(self.max_bytes)}; an issuer certificate is a few KiB, so chainscan "
                    "did not read it"
                )
            # One byte more than allowed tells "too big" from "exactly the cap".
            body = response.read(self.max_bytes + 1)
            if len(body) > self.max_bytes:
                raise hop.error(
                    f"returned a response larger than {_size(self.max_bytes)}; an issuer "
                    "certificate is a few KiB, so chainscan stopped reading"
                )
            if announced is not None and len(body) < announced:
                raise http.client.IncompleteRead(body, announced - len(body))
        except TimeoutError:
            raise hop.error(deadline.words) from None
        except http.client.RemoteDisconnected:
            raise hop.error("closed the connection without answering") from None
        except http.client.IncompleteRead:
            raise hop.error("closed the connection before sending the whole response") from None
        except http.client.BadStatusLine as exc:
            # The banner of whatever listens there (SSH, Redis…) is not repeated.
            size = len(str(exc.args[0]).encode("latin-1", "replace")) if exc.args else 0
            raise _not_a_certificate(hop, size, "not HTTP") from None
        except http.client.HTTPException:
            # http.client's words may quote what the server sent: not repeated.
            raise hop.error(
                "did not return a certificate: not a certificate (invalid HTTP)"
            ) from None
        except OSError as exc:
            raise hop.error(f"could not be read: {exc.strerror or exc}") from None
        return _Response(location=None, body=body)


class DictIssuerFetcher:
    """A fake fetcher answering from a table, for tests.

    Args:
        mapping: URL → the DER certificates to return, or the exception to raise.

    Attributes:
        calls: every URL asked for, in order, repeats included.
    """

    def __init__(self, mapping: Mapping[str, list[bytes] | Exception]) -> None:
        self.mapping = dict(mapping)
        self.calls: list[str] = []

    def fetch(self, url: str) -> list[bytes]:
        """Return or raise what the table says; a URL not in it raises ``FetchError``."""
        self.calls.append(url)
        if url not in self.mapping:
            raise FetchError(f"The issuer URL {_show(url)} is not in this test's table.")
        answer = self.mapping[url]
        if isinstance(answer, Exception):
            raise answer
        return list(answer)


@dataclass(frozen=True)
class _Deadline:
    """When a fetch must end (``time.monotonic()``), and what to say if it does not."""

    at: float
    words: str


@dataclass(frozen=True)
class _Hop:
    """The URL being fetched, and the certificate's URL that led to it."""

    url: str
    origin: str

    def error(self, what: str) -> FetchError:
        via = (
            ""
            if self.url == self.origin
            else f" (reached by following redirects from {_show(self.origin)})"
        )
        return FetchError(f"The issuer URL {_show(self.url)}{via} {what}.")


@dataclass(frozen=True)
class _Target:
    """Where an accepted URL points: host (A-label or IP), port, path with query."""

    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == HTTP_PORT else f"{host}:{self.port}"


@dataclass(frozen=True)
class _Response:
    """A redirect (``location`` set) or a 200 answer."""

    location: str | None
    body: bytes = b""


def _parse_url(hop: _Hop, allowed_ports: frozenset[int] | None) -> _Target:
    """Accept a plain-HTTP URL to a valid host and port, or say why not."""
    url = hop.url
    if len(url) > MAX_URL_LENGTH:
        raise hop.error(
            f"is {len(url)} characters long; chainscan does not fetch URLs longer than "
            f"{MAX_URL_LENGTH} characters"
        )
    # urlsplit silently drops tabs and newlines; http.client rejects the rest.
    # Refuse them all up front, with words.
    if any(not " " < c < "\x7f" for c in url):
        raise hop.error("contains spaces, control or non-ASCII characters, which a URL cannot hold")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise hop.error("is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme == "https":
        raise hop.error(
            "uses https; issuer certificates are published over plain http, and chainscan "
            "fetches them only that way, as browsers do (checking an https server would need "
            "the very certificates being fetched)"
        )
    if scheme != "http":
        if not scheme:
            raise hop.error("is not an absolute http:// URL")
        raise hop.error(
            f"uses the {scheme[:20]}: scheme; chainscan fetches issuer certificates from "
            "http:// URLs only"
        )
    if "@" in parts.netloc:
        raise hop.error(
            "contains a user name or password; chainscan does not send credentials to issuer URLs"
        )
    if not parts.netloc:
        raise hop.error("names no host")
    try:
        target = parse_target(parts.netloc, default_port=HTTP_PORT)
    except TargetError as exc:
        raise hop.error(f"does not name a usable host and port: {exc}") from None
    if target.port in _BAD_PORTS:
        raise hop.error(
            f"points at port {target.port}, which belongs to another protocol (mail, SSH, DNS…); "
            "chainscan does not send HTTP requests there"
        )
    if allowed_ports is not None and target.port not in allowed_ports:
        shown = " and ".join(str(p) for p in sorted(allowed_ports))
        raise hop.error(
            f"points at port {target.port}; chainscan fetches issuer certificates from "
            f"{'ports' if len(allowed_ports) > 1 else 'port'} {shown} only (the operator can "
            "allow others with CHAINSCAN_AIA_ALLOWED_PORTS)"
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Target(host=target.host, port=target.port, path=path)


def _certificates(hop: _Hop, response: _Response) -> list[bytes]:
    """The certificates in a body (DER, PEM or PKCS#7), or say what came instead."""
    body = response.body
    # read_bundle strips whitespace before trying DER, which cuts the last
    # byte of a DER certificate whose signature ends in 0x0a, 0x20…; take
    # the bytes as they are first.
    if load_certificate(body) is not None:
        return [body]
    try:
        found = read_bundle(body)
    except BundleError:
        found = []
    # A PEM block with broken base64 comes back raw: not an issuer we can use.
    certificates = [der for der in found if load_certificate(der) is not None]
    if not certificates:
        raise _not_a_certificate(hop, len(body))
    return certificates


def _not_a_certificate(hop: _Hop, size: int, what: str = "") -> FetchError:
    """The one thing said about an answer that is not a certificate: its size."""
    extra = f", {what}" if what else ""
    return hop.error(f"did not return a certificate: not a certificate ({size} bytes{extra})")


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP/1.1 to one already-checked address, whatever name the Host header carries.

    ``HTTPConnection.connect`` would look the name up again (a second answer
    from a rebinding DNS server could be 127.0.0.1); this one never resolves.
    """

    def __init__(self, target: _Target, address: str, deadline: float) -> None:
        super().__init__(target.host, target.port)
        self._address = address
        self._deadline = deadline

    def connect(self) -> None:
        family = (
            socket.AF_INET6 if ipaddress.ip_address(self._address).version == 6 else socket.AF_INET
        )
        sock = _DeadlineSocket(family, socket.SOCK_STREAM)
        sock.deadline = self._deadline
        try:
            sock.connect((self._address, self.port))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _DeadlineSocket(socket.socket):
    """A socket whose every blocking call ends by one fixed deadline.

    A socket timeout bounds each call, so a server sending a byte every
    second would keep a reader forever; re-arming the timeout with the time
    left before each call bounds the whole exchange instead.
    """

    deadline: float = 0.0

    def _arm(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the deadline has passed")
        self.settimeout(remaining)

    # http.client connects, sends with sendall and reads through makefile(),
    # which calls recv_into; recv is covered for completeness.
    def connect(self, address: Any, /) -> None:
        self._arm()
        super().connect(address)

    def sendall(self, data: ReadableBuffer, flags: int = 0, /) -> None:
        self._arm()
        super().sendall(data, flags)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0, /) -> int:
        self._arm()
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        self._arm()
        return super().recv(bufsize, flags)


def _connect_failure(address: str, port: int, exc: OSError) -> str:
    where = host_port(address, port)
    if isinstance(exc, ConnectionRefusedError):
        return f"{where} refused the connection (nothing listens there)"
    return f"could not connect to {where} ({exc.strerror or exc})"


def _size(limit: int) -> str:
    return f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"


def _show(url: str) -> str:
    """A URL fit for a message: control and non-ASCII characters %-escaped, length capped."""
    text = quote(url, safe=_SHOWN_AS_IS, errors="replace")
    return text if len(text) <= _MAX_SHOWN else f"{text[:_MAX_SHOWN]}…"
