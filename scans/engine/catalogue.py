"""The findings catalogue: the data every finding is keyed on.

``CATALOGUE`` is the contract: one entry per stable code, with its severity,
title and meaning. The API, the CLI's JSON, the templates and the tests all key
on these codes, so a code is never renamed, only added. The client families
(``STRICT``, ``AIA``, ``PRELOAD``) and ``EXPLAINED_BY`` (which codes already
explain a category of verifier error) are data of the same kind.

Nothing here writes a sentence about a particular chain: the words that
explain a finding — detail and fix, naming the certificates — are in
``explain``, and ``diagnosis`` decides which findings a chain gets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .report import Finding, Severity

# Client families, as in DESIGN.md's table. Keys are stored in Finding.clients
# and ClientVerdict.family, so they are part of the contract too.
STRICT = "strict"
AIA = "aia"
PRELOAD = "preload"
ALL_CLIENTS = (STRICT, AIA, PRELOAD)

CLIENT_FAMILIES: dict[str, tuple[str, str]] = {
    STRICT: (
        "Strict clients",
        "OpenSSL, curl, wget, Python ssl, Node.js, Go, Java (default), Android apps",
    ),
    AIA: (
        "AIA-fetching clients",
        "Chrome, Windows (CryptoAPI/SChannel, Edge), Apple platforms (Safari, apps)",
    ),
    PRELOAD: ("Preloading clients", "Firefox 75+"),
}
# Clients that send no SNI (Java 6, Android 2.x, IE on Windows XP, monitoring
# probes). Only the no-SNI finding names them; they get no verdict of their own.
LEGACY = "legacy"
_AFFECTED = {
    STRICT: "strict clients",
    AIA: "AIA-fetching clients",
    PRELOAD: "preloading clients",
    LEGACY: "clients that send no SNI",
}


def affected_clients(families: Iterable[str]) -> str:
    """``("strict", "aia")`` → "strict clients and AIA-fetching clients", for people."""
    labels = [_AFFECTED.get(f, f) for f in dict.fromkeys(families)]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


@dataclass(frozen=True)
class CatalogueEntry:
    """One code of the catalogue: its default severity, title and meaning."""

    code: str
    severity: Severity
    title: str
    meaning: str


def _entry(code: str, severity: Severity, title: str, meaning: str) -> tuple[str, CatalogueEntry]:
    return code, CatalogueEntry(code, severity, title, meaning)


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# Severities: ``error`` breaks some clients today, ``warning`` will or may,
# ``info`` breaks nothing. Choices that are not obvious are explained inline.
CATALOGUE: dict[str, CatalogueEntry] = dict(
    [
        _entry(
            "incomplete-chain",
            E,
            "An intermediate certificate is missing",
            "an intermediate needed to reach a trusted root is not served",
        ),
        _entry(
            "wrong-intermediate-same-key",
            E,
            "Wrong intermediate: right key, wrong name",
            "a served intermediate has the right key but not the name the certificate "
            "below it names as issuer (the Let's Encrypt X1/X3 case)",
        ),
        _entry(
            "wrong-intermediate",
            E,
            "Wrong intermediate certificate",
            "a served certificate does not issue the one before it",
        ),
        # Warning, not error: TLS 1.3 (RFC 8446 §4.4.2) lets clients accept any
        # order and every current client does, but TLS 1.2 required strict order
        # and old or embedded stacks (old GnuTLS, Java 6, some IoT TLS libraries)
        # still fail. When the leaf itself is not first, analysis raises it to
        # an error: every client takes the first certificate as the server's.
        _entry(
            "wrong-order",
            W,
            "Certificates are sent in the wrong order",
            "the right certificates, in the wrong order",
        ),
        # Info: RFC 5246/8446 allow sending the root; clients ignore it.
        _entry(
            "contains-anchor",
            INFO,
            "The root certificate is sent",
            "the trusted root itself is sent (harmless but wasteful)",
        ),
        # Warning: usually a sign of the wrong bundle file, adds bytes to every
        # handshake, and breaks the same strict-order stacks as wrong-order.
        _entry(
            "extra-certs",
            W,
            "Unrelated certificates are sent",
            "certificates sent that are on no path",
        ),
        _entry(
            "duplicate-cert",
            W,
            "A certificate is sent more than once",
            "the same certificate sent twice",
        ),
        _entry("leaf-expired", E, "The certificate has expired", "leaf validity"),
        _entry("leaf-not-yet-valid", E, "The certificate is not valid yet", "leaf validity"),
        _entry("leaf-expiring-soon", W, "The certificate expires soon", "leaf validity"),
        # Error by default; analysis lowers it to a warning when the served
        # chain still gives a valid path (an expired cross-sign next to a good
        # intermediate), because then only old path builders break.
        _entry(
            "intermediate-expired",
            E,
            "A served intermediate has expired",
            "a served intermediate or cross-sign is expired",
        ),
        _entry(
            "hostname-mismatch",
            E,
            "The certificate does not cover this hostname",
            "the leaf does not cover the hostname",
        ),
        _entry(
            "no-san",
            E,
            "The certificate has no subjectAltName",
            "the leaf has no subjectAltName (CN only)",
        ),
        _entry(
            "self-signed-leaf",
            E,
            "The certificate is self-signed",
            "the leaf is its own issuer",
        ),
        _entry(
            "untrusted-root",
            E,
            "The chain ends at an untrusted root",
            "the path ends at a root not in the chosen trust store",
        ),
        _entry(
            "missing-on-platforms",
            W,
            "Some platforms reject a chain others accept",
            "some platforms reject the chain (a root their store lacks…), and what would fix it",
        ),
        _entry(
            "root-expired",
            E,
            "The chain ends at an expired root",
            "every path ends at an expired root",
        ),
        _entry(
            "invalid-path",
            E,
            "Certificate validation rejects the chain",
            "the verifier rejects every path for another reason",
        ),
        _entry(
            "weak-signature",
            E,
            "A certificate is signed with a broken hash (SHA-1 or MD5)",
            "SHA-1 / MD5 signatures below the anchor",
        ),
        _entry(
            "weak-key",
            E,
            "A certificate has a key that is too small",
            "RSA < 2048 bits, EC < 256 bits",
        ),
        # Warning: during a rollout addresses legitimately differ for minutes;
        # the per-endpoint findings carry the errors if one of them is broken.
        _entry(
            "endpoints-differ",
            W,
            "Addresses of this host serve different chains",
            "addresses of one host serve different chains",
        ),
        # Warning: only clients that send no SNI (very old Android/Java, some
        # scripts and monitoring probes) see the other certificate.
        _entry(
            "no-sni-different-cert",
            W,
            "Without SNI the server sends another certificate",
            "without SNI the server sends another certificate",
        ),
        # Error: the default limit (10) is Java's jdk.tls.maxCertificateChainLength,
        # so a longer chain is refused by Java clients today.
        _entry(
            "too-many-certs",
            E,
            "The server sends too many certificates",
            "the server sent more certificates than a client will process",
        ),
        # Warning: the fetch only matters for clients that fetch, and the chain
        # problem that made us fetch is reported as its own error.
        _entry(
            "aia-fetch-failed",
            W,
            "An issuer download (AIA) failed",
            "an issuer URL could not be fetched",
        ),
        _entry(
            "unreadable-cert",
            E,
            "The server sends bytes that are not a certificate",
            "a served certificate cannot be parsed",
        ),
        _entry(
            "no-certificate",
            E,
            "The server sends no certificate",
            "the certificate list is empty",
        ),
        # Error, so that no page or alert ever shows the endpoint as healthy;
        # but it is chainscan's failure, not the chain's: no client verdict
        # comes with it, and the API and alerts key on the code.
        _entry(
            "analysis-failed",
            E,
            "chainscan failed while analysing this chain",
            "chainscan itself failed while analysing (never disguised as a chain verdict)",
        ),
        _entry("dns-failed", E, "The hostname does not resolve", "the scan could not complete"),
        _entry(
            "address-blocked",
            E,
            "The address is not allowed to be scanned",
            "the scan could not complete",
        ),
        _entry("connect-failed", E, "The connection failed", "the scan could not complete"),
        _entry("timeout", E, "The server did not answer in time", "the scan could not complete"),
        _entry("not-tls", E, "The port does not speak TLS", "the scan could not complete"),
        _entry("handshake-failed", E, "The TLS handshake failed", "the scan could not complete"),
    ]
)


def make_finding(
    code: str,
    detail: str,
    fix: str,
    certificates: Iterable[str] = (),
    clients: Iterable[str] = (),
    *,
    severity: Severity | None = None,
) -> Finding:
    """Build a Finding with the catalogue's severity and title for ``code``.

    Args:
        code: a key of ``CATALOGUE``.
        detail: what is wrong, naming the certificates.
        fix: the exact change to make.
        certificates: SHA-256 (hex) of the certificates the finding is about.
        clients: the client families (``STRICT``, ``AIA``, ``PRELOAD``) that
            break or may break.
        severity: overrides the catalogue's severity, for the codes whose
            weight depends on context (``intermediate-expired``…).

    Raises:
        ValueError: for a code that is not in the catalogue (a programming error).
    """
    entry = CATALOGUE.get(code)
    if entry is None:
        raise ValueError(f"unknown finding code {code!r}")
    return Finding(
        code=code,
        severity=severity or entry.severity,
        title=entry.title,
        detail=detail,
        fix=fix,
        certificates=tuple(dict.fromkeys(certificates)),
        clients=tuple(clients),
    )


# Verifier error categories (see ``explain.explain_verifier_error``) -> the codes
# that already explain such a failure, so invalid-path is raised only for
# reasons nothing else covers.
EXPLAINED_BY: dict[str, frozenset[str]] = {
    "missing": frozenset(
        {
            "incomplete-chain",
            "wrong-intermediate-same-key",
            "wrong-intermediate",
            "untrusted-root",
            "self-signed-leaf",
        }
    ),
    "time": frozenset(
        {"leaf-expired", "leaf-not-yet-valid", "intermediate-expired", "root-expired"}
    ),
    "weak-key": frozenset({"weak-key"}),
    "weak-signature": frozenset({"weak-signature"}),
    "no-roots": frozenset({"untrusted-root"}),
}


__all__ = [
    "AIA",
    "ALL_CLIENTS",
    "CATALOGUE",
    "CLIENT_FAMILIES",
    "EXPLAINED_BY",
    "LEGACY",
    "PRELOAD",
    "STRICT",
    "CatalogueEntry",
    "affected_clients",
    "make_finding",
]
