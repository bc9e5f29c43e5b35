"""Turning what people type into scan targets.

People paste ``https://Example.com:8443/login?x=1``, type ``bücher.example``,
or list ``a.com, b.com:444`` on one line. Each piece becomes a ``Target``
(A-label host, port) or a ``TargetError`` whose message can be shown next to
the form field as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import idna

from .policy import parse_ip

DEFAULT_PORT = 443
MAX_TARGETS = 50
MAX_HOSTNAME_LENGTH = 253
MAX_INPUT_LENGTH = 10_000

_SPLIT_RE = re.compile(r"[\s,;]+")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class TargetError(ValueError):
    """The text is not a host we can scan; the message says why, in words."""


@dataclass(frozen=True, order=True)
class Target:
    """A host and port to scan. ``host`` is an IDNA A-label in lower case or an IP."""

    host: str
    port: int = DEFAULT_PORT

    @property
    def is_ip(self) -> bool:
        return parse_ip(self.host) is not None

    @property
    def display(self) -> str:
        """The host in Unicode for people (``bücher.example``), with the port if not 443."""
        host = self.host
        if not self.is_ip:
            try:
                host = idna.decode(host)
            except idna.IDNAError:
                pass
        elif ":" in host:
            host = f"[{host}]"
        return host if self.port == DEFAULT_PORT else f"{host}:{self.port}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORT else f"{host}:{self.port}"


def parse_port(text: str) -> int:
    # ASCII digits only: str.isdigit() also accepts "²" and "٤", which int()
    # then refuses with a bare ValueError (or reads as a port nobody typed).
    if not (text.isascii() and text.isdigit()) or len(text) > 5:
        raise TargetError(f"{text!r} is not a port number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise TargetError(f"port {port} is out of range (1–65535)")
    return port


def normalise_hostname(text: str) -> str:
    """Return the IDNA A-label form of a hostname or the canonical text of an IP.

    Raises:
        TargetError: if it is not a valid hostname.
    """
    host = text.strip().rstrip(".")
    if not host:
        raise TargetError("the host name is empty")
    ip = parse_ip(host)
    if ip is not None:
        return str(ip)
    bad = next((c for c in host if c.isspace() or ord(c) < 0x20 or c in "/\\@?#[]<>\"'`"), None)
    if bad is not None:
        raise TargetError(f"{text!r} is not a host name: {_char_words(bad)} is not allowed")
    if re.fullmatch(r"[0-9.]+|0x[0-9a-f.x]+|[0-9a-fx.]*0x[0-9a-f]+", host.lower()):
        # 2130706433, 0x7f.1, 127.1: numeric forms that resolvers turn into
        # addresses. They are not host names; ask for the dotted address.
        raise TargetError(
            f"{text!r} looks like a numeric address in an unusual form; "
            "write it as a dotted IPv4 address (e.g. 192.0.2.10)"
        )
    try:
        ascii_host = _a_labels(host)
    except (idna.IDNAError, UnicodeError) as exc:
        raise TargetError(f"{text!r} is not a host name: {_idna_words(host, exc)}") from None
    ascii_host = ascii_host.lower()
    if len(ascii_host) > MAX_HOSTNAME_LENGTH:
        raise TargetError(f"the host name is longer than {MAX_HOSTNAME_LENGTH} characters")
    labels = ascii_host.split(".")
    for label in labels:
        # Underscores appear in real (non-hostname) DNS names; allow them as
        # browsers do, but nothing else outside LDH.
        if not _LABEL_RE.match(label.replace("_", "a")):
            raise TargetError(
                f"{text!r} is not a host name: {label!r} may hold only letters, digits, "
                "'-' and '_', and not start or end with '-'"
            )
    if labels[-1].isdigit():
        raise TargetError(f"{text!r} is not a host name: the last part is a number")
    return ascii_host


def _char_words(c: str) -> str:
    if c == " ":
        return "a space"
    if c.isspace() or ord(c) < 0x20 or not c.isprintable():
        return f"the invisible character U+{ord(c):04X}"
    return repr(c)


# The IDNA library's messages, in the words of someone typing a host name.
_IDNA_WORDS = (
    ("Empty Label", "it has two dots in a row"),
    ("Label too long", "a part between dots is longer than 63 characters"),
    (
        "must not start or end with a hyphen",
        "a part between dots cannot start or end with a hyphen",
    ),
    ("3rd and 4th", "a part cannot have '--' in the third and fourth place"),
    ("Invalid A-label", "a part starting with 'xn--' is not valid punycode"),
    ("Domain too long", f"it is too long (more than {MAX_HOSTNAME_LENGTH} characters)"),
)
_CODEPOINT = re.compile(r"Codepoint U\+([0-9A-Fa-f]{4,6})")


def _idna_words(host: str, exc: Exception) -> str:
    """Why ``host`` is not a host name, without the IDNA library's vocabulary."""
    message = str(exc)
    match = _CODEPOINT.search(message)
    if match:
        return f"{_char_words(chr(int(match.group(1), 16)))} is not allowed"
    for needle, words in _IDNA_WORDS:
        if needle.lower() in message.lower():
            return words
    return "it is not a valid internationalised host name"


def _a_labels(host: str) -> str:
    if host.isascii() and "_" in host:
        # IDNA refuses "_"; labels carrying one are checked as LDH plus "_" by
        # the caller, every other label still goes through IDNA.
        return ".".join(
            label if "_" in label else idna.encode(label, uts46=True).decode("ascii")
            for label in host.split(".")
        )
    return idna.encode(host, uts46=True).decode("ascii")


def parse_target(text: str, *, default_port: int = DEFAULT_PORT) -> Target:
    """Parse one target: ``host``, ``host:port``, ``[v6]:port`` or a URL.

    Raises:
        TargetError: with a message fit to show a person.
    """
    raw = text.strip()
    if not raw:
        raise TargetError("the target is empty")
    if len(raw) > 2048:
        raise TargetError("the target is too long to be a host name or URL")
    port = default_port
    rest = raw
    match = _SCHEME_RE.match(rest)
    if match:
        scheme = match.group(0)[:-3].lower()
        rest = rest[match.end() :]
        if scheme not in ("https", "http", "wss", "ws", "tls", "ldaps", "smtps", "imaps"):
            raise TargetError(f"the scheme {scheme!r} is not a TLS service chainscan can check")
        # Drop the path, query, fragment and any user:password@. A backslash
        # ends the host too, as in browsers: https://a.example\\@b.example/
        # goes to a.example.
        rest = re.split(r"[/?#\\]", rest, maxsplit=1)[0]
        rest = rest.rsplit("@", 1)[-1]
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise TargetError(f"{raw!r} has an unclosed '[' around an IPv6 address")
        host, tail = rest[1:end], rest[end + 1 :]
        if tail:
            if not tail.startswith(":"):
                raise TargetError(f"{raw!r}: unexpected text after the IPv6 address")
            port = parse_port(tail[1:])
        if parse_ip(host) is None:
            raise TargetError(f"{host!r} is not a valid IPv6 address")
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
        port = parse_port(port_text)
    elif rest.count(":") > 1:
        host = rest  # a bare IPv6 address
        if parse_ip(host) is None:
            raise TargetError(f"{raw!r} is not a host name, and not an IPv6 address")
    else:
        host = rest
    return Target(host=normalise_hostname(host), port=port)


def parse_targets(text: str) -> tuple[list[Target], list[str]]:
    """Parse a list (one per line or comma-separated); return targets and error messages.

    Duplicates are dropped, order kept.
    """
    if len(text) > MAX_INPUT_LENGTH:
        return [], [f"the list is longer than {MAX_INPUT_LENGTH} characters"]
    targets: list[Target] = []
    errors: list[str] = []
    pieces = [p for p in _SPLIT_RE.split(text) if p]
    for piece in pieces:
        try:
            target = parse_target(piece)
        except TargetError as exc:
            errors.append(str(exc))
            continue
        if target not in targets:
            targets.append(target)
    if not pieces:
        errors.append("enter at least one host name")
    if len(targets) > MAX_TARGETS:
        errors.append(f"at most {MAX_TARGETS} hosts at a time ({len(targets)} given)")
    return targets, errors
