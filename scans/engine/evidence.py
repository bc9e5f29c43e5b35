"""Evidence: what one analysis found out about a served chain, built once and frozen.

``analysis`` does the I/O and the expensive work — parsing, the graph of who
signs whom (by name and by signature, looked at separately), the verifier's
paths over each pool of intermediates, AIA downloads — and its product is one
``Evidence``. Everything after that is judging: ``diagnosis`` (client
verdicts, findings, roles) and ``platforms`` (per-platform verdicts) are pure
functions of it, so they can run in any order and give the same answer twice.

Certificate records keep one mutable thing, the set of ``origins``, and only
while the analysis builds them; once an ``Evidence`` exists nothing changes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

from .report import CertificateInfo
from .trust import TrustStore

if TYPE_CHECKING:
    from .analysis import AnalysisLimits
    from .platforms import ChainEvidence

# Where a certificate came from: sent by the server, known from the issuer
# source (our stand-in for Firefox's preloaded list), downloaded via AIA, or a
# root of the trust store. One certificate can have several origins.
SERVED, SOURCE, FETCHED, ANCHOR = "served", "source", "aia", "anchor"
ALL_ORIGINS = frozenset({SERVED, SOURCE, FETCHED})


class CertRecord:
    """A parsed certificate known to one analysis, with where it came from."""

    __slots__ = ("_key", "info", "issuer", "origins", "sha", "subject", "x")

    def __init__(self, info: CertificateInfo, x: x509.Certificate) -> None:
        self.info = info
        self.x = x
        self.sha = info.sha256
        # Names as RFC 4514 text (from ``describe``): compared and hashed
        # thousands of times, where ``x509.Name`` objects are slow.
        self.subject = info.subject
        self.issuer = info.issuer
        self.origins: set[str] = set()
        self._key: object = None

    @property
    def self_issued(self) -> bool:
        return self.info.self_signed  # subject == issuer, compared as Names

    def public_key(self) -> object:
        """The public key, parsed once; ``False`` when it cannot be parsed."""
        if self._key is None:
            try:
                self._key = self.x.public_key()
            except Exception:  # noqa: BLE001 - a broken or unsupported key signs nothing
                self._key = False
        return self._key


Path = tuple[CertRecord, ...]


def signature_verifies(child: x509.Certificate, key: object) -> bool:
    """Whether ``child``'s signature verifies with ``key``, names ignored.

    ``verify_directly_issued_by`` checks the names first and refuses SHA-1; the
    X1/X3 diagnosis needs the key alone, and a SHA-1 chain must still be walked
    to be reported as weak.
    """
    try:
        sig, tbs = child.signature, child.tbs_certificate_bytes
        params = child.signature_algorithm_parameters
        if isinstance(key, rsa.RSAPublicKey):
            hash_alg = child.signature_hash_algorithm
            if hash_alg is None:
                return False
            # cryptography gives no parameters for md5WithRSAEncryption: PKCS#1 v1.5.
            pad = params if params is not None else padding.PKCS1v15()
            key.verify(sig, tbs, pad, hash_alg)  # type: ignore[arg-type]
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, tbs, params)  # type: ignore[arg-type]
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(sig, tbs)
        elif isinstance(key, dsa.DSAPublicKey):
            hash_alg = child.signature_hash_algorithm
            if hash_alg is None:
                return False
            key.verify(sig, tbs, hash_alg)
        else:
            return False
    except Exception:  # noqa: BLE001 - InvalidSignature, unsupported algorithm, wrong key type
        return False
    return True


@dataclass(frozen=True)
class Walk:
    """Everything reachable from a leaf by "is issued by" (name and signature)."""

    reached: Mapping[str, CertRecord]
    issuers: Mapping[str, Sequence[CertRecord]]
    anchors: tuple[CertRecord, ...]
    tops: tuple[CertRecord, ...]  # self-issued certificates that are not anchors
    open_ends: tuple[CertRecord, ...]  # no issuer found at all
    to_anchor: frozenset[str]  # certificates from which some anchor is reachable


def is_anchor_copy(trust: TrustStore, rec: CertRecord) -> bool:
    """A root of ``trust`` (or a self-signed certificate with a root's name and key)."""
    if trust.contains(rec.sha):
        return True
    if not rec.self_issued:
        return False
    return any(
        trust.describe(a).spki_sha256 == rec.info.spki_sha256
        for a in trust.anchors_for_issuer(rec.subject)
    )


# --- names ---------------------------------------------------------------------------


def normalise_host(hostname: str) -> str:
    host = hostname.strip().strip("[]").rstrip(".").lower()
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host


def _wildcard_matches(pattern: str, host: str) -> bool:
    """RFC 6125 §6.4.3 as browsers apply it: ``*`` is the whole left-most label,
    matches exactly one label, and needs at least two labels after it."""
    pattern = pattern.rstrip(".").lower()
    if "*" not in pattern:
        return pattern == host
    labels = pattern.split(".")
    if labels[0] != "*" or "*" in ".".join(labels[1:]) or len(labels) < 3:
        return False
    host_labels = host.split(".")
    return (
        len(host_labels) == len(labels) and host_labels[0] != "" and host_labels[1:] == labels[1:]
    )


def hostname_matches(hostname: str, dns_names: Sequence[str], ips: Sequence[str]) -> bool:
    """Whether a leaf with these SAN entries covers ``hostname`` (DNS or IP literal)."""
    host = normalise_host(hostname)
    if not host or not (host[-1].isdigit() or ":" in host):  # no IP literal: skip the parse
        return any(_wildcard_matches(name, host) for name in dns_names)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return any(_wildcard_matches(name, host) for name in dns_names)
    return any(_same_ip(address, ip) for ip in ips)


def _same_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> bool:
    try:
        return ipaddress.ip_address(text) == address
    except ValueError:
        return False


# --- the evidence ----------------------------------------------------------------------


@dataclass(frozen=True)
class LeafNames:
    """What the leaf says about the names it covers, against the name asked for."""

    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    no_san: bool = False
    host_ok: bool = True


@dataclass(frozen=True)
class Paths:
    """The verifier's answers: one path (leaf to root) per pool of intermediates, or ``None``.

    Attributes:
        strict: the served certificates alone (what strict clients build).
        strict_error: the verifier's message when ``strict`` is ``None``.
        preload: served plus known CA certificates chaining to a public root
            (Firefox's preloaded intermediates).
        aia: served plus the issuers downloaded over AIA (Chrome, Windows, Apple).
        expected: every source together: the chain the server should send.
        expected_error: the verifier's message when ``expected`` is ``None``.
        display: ``expected``, or when none is valid now because of dates, the
            path at the middle of the leaf's validity ("serve this once renewed").
    """

    strict: Path | None = None
    strict_error: str = ""
    preload: Path | None = None
    aia: Path | None = None
    expected: Path | None = None
    expected_error: str = ""
    display: Path | None = None


@dataclass(frozen=True)
class AiaLog:
    """What following AIA caIssuers URLs gave.

    Attributes:
        used: issuers downloaded and used, with their URL.
        failures: (child, url, reason) for each download that failed.
        unfetched: (child, url) chainscan did not try (offline, or the fetch limit).
        no_url: certificates whose issuer is missing and that name no URL.
        offline: no fetcher at all (an offline check).
    """

    used: tuple[tuple[CertRecord, str], ...] = ()
    failures: tuple[tuple[CertificateInfo, str, str], ...] = ()
    unfetched: tuple[tuple[CertificateInfo, str], ...] = ()
    no_url: tuple[CertificateInfo, ...] = ()
    offline: bool = True


@dataclass(frozen=True)
class Evidence:
    """Everything the judges read about one served chain.

    Attributes:
        hostname: the name asked for (normalised), ``None`` when not checked.
        at: the evaluation time (aware).
        trust: the store the report is judged against.
        limits: work bounds and finding thresholds of the analysis.
        sent: how many items the server sent (before any cap).
        infos: one description per served item, in order (unreadable ones too).
        recs: the record of each served item, ``None`` where unreadable.
        served: the readable served certificates, in order, without repeats.
        position: where each of those was first sent (0-based), by SHA-256.
        leaf0: the first served certificate (what clients take as the server's).
        leaf: the server's own certificate: ``leaf0``, unless a CA certificate
            came first and a non-CA one later.
        names: the leaf's names against ``hostname``.
        paths: the verifier's paths per pool.
        walk: the graph from the leaf over every source.
        gaps: certificates the served ones alone cannot chain further (only
            when strict clients have no path).
        unreachable: served certificates on no path from the leaf (copies of
            roots excluded).
        same_key: (gap, served certificate) pairs where the served one signs the
            gap under another name — the X1/X3 case.
        aia: what AIA downloads gave.
        platform: what the per-platform judge reads (``None`` without a leaf).
    """

    hostname: str | None
    at: dt.datetime
    trust: TrustStore
    limits: AnalysisLimits
    sent: int
    infos: tuple[CertificateInfo, ...]
    recs: tuple[CertRecord | None, ...]
    served: tuple[CertRecord, ...] = ()
    position: Mapping[str, int] = dataclasses.field(default_factory=dict)
    leaf0: CertRecord | None = None
    leaf: CertRecord | None = None
    names: LeafNames = LeafNames()
    paths: Paths = Paths()
    walk: Walk | None = None
    gaps: tuple[CertRecord, ...] = ()
    unreachable: tuple[CertRecord, ...] = ()
    same_key: tuple[tuple[CertRecord, CertRecord], ...] = ()
    aia: AiaLog = AiaLog()
    platform: ChainEvidence | None = None

    @property
    def self_signed(self) -> bool:
        return self.leaf is not None and self.leaf.self_issued

    @property
    def store_empty(self) -> bool:
        return self.trust.store is None


__all__ = [
    "ALL_ORIGINS",
    "ANCHOR",
    "FETCHED",
    "SERVED",
    "SOURCE",
    "AiaLog",
    "CertRecord",
    "Evidence",
    "LeafNames",
    "Paths",
    "Walk",
    "hostname_matches",
    "is_anchor_copy",
    "normalise_host",
    "signature_verifies",
]
