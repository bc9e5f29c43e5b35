"""The findings catalogue and the words of every finding.

``CATALOGUE`` is the contract: one entry per stable code, with its severity
and title. The API, the CLI's JSON, the templates and the tests all key on
these codes, so a code is never renamed, only added.

``explain_verifier_error`` translates the messages of ``cryptography``'s
verifier into words (and a category, so that ``invalid-path`` is raised only
for reasons no other finding explains).

The builders below turn what ``analysis`` and ``diagnosis`` found
(certificates, dates, URLs) into the text a person reads at 2 a.m.: what is
wrong, naming the certificates by common name and short SHA-256, which clients
break and why, and the exact change to make. Keeping the words here keeps the
other two modules about detection.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .report import CertificateInfo, Finding, Severity

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


# --- the verifier's words, translated -------------------------------------------

# The verifier appends "(encountered processing <Certificate(subject=<Name(…)>…)>)";
# we keep the name and drop the rest.
_NOISE = re.compile(r"\s*\(encountered processing <Certificate\(subject=<Name\((.*?)\)>.*$")
# Verifier messages -> (category, words). Categories say which of our own
# findings already explain the failure, so invalid-path is only raised for
# reasons nothing else covers.
_RULES: tuple[tuple[str, str, str], ...] = (
    ("no interior errors", "missing", "no issuer could be found to continue the path to a root"),
    (
        "not valid at validation time",
        "time",
        "a certificate on the path is expired or not yet valid",
    ),
    (
        "required EKU not found",
        "other",
        "its Extended Key Usage does not allow TLS server authentication (serverAuth is missing)",
    ),
    (
        "name constraint",
        "other",
        "a CA on the path has name constraints that do not allow the names in the certificate",
    ),
    (
        "basicConstraints.cA",
        "other",
        "a certificate used as an intermediate is not a CA certificate (basicConstraints CA:TRUE "
        "is missing)",
    ),
    (
        "keyCertSign",
        "other",
        "a CA certificate's Key Usage does not allow signing certificates (keyCertSign is missing)",
    ),
    ("path length", "other", "the chain is longer than a CA's path length constraint allows"),
    # A self-signed certificate that is not a trusted root makes the verifier
    # loop until its depth limit: to us that is "no way to a root", not depth.
    ("max depth", "missing", "no path of at most 8 intermediates reaches a trusted root"),
    ("key is too weak", "weak-key", "a key on the path is too small"),
    ("signature algorithm", "weak-signature", "a signature uses an algorithm no longer accepted"),
    (
        "signature check limit",
        "other",
        "the server sent so many candidate certificates that path building gave up",
    ),
    ("subjectAltName", "other", "the certificate has no usable subjectAltName"),
    ("no roots", "no-roots", "the trust store holds no roots"),
)
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


def explain_verifier_error(message: str) -> tuple[str, str]:
    """Translate a ``VerificationError`` message into (category, words).

    The category is one of ``missing``, ``time``, ``weak-key``,
    ``weak-signature``, ``no-roots`` or ``other``.
    """
    match = _NOISE.search(message)
    core = _NOISE.sub("", message)
    for prefix in ("validation failed: ", "candidates exhausted: "):
        core = core.replace(prefix, "")
    where = f" (at {match.group(1)})" if match else ""
    for needle, category, text in _RULES:
        if needle.lower() in message.lower():
            return category, text + where
    return "other", f"the verifier reports: {core.strip()[:300]}{where}"


# --- words -------------------------------------------------------------------

STRICT_WORDS = "curl, OpenSSL, wget, Python, Node.js, Go, Java and Android apps"
DOWNLOAD = "download the expected chain from this report and install it as the chain file"


def ref(cert: CertificateInfo) -> str:
    """``CN=R3 (sha256 1a2b3c4d5e6f7a8b)``: how every text names a certificate."""
    name = f"CN={cert.common_name}" if cert.common_name else cert.subject
    return f"{name} (sha256 {cert.short_fingerprint})"


def issuer_label(cert: CertificateInfo) -> str:
    """The issuer a certificate names, as ``CN=…`` when it has a common name."""
    match = _CN.search(cert.issuer)
    return f"CN={match.group(1)}" if match else f"'{cert.issuer}'"


_CN = re.compile(r"(?:^|,)CN=((?:[^,\\]|\\.)*)")


def refs(certs: Iterable[CertificateInfo]) -> str:
    return ", ".join(ref(c) for c in certs)


def when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "an unknown date"


def shas(certs: Iterable[CertificateInfo]) -> list[str]:
    return [c.sha256 for c in certs]


def serve_in_order(chain: Sequence[CertificateInfo]) -> str:
    """``Serve, in this order: 1. leaf CN=… 2. intermediate CN=…``."""
    if not chain:
        return ""
    items = [
        f"{i}. {'leaf' if i == 1 else 'intermediate'} {ref(c)}" for i, c in enumerate(chain, 1)
    ]
    return "Serve, in this order: " + " ".join(items) + f" — {DOWNLOAD}."


def no_chain_known(issuer: str) -> str:
    return (
        f"Ask your certificate authority for the intermediate named {issuer} (it is in "
        "the bundle they issued with your certificate, often called chain.pem or "
        "ca-bundle.crt) and serve it right after your certificate."
    )


def unreadable_cert(items: Sequence[tuple[int, CertificateInfo]]) -> Finding:
    where = "; ".join(f"position {pos}: {c.parse_error}" for pos, c in items)
    first = items[0][0] == 1
    detail = (
        f"The server sends {len(items)} item(s) in its certificate list that cannot be read as "
        f"certificates ({where}). "
        + (
            "The first one is where the server's own certificate belongs, so every client "
            "rejects the connection."
            if first
            else "TLS libraries (OpenSSL, Go, Java, BoringSSL) parse every certificate in the "
            "list and abort the handshake on one they cannot read."
        )
    )
    fix = (
        "Check the certificate file the server is configured with: it holds something that "
        "is not a PEM certificate (a private key, a truncated or doubly base64-encoded block, "
        "a Windows line-ending mix-up). Rebuild it from the PEM files your CA issued."
    )
    return make_finding("unreadable-cert", detail, fix, shas(c for _, c in items), ALL_CLIENTS)


def no_certificate() -> Finding:
    return make_finding(
        "no-certificate",
        "The server's certificate list is empty, so no client can check who it is talking to; "
        "every client rejects the connection.",
        "Configure a certificate and its key on the server for this name (and check that this "
        "virtual host / listener is the one you configured).",
        clients=ALL_CLIENTS,
    )


def leaf_expired(leaf: CertificateInfo, at: dt.datetime) -> Finding:
    return make_finding(
        "leaf-expired",
        f"The server's certificate {ref(leaf)} expired on {when(leaf.not_after)} "
        f"(checked at {when(at)}). Every client rejects it.",
        "Renew the certificate with your CA (or your ACME client: check why automatic renewal "
        "failed), install the new certificate with its chain, and reload the server.",
        [leaf.sha256],
        ALL_CLIENTS,
    )


def leaf_not_yet_valid(leaf: CertificateInfo, at: dt.datetime) -> Finding:
    return make_finding(
        "leaf-not-yet-valid",
        f"The server's certificate {ref(leaf)} is valid only from {when(leaf.not_before)} "
        f"(checked at {when(at)}). Every client rejects it until then.",
        "Check the server's clock; if it is right, the certificate was issued with a future "
        "start date: serve the previous certificate until then or have it re-issued.",
        [leaf.sha256],
        ALL_CLIENTS,
    )


def leaf_expiring_soon(leaf: CertificateInfo, at: dt.datetime) -> Finding:
    left = (leaf.not_after - at) if leaf.not_after else dt.timedelta(0)
    days = max(0, left.days)
    return make_finding(
        "leaf-expiring-soon",
        f"The server's certificate {ref(leaf)} expires on {when(leaf.not_after)}, in {days} "
        "day(s). Automated renewals usually happen 30 days before expiry, so renewal has "
        "probably been failing.",
        "Renew the certificate now and install it with its chain; then find out why the "
        "automatic renewal did not run (ACME client logs, cron/timer, DNS or HTTP challenge).",
        [leaf.sha256],
        ALL_CLIENTS,
    )


def hostname_mismatch(leaf: CertificateInfo, hostname: str) -> Finding:
    names = ", ".join(leaf.san[:12]) + (" …" if len(leaf.san) > 12 else "")
    return make_finding(
        "hostname-mismatch",
        f"The certificate {ref(leaf)} is valid for {names or 'no name'}, not for "
        f"'{hostname}'. Every client checks the name and rejects the connection (browsers "
        "show a name-mismatch error).",
        f"Get a certificate that lists '{hostname}' in its subjectAltName (a wildcard covers "
        "one label only: *.example.com covers www.example.com, not example.com or a.b."
        "example.com), or check that this server/virtual host is the one meant to answer for "
        "the name.",
        [leaf.sha256],
        ALL_CLIENTS,
    )


def no_san(leaf: CertificateInfo, hostname: str | None) -> Finding:
    cn = leaf.common_name or "(none)"
    cn_note = (
        f" Its Common Name is '{cn}'"
        + (", which matches the hostname" if hostname and cn.lower() == hostname.lower() else "")
        + "."
    )
    return make_finding(
        "no-san",
        f"The certificate {ref(leaf)} has no subjectAltName extension, only a Common Name."
        f"{cn_note} Browsers (Chrome 58+, Firefox, Safari), Go 1.15+ and current libraries "
        "only look at subjectAltName and reject it; a few old libraries still fall back to the "
        "Common Name.",
        "Re-issue the certificate with every hostname in the subjectAltName extension (public "
        "CAs always do; for an internal CA add `subjectAltName = DNS:<name>` to the request or "
        "the signing profile).",
        [leaf.sha256],
        ALL_CLIENTS,
    )


def self_signed_leaf(leaf: CertificateInfo, *, pinned: bool, store: str) -> Finding:
    if pinned:
        return make_finding(
            "self-signed-leaf",
            f"The certificate {ref(leaf)} is self-signed. It is accepted here only because the "
            f"trust store '{store}' holds this exact certificate; every client that does not "
            "has it pinned rejects it.",
            "Fine for a private service whose clients all pin this certificate; otherwise use a "
            "certificate from a CA the clients trust.",
            [leaf.sha256],
            ALL_CLIENTS,
            severity=Severity.INFO,
        )
    return make_finding(
        "self-signed-leaf",
        f"The certificate {ref(leaf)} is self-signed: it names itself as its issuer, so no "
        "client can chain it to a root it trusts, and every client rejects it.",
        "Replace it with a certificate from a public CA (e.g. Let's Encrypt), or from your "
        "internal CA and install that CA's root on the clients.",
        [leaf.sha256],
        ALL_CLIENTS,
    )


def same_key(
    child: CertificateInfo,
    wrong: CertificateInfo,
    right: CertificateInfo | None,
    expected: Sequence[CertificateInfo],
    aia_urls: Sequence[str],
    clients: Sequence[str],
) -> Finding:
    issuer = issuer_label(child)
    owner = f"as {ref(right)}, the certificate that belongs there" if right else f"as {issuer}"
    facts = [f"the same public key {owner} (SPKI sha256 {wrong.spki_sha256[:16]})"]
    if wrong.ski and child.aki and wrong.ski == child.aki:
        facts.append(
            f"its Subject Key Identifier {wrong.ski[:16]}… equals the Authority Key Identifier "
            f"in {child.label}"
        )
    aia = f" from {aia_urls[0]}" if aia_urls else ""
    detail = (
        f"{ref(child)} names {issuer} as its issuer, but the server sends {ref(wrong)} in its "
        f"place. {wrong.label} holds {'; '.join(facts)}. So the signature on {child.label} checks "
        f"out with {wrong.label}'s key and a check of keys alone says nothing is wrong — but "
        f"clients look for the issuer by name first, and {wrong.label} is not {issuer}. Strict "
        f"clients ({STRICT_WORDS}) reject the chain. Chrome, Windows and Apple may still accept "
        f"it because they download {issuer}{aia} or have it cached from other sites, and "
        "Firefox ships it among its preloaded intermediates: that is why it 'works in my "
        "browser'. Servers that choose the intermediate by key identifier (IIS/SChannel) cause "
        "this, and deleting the old intermediate from one certificate store is often not enough."
    )
    if expected and right is not None:
        fix = f"Stop serving {ref(wrong)} and serve {ref(right)} instead. " + serve_in_order(
            expected
        )
    else:
        fix = (
            f"Stop serving {ref(wrong)}. "
            + no_chain_known(issuer_label(child))
            + " On Windows/IIS, remove the old intermediate from the machine's Intermediate "
            "Certification Authorities store as well as the Personal store, import the new one, "
            "and restart the server."
        )
    return make_finding(
        "wrong-intermediate-same-key",
        detail,
        fix,
        [child.sha256, wrong.sha256] + ([right.sha256] if right else []),
        clients,
    )


def wrong_intermediate(
    child: CertificateInfo,
    wrong: Sequence[CertificateInfo],
    right: CertificateInfo | None,
    expected: Sequence[CertificateInfo],
    clients: Sequence[str],
) -> Finding:
    which = f"{ref(right)}" if right else f"a certificate named {issuer_label(child)}"
    detail = (
        f"The server sends {refs(wrong)}, but {'it does' if len(wrong) == 1 else 'they do'} not "
        f"issue {ref(child)}: its issuer is {which}, which the server does not send. Strict "
        f"clients ({STRICT_WORDS}) reject the chain. Browsers may cope by downloading or "
        "remembering the right intermediate, which hides the problem from a quick browser test."
    )
    if expected:
        fix = f"Replace {refs(wrong)} with {which}. " + serve_in_order(expected)
    else:
        fix = f"Remove {refs(wrong)}. " + no_chain_known(issuer_label(child))
    return make_finding(
        "wrong-intermediate",
        detail,
        fix,
        [child.sha256] + shas(wrong) + ([right.sha256] if right else []),
        clients,
    )


def incomplete_chain(
    child: CertificateInfo,
    missing: Sequence[CertificateInfo],
    expected: Sequence[CertificateInfo],
    *,
    aia_note: str,
    clients: Sequence[str],
) -> Finding:
    if missing:
        what = (
            f"The server does not send {refs(missing)}, needed between {ref(child)} and a "
            "trusted root."
        )
    else:
        what = (
            f"The server does not send the issuer of {ref(child)} ({issuer_label(child)}), and "
            "chainscan could not find it among known CA certificates."
        )
    detail = (
        f"{what} Strict clients ({STRICT_WORDS}) never fill the gap and reject the chain. "
        f"{aia_note} This is the classic 'works in my browser, fails in curl' problem."
    )
    fix = serve_in_order(expected) if expected else no_chain_known(issuer_label(child))
    return make_finding(
        "incomplete-chain",
        detail,
        fix,
        [child.sha256, *shas(missing)],
        clients,
    )


def wrong_order(
    suggested: Sequence[CertificateInfo],
    served_order: Sequence[CertificateInfo],
    *,
    leaf_not_first: bool,
) -> Finding:
    sent = " → ".join(ref(c) for c in served_order)
    if leaf_not_first:
        detail = (
            f"The server sends {sent}. The first certificate must be the server's own, but "
            f"{ref(served_order[0])} is a CA certificate; every client takes the first "
            "certificate as the server's and rejects the connection."
        )
        return make_finding(
            "wrong-order",
            detail,
            serve_in_order(suggested),
            shas(served_order),
            ALL_CLIENTS,
            severity=Severity.ERROR,
        )
    detail = (
        f"The server sends {sent}: a certificate comes before the certificate it issued. "
        "Current clients sort this out, but TLS 1.2 requires each certificate to be followed "
        "by its issuer, and older or embedded TLS stacks (old GnuTLS, Java 6, some IoT and "
        "appliance clients) reject the chain."
    )
    return make_finding("wrong-order", detail, serve_in_order(suggested), shas(served_order))


def contains_anchor(anchor: CertificateInfo, store: str, *, on_path: bool) -> Finding:
    role = "the root the chain ends at" if on_path else "a trusted root, not on this chain"
    return make_finding(
        "contains-anchor",
        f"The server sends {ref(anchor)}, {role} (it is in the '{store}' trust store). Clients "
        "use their own copy of a root and ignore the one sent, so this only adds bytes to every "
        "handshake.",
        f"Optional: remove {ref(anchor)} from the chain file.",
        [anchor.sha256],
    )


def extra_certs(extra: Sequence[CertificateInfo], expected: Sequence[CertificateInfo]) -> Finding:
    fix = (
        f"Remove {refs(extra)} from the chain file. " + serve_in_order(expected)
        if expected
        else f"Remove {refs(extra)} from the chain file."
    )
    return make_finding(
        "extra-certs",
        f"The server sends {refs(extra)}, which {'is' if len(extra) == 1 else 'are'} on no path "
        "from the server's certificate to a root: usually the wrong bundle file or a leftover "
        "of an older certificate. Current clients ignore them, but they add bytes to every "
        "handshake and break TLS stacks that expect each certificate to issue the one before "
        "it (old GnuTLS, Java 6, embedded clients).",
        fix,
        shas(extra),
    )


def duplicate_cert(dups: Sequence[tuple[CertificateInfo, Sequence[int]]]) -> Finding:
    where = "; ".join(f"{ref(c)} at positions {', '.join(map(str, p))}" for c, p in dups)
    return make_finding(
        "duplicate-cert",
        f"The server sends the same certificate more than once: {where}. Most clients skip "
        "repeats, but it wastes bytes and breaks stacks that expect each certificate to issue "
        "the one before it. It usually means the chain file was concatenated twice (e.g. "
        "fullchain.pem plus chain.pem).",
        "Keep one copy of each certificate in the chain file.",
        [c.sha256 for c, _ in dups],
    )


def intermediate_expired(
    expired: Sequence[CertificateInfo],
    at: dt.datetime,
    *,
    valid_path: bool,
    expected: Sequence[CertificateInfo],
) -> Finding:
    what = "; ".join(f"{ref(c)} expired on {when(c.not_after)}" for c in expired)
    if valid_path:
        detail = (
            f"The server sends an expired intermediate or cross-sign: {what} (checked at "
            f"{when(at)}). A valid path still exists without it, and current clients find it, "
            "but clients that stop at the first path they build — OpenSSL 1.0.x, GnuTLS before "
            "3.6.14, old Android and Java — follow the expired certificate and fail. This is "
            "how the AddTrust root expiry of May 2020 broke many clients."
        )
        clients: tuple[str, ...] = (STRICT,)
        severity = Severity.WARNING
    else:
        detail = (
            f"The server sends an expired intermediate: {what} (checked at {when(at)}). No valid "
            "path remains through what the server sends, so clients reject the chain."
        )
        clients = ALL_CLIENTS if not expected else (STRICT,)
        severity = Severity.ERROR
    expired_shas = {c.sha256 for c in expired}
    if expected and not expired_shas & {c.sha256 for c in expected}:
        fix = f"Stop serving {refs(expired)}. " + serve_in_order(expected)
    else:
        # The only path known runs through the expired certificate itself:
        # telling the admin to serve it again would be no fix at all.
        fix = (
            f"Stop serving {refs(expired)}: download the current intermediate from your CA "
            "(its repository or your ACME client's chain file) and serve it instead; if the "
            "leaf was issued under the expired intermediate, renew the leaf too."
        )
    return make_finding(
        "intermediate-expired", detail, fix, shas(expired), clients, severity=severity
    )


def untrusted_root(tops: Sequence[CertificateInfo], store: str, *, store_empty: bool) -> Finding:
    why = (
        f"the trust store '{store}' holds no roots at all"
        if store_empty
        else f"{'it is' if len(tops) == 1 else 'they are'} not in the '{store}' trust store"
    )
    return make_finding(
        "untrusted-root",
        f"The chain ends at {refs(tops)}, and {why}. Clients that do not have this root "
        "installed reject the chain.",
        "If this is your private CA, install its root on every client (and add it to chainscan "
        "as a custom root to check the rest of the chain). If the site must work for the "
        "public, get the certificate from a public CA.",
        shas(tops),
        ALL_CLIENTS,
    )


def root_expired(roots: Sequence[CertificateInfo], at: dt.datetime, store: str) -> Finding:
    what = "; ".join(f"{ref(c)} expired on {when(c.not_after)}" for c in roots)
    return make_finding(
        "root-expired",
        f"Every path from the server's certificate ends at an expired root: {what} (checked at "
        f"{when(at)}, trust store '{store}'). Clients whose trust store has no newer root for "
        "this chain reject it — as when DST Root CA X3 expired in September 2021 and AddTrust "
        "External CA Root in May 2020.",
        "Ask your CA for the chain to its current root and serve that (see the expected chain "
        "once it validates); on old clients, update their trust store.",
        shas(roots),
        ALL_CLIENTS,
    )


def invalid_path(reason: str, *, served_only: bool, expected: Sequence[CertificateInfo]) -> Finding:
    if served_only:
        detail = (
            f"The chain the server sends is rejected: {reason}. A valid chain exists with other "
            "certificates, so the server is sending the wrong ones."
        )
        fix = serve_in_order(expected)
        clients: tuple[str, ...] = (STRICT,)
    else:
        detail = f"Certificate validation rejects every path for this certificate: {reason}."
        fix = (
            "Have the certificate re-issued with the right extensions (or serve the "
            "certificate the CA meant for TLS servers); if the limit comes from an internal CA, "
            "fix that CA's profile."
        )
        clients = ALL_CLIENTS
    return make_finding("invalid-path", detail, fix, (), clients)


def _hash_name(cert: CertificateInfo) -> str:
    names = {"sha1": "SHA-1", "md5": "MD5", "md2": "MD2"}
    return names.get((cert.signature_hash or "").lower(), cert.signature_algorithm)


def _unused_note(unused: Sequence[CertificateInfo]) -> str:
    if not unused:
        return ""
    return (
        f" {refs(unused)} {'is' if len(unused) == 1 else 'are'} sent too, but no path clients "
        "build uses it: remove it from the chain file."
    )


def _weak(
    code: str,
    what: str,
    why: str,
    fix: str,
    used: Sequence[CertificateInfo],
    unused: Sequence[CertificateInfo],
) -> Finding:
    """A weak-signature or weak-key finding that follows the paths clients build.

    ``used``: weak certificates on those paths (an error: clients reject them).
    ``unused``: weak certificates the server sends that no such path uses (a
    served cross-sign for other roots): clients that build paths like the
    verifier never touch them, old path builders that take the first path may,
    so a warning whose fix is to remove them.
    """
    if used:
        return make_finding(
            code, f"{what}. {why}{_unused_note(unused)}", fix, shas([*used, *unused]), ALL_CLIENTS
        )
    return make_finding(
        code,
        f"{what}, but no path clients build uses it: current clients accept the chain "
        "without it. Old clients that follow the first path they find (OpenSSL 1.0.x, old "
        f"Android and Java) may take it and fail. {why}",
        f"Remove {refs(unused)} from the chain file; no client needs "
        f"{'it' if len(unused) == 1 else 'them'}.",
        shas(unused),
        (STRICT,),
        severity=Severity.WARNING,
    )


def weak_signature(
    certs: Sequence[CertificateInfo], unused: Sequence[CertificateInfo] = ()
) -> Finding:
    what = "; ".join(f"{ref(c)} is signed with {_hash_name(c)}" for c in (certs or unused))
    return _weak(
        "weak-signature",
        what,
        "SHA-1 and MD5 signatures can be forged; browsers, Go, Java, and OpenSSL at its "
        "default security level reject them.",
        "Have the certificate (and any such intermediate) re-issued with SHA-256; every CA "
        "still issuing SHA-1 for TLS is long gone from public trust.",
        certs,
        unused,
    )


def weak_key(certs: Sequence[CertificateInfo], unused: Sequence[CertificateInfo] = ()) -> Finding:
    what = "; ".join(f"{ref(c)} has a {c.key_size}-bit {c.key_type} key" for c in (certs or unused))
    return _weak(
        "weak-key",
        what,
        "Keys below RSA 2048 or EC 256 bits can be broken; browsers and current "
        "libraries reject them.",
        "Generate a new key (RSA 2048+ or EC P-256) and a new certificate for it; for a weak "
        "intermediate, ask the CA for its current chain.",
        certs,
        unused,
    )


def too_many_certs(count: int, limit: int, expected: Sequence[CertificateInfo]) -> Finding:
    fix = (
        serve_in_order(expected)
        if expected
        else f"Serve only your certificate and its intermediates ({limit} or fewer)."
    )
    return make_finding(
        "too-many-certs",
        f"The server sends {count} certificates. Java refuses chains longer than {limit} "
        "(jdk.tls.maxCertificateChainLength) and small embedded clients have lower limits, so "
        "they abort the handshake.",
        fix,
        (),
        (STRICT,),
    )


def analysis_failed(exc: BaseException) -> Finding:
    return make_finding(
        "analysis-failed",
        "chainscan itself failed while analysing this chain (internal error: "
        f"{type(exc).__name__}); this is not a verdict on your chain. The served certificates "
        "are listed as received.",
        "Scan again; if it fails again, report it to the chainscan operators. Meanwhile check "
        "the chain with `openssl s_client -showcerts`.",
    )


def aia_fetch_failed(failures: Sequence[tuple[CertificateInfo, str, str]]) -> Finding:
    what = "; ".join(
        # A fetcher's reason usually names the URL already ("The issuer URL … timed out").
        f"{reason.rstrip('.')} (issuer of {ref(c)})"
        if url in reason
        else f"{url} (issuer of {ref(c)}): {reason.rstrip('.')}"
        for c, url, reason in failures
    )
    return make_finding(
        "aia-fetch-failed",
        f"Downloading the issuer from the certificate's AIA address failed: {what}. Chrome, "
        "Windows and Apple use this address to repair a missing intermediate; when it fails "
        "they fail too, unless they have the intermediate cached.",
        "Serve the full chain so that no client needs to download anything; if the URL is "
        "your CA's, tell them it is broken.",
        [c.sha256 for c, _, _ in failures],
        (AIA,),
    )


__all__ = [
    "AIA",
    "ALL_CLIENTS",
    "CATALOGUE",
    "CLIENT_FAMILIES",
    "LEGACY",
    "PRELOAD",
    "STRICT",
    "CatalogueEntry",
    "affected_clients",
    "make_finding",
]
