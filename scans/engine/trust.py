"""Trust stores: the roots a chain must end at.

A scan is always judged against one store: the Mozilla roots (shipped by
certifi, what Firefox, curl on many systems and Python's ``certifi`` users
trust), the operating system bundle of the machine running chainscan, no roots
at all, or either of those plus a person's own roots for a private PKI.

The standard stores are read and indexed once per process (``functools.cache``):
parsing certifi's bundle costs ~10 ms and building the verifier's ``Store``
another ~0.5 ms, which is more than the whole analysis of a chain.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import Store

from .certs import BundleError, describe, load_certificate, read_bundle
from .report import CertificateInfo

MOZILLA = "mozilla"
SYSTEM = "system"
NONE = "none"
KINDS = (MOZILLA, SYSTEM, NONE)

# Where Linux distributions keep the OpenSSL-format bundle, most common first:
# Debian/Ubuntu/Alpine/Gentoo, Fedora/RHEL (two spellings), openSUSE, Alpine/BSD.
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
)
# A directory of one-PEM-per-file roots (c_rehash layout), used when no bundle exists.
SYSTEM_DIRS = ("/etc/ssl/certs", "/etc/pki/tls/certs")
# A hashed directory can also hold CRLs and symlinks; bound what we read.
MAX_DIR_FILES = 2000


class TrustStoreError(ValueError):
    """A trust store could not be built; the message says why, for a person."""


@dataclass(frozen=True, eq=False)
class TrustStore:
    """A set of trust anchors and the verifier ``Store`` built from them.

    Equality is identity (``eq=False``): stores are built once and shared, and
    identity hashing lets them key caches.

    Attributes:
        name: ``mozilla``, ``system``, ``none`` or a custom name such as
            ``mozilla+Corp Root bundle``; what a report shows as "trust store".
        anchors: the root certificates, deduplicated.
        sources: SHA-256 (hex) of each anchor -> where it came from, e.g.
            ``Mozilla (certifi 2024.08.30)`` or ``custom: Corp Root bundle``.
        store: the ``cryptography`` verifier store, ``None`` when there are no
            anchors (the verifier refuses an empty store).
        note: a sentence for the report when the store is not what was asked
            for (e.g. no system bundle was found and Mozilla's roots stand in).
    """

    name: str
    anchors: tuple[x509.Certificate, ...]
    sources: Mapping[str, str]
    store: Store | None
    note: str | None = None
    _by_subject: dict[x509.Name, tuple[x509.Certificate, ...]] = field(
        init=False, repr=False, default_factory=dict
    )
    _by_subject_text: dict[str, tuple[x509.Certificate, ...]] = field(
        init=False, repr=False, default_factory=dict
    )
    _sha: dict[int, str] = field(init=False, repr=False, default_factory=dict)
    _info: dict[str, CertificateInfo] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        by_text: dict[str, list[x509.Certificate]] = {}
        for cert in self.anchors:
            by_subject.setdefault(cert.subject, []).append(cert)
            by_text.setdefault(_rfc4514(cert.subject), []).append(cert)
            self._sha[id(cert)] = _sha256(cert)
        self._by_subject.update({k: tuple(v) for k, v in by_subject.items()})
        self._by_subject_text.update({k: tuple(v) for k, v in by_text.items()})

    def __len__(self) -> int:
        return len(self.anchors)

    def contains(self, sha256: str) -> bool:
        """Whether the certificate with this SHA-256 (hex) is an anchor."""
        return sha256 in self.sources

    def source_of(self, sha256: str) -> str | None:
        """Where the anchor with this SHA-256 came from, or ``None``."""
        return self.sources.get(sha256)

    def sha256_of(self, anchor: x509.Certificate) -> str:
        """The SHA-256 (hex) of one of this store's anchors (computed once)."""
        return self._sha.get(id(anchor)) or _sha256(anchor)

    def anchors_for_issuer(self, issuer: x509.Name | str) -> tuple[x509.Certificate, ...]:
        """Anchors whose subject equals ``issuer``.

        Args:
            issuer: the issuer name of a certificate, as a ``cryptography`` Name
                (exact match, as the verifier compares names) or as an RFC 4514
                string (as ``CertificateInfo.issuer`` holds it).

        Returns:
            The matching anchors; usually zero or one, several when a root was
            re-issued with the same name.
        """
        if isinstance(issuer, x509.Name):
            return self._by_subject.get(issuer, ())
        return self._by_subject_text.get(issuer, ())

    def describe(self, anchor: x509.Certificate) -> CertificateInfo:
        """The report form of an anchor, built once per anchor."""
        sha = self.sha256_of(anchor)
        info = self._info.get(sha)
        if info is None:
            info = describe(anchor.public_bytes(serialization.Encoding.DER))
            self._info[sha] = info
        return info


def _sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _rfc4514(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except Exception:  # noqa: BLE001 - a root with an odd name still anchors
        return ""


def build_store(
    name: str, labelled: Iterable[tuple[x509.Certificate, str]], *, note: str | None = None
) -> TrustStore:
    """Build a ``TrustStore`` from certificates and their source labels.

    The first label seen for a certificate wins, so a base store's labels are
    kept when a person uploads a root that is already trusted.
    """
    anchors: list[x509.Certificate] = []
    sources: dict[str, str] = {}
    for cert, label in labelled:
        sha = _sha256(cert)
        if sha in sources:
            continue
        sources[sha] = label
        anchors.append(cert)
    store = Store(anchors) if anchors else None
    return TrustStore(name=name, anchors=tuple(anchors), sources=sources, store=store, note=note)


def _load_all(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM/DER/PKCS#7 bundle, skipping unreadable ones.

    A system bundle may carry one certificate ``cryptography`` dislikes (say, a
    negative serial number); one bad root must not cost us all the others.
    """
    try:
        ders = read_bundle(data)
    except BundleError:
        return []
    out: list[x509.Certificate] = []
    with warnings.catch_warnings():
        # Old roots with non-positive serials trigger a deprecation warning per load.
        warnings.simplefilter("ignore")
        for der in ders:
            cert = load_certificate(der)
            if cert is not None:
                out.append(cert)
    return out


@functools.cache
def mozilla_store() -> TrustStore:
    """The Mozilla root program, as packaged by ``certifi``. Built once per process."""
    label = f"Mozilla (certifi {certifi.__version__})"
    certs = _load_all(Path(certifi.where()).read_bytes())
    return build_store(MOZILLA, ((c, label) for c in certs))


def _system_candidates() -> list[str]:
    # SSL_CERT_FILE is what the machine's OpenSSL would use, so it comes first.
    env = os.environ.get("SSL_CERT_FILE")
    return ([env] if env else []) + list(SYSTEM_BUNDLES)


@functools.cache
def system_store() -> TrustStore:
    """The operating system's CA bundle. Built once per process.

    Reads the first readable bundle among ``SSL_CERT_FILE`` and the usual Linux
    locations, else a directory of PEM files. When none exists (a slim
    container without ``ca-certificates``), the Mozilla roots stand in and the
    store's ``note`` and source labels say so, so a report never claims to use
    a system store that was not there.
    """
    for path in _system_candidates():
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue
        certs = _load_all(data)
        if certs:
            return build_store(SYSTEM, ((c, f"system ({path})") for c in certs))
    for directory in SYSTEM_DIRS:
        certs = _load_dir(Path(directory))
        if certs:
            return build_store(SYSTEM, ((c, f"system ({directory})") for c in certs))
    mozilla = mozilla_store()
    label = "Mozilla (certifi), standing in: no system CA bundle was found"
    note = (
        "No system CA bundle was found (looked at "
        + ", ".join(_system_candidates())
        + "); the Mozilla roots from certifi were used instead."
    )
    return build_store(SYSTEM, ((c, label) for c in mozilla.anchors), note=note)


def _load_dir(directory: Path) -> list[x509.Certificate]:
    try:
        entries = sorted(directory.iterdir())[:MAX_DIR_FILES]
    except OSError:
        return []
    out: list[x509.Certificate] = []
    for entry in entries:
        if entry.suffix not in (".pem", ".crt") or not entry.is_file():
            continue
        try:
            out.extend(_load_all(entry.read_bytes()))
        except OSError:
            continue
    return out


@functools.cache
def empty_store() -> TrustStore:
    """No roots at all: every chain ends at an untrusted root.

    Useful as the base for a purely private PKI (``store_with_extra``).
    """
    return build_store(NONE, ())


def store_with_extra(base: TrustStore, pem_bytes: bytes, label: str) -> TrustStore:
    """``base`` plus a person's own roots, e.g. the root of a private PKI.

    Args:
        base: the store to extend (usually one of the cached standard stores).
        pem_bytes: PEM, DER or PKCS#7 with one or more root certificates.
        label: a short name for the bundle, shown as the anchors' source
            ("custom: <label>") and in the store's name.

    Returns:
        A new store; cached, so scanning the same private PKI repeatedly does
        not rebuild it.

    Raises:
        TrustStoreError: when the bytes hold no readable certificate.
    """
    return _store_with_extra(base, bytes(pem_bytes), label.strip() or "custom")


@functools.lru_cache(maxsize=32)
def _store_with_extra(base: TrustStore, pem_bytes: bytes, label: str) -> TrustStore:
    try:
        ders = read_bundle(pem_bytes)
    except BundleError as exc:
        raise TrustStoreError(f"the custom roots could not be read: {exc}") from exc
    extra = [c for c in (load_certificate(d) for d in ders) if c is not None]
    if not extra:
        raise TrustStoreError("the custom roots hold no readable certificate")
    labelled = [(c, base.sources.get(base.sha256_of(c), "")) for c in base.anchors]
    labelled += [(c, f"custom: {label}") for c in extra]
    return build_store(f"{base.name}+{label}", labelled, note=base.note)


def load_trust_store(
    kind: str, extra_pem: bytes | None = None, extra_label: str = "custom"
) -> TrustStore:
    """The store a scan asked for, by name, optionally with custom roots.

    Args:
        kind: ``mozilla``, ``system`` or ``none`` (case-insensitive).
        extra_pem: custom roots to add (PEM/DER/PKCS#7), or ``None``.
        extra_label: the name of those roots in reports.

    Raises:
        TrustStoreError: unknown kind, or unreadable custom roots.
    """
    normalised = kind.strip().lower()
    loaders = {MOZILLA: mozilla_store, SYSTEM: system_store, NONE: empty_store}
    if normalised not in loaders:
        raise TrustStoreError(f"unknown trust store {kind!r}; choose one of {', '.join(KINDS)}")
    base = loaders[normalised]()
    if extra_pem:
        return store_with_extra(base, extra_pem, extra_label)
    return base


# --- the store in words --------------------------------------------------------------

_STORE_WORDS = {
    MOZILLA: "Mozilla",
    SYSTEM: "this machine's system store",
    NONE: "no public store",
}
_STORE_PHRASES = {
    MOZILLA: "the Mozilla trust store",
    SYSTEM: "this machine's system store",
    NONE: "the empty trust store",
}


def _store_parts(name: str) -> tuple[str, list[str]]:
    """``mozilla+file root.pem+Corp Root CA`` → ("mozilla", ["root.pem", "Corp Root CA"])."""
    base, *extra = name.split("+") if name else ("",)
    return base, [e.removeprefix("file ").strip() for e in extra if e.strip()]


def store_words(name: str) -> str:
    """A store's name as people say it, on its own: "Mozilla, plus your anchors: root.pem, Corp Root CA"."""
    base, anchors = _store_parts(name)
    words = _STORE_WORDS.get(base, base or "the configured store")
    if not anchors:
        return words
    if base == NONE:
        return "only your anchors: " + ", ".join(anchors)
    return f"{words}, plus your anchors: " + ", ".join(anchors)


def store_phrase(name: str) -> str:
    """A store's name inside a sentence: "not in *the Mozilla trust store*".

    Every text of the engine names the store this way (never its technical
    name, ``mozilla+file root.pem``), so the JSON, the CLI and the pages read
    alike.
    """
    base, anchors = _store_parts(name)
    core = _STORE_PHRASES.get(base) or (f"the {base} trust store" if base else "the trust store")
    if not anchors:
        return core
    if base == NONE:
        return f"your own anchors ({', '.join(anchors)})"
    return f"{core} plus your anchors ({', '.join(anchors)})"


__all__ = [
    "KINDS",
    "TrustStore",
    "TrustStoreError",
    "build_store",
    "empty_store",
    "load_trust_store",
    "mozilla_store",
    "store_phrase",
    "store_with_extra",
    "store_words",
    "system_store",
]
