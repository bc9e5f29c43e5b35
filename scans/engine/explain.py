"""The words of every finding: what is wrong, who it breaks, and the exact fix.

``diagnosis`` decides which findings a chain gets and hands the facts
(certificates, dates, URLs) to the functions here; they write the text a
person reads at 2 a.m. — naming the certificates by common name and short
SHA-256, which clients break and why, and the change to make — and take the
code's severity and title from ``catalogue``.

``explain_verifier_error`` translates the messages of ``cryptography``'s
verifier into words and a category (``catalogue.EXPLAINED_BY`` says which
findings already explain each category).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from .catalogue import AIA, ALL_CLIENTS, STRICT, make_finding
from .report import CertificateInfo, Finding, Severity
from .trust import store_phrase

# --- the verifier's words, translated -------------------------------------------

# The verifier appends "(encountered processing <Certificate(subject=<Name(…)>…)>)";
# we keep the name and drop the rest.
_NOISE = re.compile(r"\s*\(encountered processing <Certificate\(subject=<Name\((.*?)\)>.*$")
# Verifier messages -> (category, words); catalogue.EXPLAINED_BY maps a category
# to the findings that already explain it.
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
            f"The certificate {ref(leaf)} is self-signed. It is accepted here only because "
            f"{store_phrase(store)} holds this exact certificate; every client that does not "
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
        f"The server sends {ref(anchor)}, {role} (it is in {store_phrase(store)}). Clients "
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
        f"{store_phrase(store)} holds no roots at all"
        if store_empty
        else f"{'it is' if len(tops) == 1 else 'they are'} not in {store_phrase(store)}"
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
        f"{when(at)} against {store_phrase(store)}). Clients whose trust store has no newer root for "
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


def _weak_what(code: str, certs: Sequence[CertificateInfo]) -> str:
    if code == "weak-signature":
        return "; ".join(f"{ref(c)} is signed with {_hash_name(c)}" for c in certs)
    return "; ".join(f"{ref(c)} has a {c.key_size}-bit {c.key_type} key" for c in certs)


def weak_problem(
    code: str, used: Sequence[CertificateInfo], unused: Sequence[CertificateInfo]
) -> str:
    """The first sentence of a weak-signature or weak-key finding (also a client's reason)."""
    what = _weak_what(code, used or unused)
    if used:
        return what
    return f"{what}, but no path clients build uses it: current clients accept the chain without it"


def _weak(
    code: str,
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
    first = weak_problem(code, used, unused)
    if used:
        return make_finding(
            code, f"{first}. {why}{_unused_note(unused)}", fix, shas([*used, *unused]), ALL_CLIENTS
        )
    return make_finding(
        code,
        f"{first}. Old clients that follow the first path they find (OpenSSL 1.0.x, old "
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
    return _weak(
        "weak-signature",
        "SHA-1 and MD5 signatures can be forged; browsers, Go, Java, and OpenSSL at its "
        "default security level reject them.",
        "Have the certificate (and any such intermediate) re-issued with SHA-256; every CA "
        "still issuing SHA-1 for TLS is long gone from public trust.",
        certs,
        unused,
    )


def weak_key(certs: Sequence[CertificateInfo], unused: Sequence[CertificateInfo] = ()) -> Finding:
    return _weak(
        "weak-key",
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


def untrusted_root_elsewhere(
    *,
    top: str,
    top_sha: str,
    root: str,
    platforms: Sequence[str],
    store: str,
    cross: tuple[str, str] | None,
    clients: Sequence[str],
) -> Finding:
    """``untrusted-root``: the chain's top issuer is a root of other stores, not of this one.

    ``cross``: (issuer name, SHA-256) of a cross-signed copy of ``root`` chainscan knows.
    """
    fix = (
        f"Nothing the server sends is missing: {root} is a root. Clients whose store lacks it "
        f"(here: {store_phrase(store)}) cannot connect. "
    )
    if cross:
        fix += (
            f"Serve the cross-signed {root} (issued by {cross[0]}, SHA-256 {cross[1][:16]}…) "
            f"after {top}, so they reach a root they have."
        )
    else:
        fix += (
            f"If your CA offers a cross-signed {root} (issued by an older root), serve it "
            f"after {top}; otherwise those clients need {root} installed."
        )
    return make_finding(
        "untrusted-root",
        f"{top} is issued by {root}, a root in the stores of {', '.join(platforms)} "
        f"but not in {store_phrase(store)} this report is judged against.",
        fix,
        [top_sha],
        clients,
    )


def untrusted_private_ca(*, top: str, top_sha: str, root: str, clients: Sequence[str]) -> Finding:
    """``untrusted-root``: the chain ends in a private CA no store has and chainscan never saw."""
    return make_finding(
        "untrusted-root",
        f"{top} is issued by {root}, which no public root store has and chainscan has "
        "never seen: the chain ends in a private CA. Public clients reject it.",
        f"Add {root} (the private root) as a trust anchor: install it on every client that must "
        "connect, and add it to chainscan as a custom root to check the rest of the chain. If the "
        "site must work for the public, get the certificate from a public CA.",
        [top_sha],
        clients,
    )


def missing_on_platforms(
    lines: Sequence[tuple[str, str]],
    causes: Iterable[str],
    *,
    accepting: int,
    rejecting: int,
    leaf_sha: str | None,
    clients: Sequence[str],
    legacy_only: bool,
) -> Finding:
    """``missing-on-platforms``: ``lines`` are (platforms, reason) rows of those that reject.

    ``causes``: why they reject, as ``PlatformVerdict.cause`` codes; each cause
    has its own fix.
    """
    fixes: list[str] = []
    why = set(causes)
    if why & {"missing-root", "private-root"}:
        fixes.append(
            "for a root their store lacks, serve a chain that ends at a root they have (a "
            "cross-sign from your CA, if it offers one), or accept that those devices cannot "
            "connect; devices you manage can get the root installed"
        )
    if "refused" in why:
        fixes.append(
            "for a certificate their vendor refuses (Apple's revoked or distrusted list), "
            "no chain through it will work there: get a certificate from a CA they trust"
        )
    if "missing-intermediate" in why:
        fixes.append("serve every intermediate up to the root (the full chain file)")
    if why & {"literal-expired", "literal-not-yet-valid"}:
        fixes.append(
            "stop serving the expired cross-sign: clients that follow the served chain "
            "literally (OpenSSL 1.0.x) stop at it, newer ones find the valid root themselves"
        )
    if why & {"expired-root", "literal-expired", "time"} and not fixes:
        fixes.append("serve the chain to your CA's current root")
    fix = ("For them: " + "; ".join(fixes) + ".") if fixes else "See each platform's reason."
    return make_finding(
        "missing-on-platforms",
        f"{accepting} of {accepting + rejecting} platforms accept this chain, but "
        + "; ".join(f"{who}: {why}" for who, why in lines)
        + ".",
        fix,
        [leaf_sha] if leaf_sha else [],
        clients,
        severity=Severity.INFO if legacy_only else None,
    )


__all__ = [
    "explain_verifier_error",
    "issuer_label",
    "ref",
    "refs",
    "serve_in_order",
    "weak_problem",
    "when",
]
