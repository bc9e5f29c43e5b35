"""Chain analysis: what a server serves, what it should serve, and why it matters.

``analyse`` takes the certificates exactly as a server sent them and returns a
``ChainAnalysis``: the served chain, the expected chain (built to a trusted
root), findings in plain words and, per client family, whether the served
chain is accepted.

Two kinds of work happen here and are kept apart on purpose:

- **Validation** is ``cryptography.x509.verification`` and nothing else: the
  expected chain and every "is there a valid path" answer come from it. We
  never judge validity ourselves.
- **Diagnosis** is our own inspection of names, keys and signatures, because
  the verifier says "candidates exhausted" both for a missing intermediate and
  for the X1/X3 case (an intermediate with the right key and the wrong name).
  Only looking at names and keys separately tells them apart; the verifier's
  messages are only translated into words for ``invalid-path``.

Nothing here raises on input: garbage bytes, an empty list, 200 certificates,
broken extensions, hostile AIA answers all become findings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import ipaddress
import logging
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.verification import (
    ClientVerifier,
    ExtensionPolicy,
    PolicyBuilder,
    ServerVerifier,
    Subject,
    VerificationError,
)

from . import findings as words
from .certs import describe, load_certificate
from .errors import FetchError
from .findings import AIA, ALL_CLIENTS, CLIENT_FAMILIES, STRICT
from .report import CertificateInfo, ClientVerdict, EndpointReport, Finding, Severity, Verdict
from .trust import TrustStore

log = logging.getLogger(__name__)

SERVED, SOURCE, FETCHED, ANCHOR = "served", "source", "aia", "anchor"
_ALL_ORIGINS = frozenset({SERVED, SOURCE, FETCHED})
WEAK_HASHES = frozenset({"sha1", "md5", "md2"})


class IssuerSource(Protocol):
    """Known CA certificates, looked up by the name a certificate gives as issuer.

    The worker backs this with every CA certificate chainscan has ever seen;
    it also stands in for Firefox's list of preloaded intermediates.
    """

    def issuers_for(self, cert: CertificateInfo) -> list[bytes]:
        """DER of known CA certificates whose subject equals ``cert.issuer``."""
        ...


class IssuerFetcher(Protocol):
    """Downloads the certificate(s) at an AIA caIssuers URL."""

    def fetch(self, url: str) -> list[bytes]:
        """DER certificates found at ``url``.

        Raises:
            FetchError: with the reason in words when nothing could be fetched.
        """
        ...


class MemoryIssuerSource:
    """An ``IssuerSource`` over a list of DER certificates (tests, CLI bundles)."""

    def __init__(self, certificates: Iterable[bytes] = ()) -> None:
        self._by_subject: dict[str, list[bytes]] = {}
        for der in certificates:
            info = _describe(bytes(der))
            if info.parse_error is None:
                self._by_subject.setdefault(info.subject, []).append(bytes(der))

    def issuers_for(self, cert: CertificateInfo) -> list[bytes]:
        return list(self._by_subject.get(cert.issuer, ()))


class MemoryFetcher:
    """An ``IssuerFetcher`` answering from a dict: URL -> DER, list of DER or FetchError.

    A URL that is not in the dict fails like an HTTP 404. ``requested`` lists
    every URL asked for, in order, so tests can check what was fetched.
    """

    def __init__(self, responses: Mapping[str, bytes | Sequence[bytes] | FetchError]) -> None:
        self.responses = dict(responses)
        self.requested: list[str] = []

    def fetch(self, url: str) -> list[bytes]:
        self.requested.append(url)
        answer = self.responses.get(url)
        if answer is None:
            raise FetchError(f"{url} answered HTTP 404 (not found)")
        if isinstance(answer, FetchError):
            raise answer
        if isinstance(answer, bytes):
            return [answer]
        return list(answer)


@dataclass(frozen=True)
class AnalysisLimits:
    """Bounds on the work one analysis may do, and the thresholds of findings.

    Attributes:
        max_aia_fetches: AIA downloads per analysis. Real chains need one or
            two hops; each fetch costs a round trip with its own timeout, and a
            hostile server must not make us crawl. Four covers every public
            chain with margin.
        expiry_warning_days: ``leaf-expiring-soon`` below this many days. ACME
            clients renew at 30 days left, so under 21 days renewal has been
            failing for over a week; three weeks still leaves time to fix it
            across a holiday.
        max_chain_certs: ``too-many-certs`` above this many served certificates.
            10 is Java's default ``jdk.tls.maxCertificateChainLength``: Java
            clients refuse longer chains today (mbed TLS and SChannel have
            similar caps; no real chain needs more than 4 or 5).
        max_analysed_certs: served certificates we parse at all; a TLS
            Certificate message can hold thousands of tiny entries.
        max_issuer_lookups: ``IssuerSource`` queries per analysis (database hits).
        max_candidates_per_name: issuer candidates considered per name, so that
            200 certificates with one name do not multiply the work.
        max_signature_checks: signature verifications our own diagnosis may do
            (the verifier has its own budget). ~100 µs each with EC keys.
    """

    max_aia_fetches: int = 4
    expiry_warning_days: int = 21
    max_chain_certs: int = 10
    max_analysed_certs: int = 256
    max_issuer_lookups: int = 16
    max_candidates_per_name: int = 16
    max_signature_checks: int = 256


@dataclass(frozen=True)
class ChainAnalysis:
    """The result of ``analyse`` for one served chain.

    Attributes:
        served: the certificates as sent, order and duplicates kept.
        expected: the chain the server should send, leaf first, without the
            root; empty when no path to a trusted root could be built.
        anchor: the trusted root the expected chain ends at.
        anchor_source: where that root comes from ("Mozilla (certifi …)").
        findings: the problems, worst first.
        clients: one verdict per client family (strict, AIA fetchers, preloaders).
        verdict: ``broken`` with any error, ``warning`` with any warning.
        valid_until: the earliest expiry on the expected chain and its root.
        fetched: DER of CA certificates newly downloaded via AIA, for the
            caller to remember as known issuers.
    """

    served: tuple[CertificateInfo, ...]
    expected: tuple[CertificateInfo, ...]
    anchor: CertificateInfo | None
    anchor_source: str | None
    findings: tuple[Finding, ...]
    clients: tuple[ClientVerdict, ...]
    verdict: Verdict
    valid_until: dt.datetime | None
    fetched: tuple[bytes, ...] = ()

    def apply(self, endpoint: EndpointReport) -> EndpointReport:
        """``endpoint`` with this analysis merged in (findings appended)."""
        found = tuple(endpoint.findings) + self.findings
        return dataclasses.replace(
            endpoint,
            served=self.served,
            expected=self.expected,
            anchor=self.anchor,
            anchor_source=self.anchor_source,
            findings=found,
            clients=self.clients,
            verdict=Verdict.worst([endpoint.verdict, Verdict.from_findings(found)]),
            valid_until=self.valid_until,
        )


def analyse(
    served: Sequence[bytes],
    *,
    hostname: str | None,
    trust: TrustStore,
    at: dt.datetime,
    issuers: IssuerSource | None = None,
    fetcher: IssuerFetcher | None = None,
    limits: AnalysisLimits = AnalysisLimits(),
) -> ChainAnalysis:
    """Diagnose a served chain against a trust store.

    Args:
        served: DER certificates exactly as the server sent them (leaf first,
            order and duplicates kept; may hold garbage or be empty).
        hostname: the name the client asked for; ``None`` skips the name check
            (the no-SNI probe, or an offline check without a host).
        trust: the roots to validate against.
        at: the moment to validate at (aware; naive means UTC).
        issuers: known CA certificates, used to build the expected chain and
            as a stand-in for Firefox's preloaded intermediates.
        fetcher: downloads AIA caIssuers URLs; ``None`` for offline checks.
        limits: work bounds and finding thresholds.

    Returns:
        The analysis; never raises.
    """
    when = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    try:
        return _Analysis(served, hostname, trust, when, issuers, fetcher, limits).run()
    except Exception as exc:
        log.exception("chain analysis failed")
        return _crashed(served, exc)


# --- records and helpers ----------------------------------------------------------


@functools.lru_cache(maxsize=2048)
def _describe(der: bytes) -> CertificateInfo:
    # The same intermediates come back scan after scan; parsing costs ~60 µs.
    return describe(der)


class _Cert:
    """A parsed certificate known to one analysis, with where it came from."""

    __slots__ = ("_key", "info", "issuer", "origins", "sha", "subject", "x")

    def __init__(self, info: CertificateInfo, x: x509.Certificate) -> None:
        self.info = info
        self.x = x
        self.sha = info.sha256
        self.subject = x.subject
        self.issuer = x.issuer
        self.origins: set[str] = set()
        self._key: object = None

    @property
    def self_issued(self) -> bool:
        return self.subject == self.issuer

    def public_key(self) -> object:
        if self._key is None:
            self._key = self.x.public_key()
        return self._key


def _signature_verifies(child: x509.Certificate, key: object) -> bool:
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
            key.verify(sig, tbs, params, hash_alg)  # type: ignore[arg-type]
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


@dataclass
class _Walk:
    """Everything reachable from a leaf by "is issued by" (name and signature)."""

    reached: dict[str, _Cert]
    issuers: dict[str, list[_Cert]]
    anchors: list[_Cert]
    tops: list[_Cert]  # self-issued certificates that are not anchors
    open_ends: list[_Cert]  # no issuer found at all
    to_anchor: set[str]  # certificates from which some anchor is reachable


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
    ("max depth", "other", "the chain is longer than the 8 intermediates a verifier accepts"),
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
_EXPLAINED_BY: dict[str, frozenset[str]] = {
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


def _normalise_host(hostname: str) -> str:
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
    host = _normalise_host(hostname)
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


def _subject_candidates(host: str | None, dns: Sequence[str], ips: Sequence[str]) -> list[Subject]:
    """Names to verify the path with: the real hostname if it matches, else
    the leaf's own SAN entries, so that a name mismatch never hides the path."""
    out: list[Subject] = []
    if host:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            try:
                out.append(x509.DNSName(host))
            except ValueError:
                pass
    for name in dns[:20]:
        concrete = "www" + name[1:] if name.startswith("*.") else name
        try:
            out.append(x509.DNSName(concrete.rstrip(".").lower()))
        except ValueError:  # not an A-label
            continue
    for ip in ips[:20]:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            continue
    return out


def _crashed(served: Sequence[bytes], exc: Exception) -> ChainAnalysis:
    infos: tuple[CertificateInfo, ...] = ()
    try:
        infos = tuple(_describe(bytes(d)) for d in list(served)[:256])
    except Exception:  # noqa: BLE001
        infos = ()
    finding = words.make_finding(
        "invalid-path",
        "chainscan could not finish analysing this chain (internal error: "
        f"{type(exc).__name__}). The served certificates are listed as received.",
        "Report this chain to the chainscan maintainers; check it meanwhile with "
        "`openssl s_client -showcerts`.",
    )
    return ChainAnalysis(
        served=infos,
        expected=(),
        anchor=None,
        anchor_source=None,
        findings=(finding,),
        clients=tuple(
            ClientVerdict(f, *CLIENT_FAMILIES[f], accepts=False, reason="Unknown: analysis failed.")
            for f in ALL_CLIENTS
        ),
        verdict=Verdict.BROKEN,
        valid_until=None,
    )


# --- the analysis ---------------------------------------------------------------


class _Analysis:
    """One run of ``analyse``: state shared by the steps, thrown away after."""

    def __init__(
        self,
        served: Sequence[bytes],
        hostname: str | None,
        trust: TrustStore,
        at: dt.datetime,
        issuers: IssuerSource | None,
        fetcher: IssuerFetcher | None,
        limits: AnalysisLimits,
    ) -> None:
        self.raw = list(served)
        self.hostname = _normalise_host(hostname) if hostname else None
        self.trust = trust
        self.at = at
        self.issuers = issuers
        self.fetcher = fetcher
        self.limits = limits
        self.certs: dict[str, _Cert] = {}
        self.by_id: dict[int, _Cert] = {}
        self.by_subject: dict[x509.Name, list[_Cert]] = {}
        self.sig_cache: dict[tuple[str, str], bool] = {}
        self.sig_budget = limits.max_signature_checks
        self.verifiers: dict[dt.datetime, ServerVerifier | ClientVerifier | None] = {}
        self.subject: Subject | None = None
        self.subject_chosen = False
        self.findings: list[Finding] = []
        self.infos: list[CertificateInfo] = []
        self.recs: list[_Cert | None] = []
        # AIA bookkeeping, for the findings and the AIA clients' verdict.
        self.aia_failures: list[tuple[CertificateInfo, str, str]] = []
        self.aia_unfetched: list[tuple[CertificateInfo, str]] = []
        self.aia_no_url: list[CertificateInfo] = []
        self.aia_used: list[tuple[_Cert, str]] = []
        # What the leaf says about itself; set by _check_leaf.
        self.dns: list[str] = []
        self.ips: list[str] = []
        self.no_san = False
        self.host_ok = True
        self.self_signed = False
        self.subject_candidates: list[Subject] = []

    # -- reading ---------------------------------------------------------------

    def _make(self, der: bytes, info: CertificateInfo) -> _Cert | None:
        known = self.certs.get(info.sha256)
        if known is not None:
            return known
        x = load_certificate(der)
        if x is None:
            return None
        try:
            return _Cert(info, x)
        except Exception:  # noqa: BLE001 - a name that parses lazily and fails
            return None

    def _register(self, rec: _Cert, origin: str) -> _Cert:
        known = self.certs.get(rec.sha)
        if known is None:
            self.certs[rec.sha] = known = rec
            self.by_id[id(rec.x)] = rec
            if origin != ANCHOR:
                self.by_subject.setdefault(rec.subject, []).append(rec)
        elif origin != ANCHOR and not (known.origins - {ANCHOR}):
            self.by_subject.setdefault(known.subject, []).append(known)
        known.origins.add(origin)
        return known

    def _add(self, der: bytes, origin: str) -> _Cert | None:
        info = _describe(der)
        if info.parse_error is not None:
            return None
        rec = self._make(der, info)
        return self._register(rec, origin) if rec is not None else None

    def _anchor(self, cert: x509.Certificate) -> _Cert:
        sha = self.trust.sha256_of(cert)
        known = self.certs.get(sha)
        if known is not None:
            known.origins.add(ANCHOR)
            return known
        return self._register(_Cert(self.trust.describe(cert), cert), ANCHOR)

    def _read_served(self) -> None:
        for item in self.raw[: self.limits.max_analysed_certs]:
            der = bytes(item) if isinstance(item, (bytes, bytearray, memoryview)) else b""
            info = _describe(der)
            self.infos.append(info)
            self.recs.append(self._add(der, SERVED) if info.parse_error is None else None)

    # -- graph -------------------------------------------------------------------

    def _signs(self, child: _Cert, parent: _Cert) -> bool:
        key = (child.sha, parent.sha)
        cached = self.sig_cache.get(key)
        if cached is not None:
            return cached
        if self.sig_budget <= 0:
            return False
        self.sig_budget -= 1
        ok = _signature_verifies(child.x, parent.public_key())
        self.sig_cache[key] = ok
        return ok

    def _candidates(self, cert: _Cert, origins: frozenset[str]) -> list[_Cert]:
        out: dict[str, _Cert] = {}
        for rec in self.by_subject.get(cert.issuer, ()):
            if rec.origins & origins and rec is not cert:
                out.setdefault(rec.sha, rec)
        for anchor in self.trust.anchors_for_issuer(cert.issuer):
            rec = self._anchor(anchor)
            if rec is not cert:
                out.setdefault(rec.sha, rec)
        return list(out.values())[: self.limits.max_candidates_per_name]

    def _walk(self, start: _Cert, origins: frozenset[str] = _ALL_ORIGINS) -> _Walk:
        walk = _Walk({start.sha: start}, {}, [], [], [], set())
        queue = deque([start])
        while queue:
            cert = queue.popleft()
            if self.trust.contains(cert.sha):
                walk.anchors.append(cert)
                continue
            if cert.self_issued:
                walk.tops.append(cert)
                continue
            found = [p for p in self._candidates(cert, origins) if self._signs(cert, p)]
            walk.issuers[cert.sha] = found
            if not found:
                walk.open_ends.append(cert)
            for parent in found:
                if parent.sha not in walk.reached:
                    walk.reached[parent.sha] = parent
                    queue.append(parent)
        walk.to_anchor = {a.sha for a in walk.anchors}
        changed = True
        while changed:
            changed = False
            for sha, parents in walk.issuers.items():
                if sha not in walk.to_anchor and any(p.sha in walk.to_anchor for p in parents):
                    walk.to_anchor.add(sha)
                    changed = True
        return walk

    # -- verification ------------------------------------------------------------

    def _verifier(self, at: dt.datetime) -> ServerVerifier | ClientVerifier | None:
        if at in self.verifiers:
            return self.verifiers[at]
        verifier: ServerVerifier | ClientVerifier | None = None
        store = self.trust.store
        if store is not None:
            builder = PolicyBuilder().store(store).time(at)
            if not self.subject_chosen:
                self.subject_chosen = True
                for subject in self.subject_candidates:
                    try:
                        verifier = builder.build_server_verifier(subject)
                    except ValueError:  # not a valid DNS name for the verifier
                        continue
                    self.subject = subject
                    break
            elif self.subject is not None:
                verifier = builder.build_server_verifier(self.subject)
            if verifier is None:
                # No usable subjectAltName: build the path anyway (no-san says
                # why clients refuse) with the leaf's own checks switched off.
                verifier = builder.extension_policies(
                    ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                    ee_policy=ExtensionPolicy.permit_all(),
                ).build_client_verifier()
        self.verifiers[at] = verifier
        return verifier

    def _verify(
        self, leaf: _Cert, pool: Iterable[_Cert], at: dt.datetime | None = None
    ) -> tuple[list[_Cert] | None, str]:
        """The verifier's path for ``leaf`` with ``pool`` as intermediates, or its error."""
        try:
            verifier = self._verifier(at or self.at)
            if verifier is None:
                return None, "the trust store holds no roots"
            inters = [r.x for r in dict.fromkeys(pool) if r is not leaf]
            if isinstance(verifier, ServerVerifier):
                chain = verifier.verify(leaf.x, inters)
            else:
                chain = verifier.verify(leaf.x, inters).chain
        except VerificationError as exc:
            return None, str(exc)
        except Exception as exc:  # noqa: BLE001 - malformed input can surface as anything
            return None, f"{type(exc).__name__}: {exc}"
        return self._seed(chain), ""

    def _seed(self, chain: list[x509.Certificate]) -> list[_Cert]:
        """Map the verifier's certificates to records; its links need no re-check."""
        recs: list[_Cert] = []
        for cert in chain:
            rec = self.by_id.get(id(cert))
            if rec is None or rec.x is not cert:
                rec = self._anchor(cert)
            recs.append(rec)
        for child, parent in zip(recs, recs[1:], strict=False):
            self.sig_cache[(child.sha, parent.sha)] = True
        return recs

    def _pool(self, origins: frozenset[str]) -> list[_Cert]:
        return [r for r in self.certs.values() if r.origins & origins]

    # -- issuers from elsewhere --------------------------------------------------

    def _collect_from_source(self, leaf: _Cert) -> None:
        """Ask the issuer source for every issuer name on the way up from the leaf."""
        if self.issuers is None:
            return
        asked: set[str] = set()
        seen = {leaf.sha}
        queue = deque([leaf])
        while queue and len(asked) < self.limits.max_issuer_lookups:
            cert = queue.popleft()
            if cert.self_issued or self.trust.contains(cert.sha):
                continue
            name = cert.info.issuer
            if name not in asked and not self.trust.anchors_for_issuer(cert.issuer):
                asked.add(name)
                try:
                    ders = list(self.issuers.issuers_for(cert.info))
                except Exception:
                    log.warning("issuer source failed for %s", name, exc_info=True)
                    ders = []
                for der in ders[: self.limits.max_candidates_per_name]:
                    if not isinstance(der, bytes):
                        continue
                    info = _describe(der)
                    rec = self._make(der, info) if info.parse_error is None else None
                    if rec is not None and rec.subject == cert.issuer:
                        self._register(rec, SOURCE)
            for parent in self.by_subject.get(cert.issuer, ()):
                if parent.sha not in seen:
                    seen.add(parent.sha)
                    queue.append(parent)

    def _follow_aia(self, leaf: _Cert) -> None:
        """Do what Chrome does: download missing issuers from AIA caIssuers URLs."""
        origins = frozenset({SERVED, FETCHED})
        tried: set[str] = set()
        fetches = 0
        for _ in range(self.limits.max_aia_fetches + 1):
            walk = self._walk(leaf, origins)
            if walk.anchors or not walk.open_ends:
                return
            progressed = False
            for gap in walk.open_ends:
                if not gap.info.aia_issuers:
                    self.aia_no_url.append(gap.info)
                for url in gap.info.aia_issuers:
                    if url in tried:
                        continue
                    tried.add(url)
                    if self.fetcher is None or fetches >= self.limits.max_aia_fetches:
                        self.aia_unfetched.append((gap.info, url))
                        continue
                    fetches += 1
                    if self._fetch_issuer(gap, url):
                        progressed = True
                        break
            if not progressed:
                return

    def _fetch_issuer(self, child: _Cert, url: str) -> bool:
        assert self.fetcher is not None
        try:
            ders = list(self.fetcher.fetch(url))
        except FetchError as exc:
            self.aia_failures.append((child.info, url, exc.reason))
            return False
        except Exception as exc:  # noqa: BLE001 - a fetcher bug is a failed fetch, not a crash
            self.aia_failures.append((child.info, url, f"unexpected error: {exc}"[:300]))
            return False
        got: list[str] = []
        for der in ders[:8]:
            if not isinstance(der, bytes):
                continue
            info = _describe(der)
            rec = self._make(der, info) if info.parse_error is None else None
            if rec is None:
                continue
            # Keep only the real issuer (name and signature): whatever else a
            # hostile URL returns must not be remembered as a known CA.
            if rec.subject == child.issuer and self._signs(child, rec):
                self.aia_used.append((self._register(rec, FETCHED), url))
                return True
            got.append(words.ref(info))
        what = f"it returned {', '.join(got)}" if got else "it returned no certificate"
        self.aia_failures.append((child.info, url, f"{what}, not the issuer '{child.info.issuer}'"))
        return False

    # -- the run -----------------------------------------------------------------

    def run(self) -> ChainAnalysis:
        self._read_served()
        self._check_list_shape()
        leaf0 = self.recs[0] if self.recs else None
        if leaf0 is None:
            return self._no_chain()
        leaf = self._real_leaf(leaf0)
        self._check_leaf(leaf)
        self.subject_candidates = _subject_candidates(
            self.hostname if self.host_ok else None, self.dns, self.ips
        )

        served_pool = [r for r in self.recs if r is not None]
        strict, strict_err = (
            self._verify(leaf, served_pool) if leaf is leaf0 else (None, "leaf-not-first")
        )
        preload = aia = expected = strict
        expected_err = strict_err
        if strict is None:
            self._collect_from_source(leaf)
            self._follow_aia(leaf)
            if leaf is leaf0:
                if self._pool(frozenset({SOURCE})):
                    preload, _ = self._verify(leaf, self._pool(frozenset({SERVED, SOURCE})))
                if self.aia_used:
                    aia, _ = self._verify(leaf, self._pool(frozenset({SERVED, FETCHED})))
            expected, expected_err = self._verify(leaf, self._pool(_ALL_ORIGINS))
        display = expected
        if expected is None:
            display = self._expected_at_another_time(leaf)

        walk = self._walk(leaf)
        diag = _Diagnosis(self, leaf, leaf0, walk, strict, expected, display)
        clients = diag.clients(strict_err, preload, aia)
        diag.chain_findings(clients)
        diag.validity_findings()
        diag.invalid_path(strict_err, expected_err)
        if self.aia_failures:
            self.findings.append(words.aia_fetch_failed(self.aia_failures))
        return self._result(display, clients)

    def _expected_at_another_time(self, leaf: _Cert) -> list[_Cert] | None:
        """A path for display when none is valid now because of dates.

        An expired leaf still deserves "this is the chain to serve (once
        renewed)": verify at the middle of the leaf's validity instead.
        """
        nb, na = leaf.info.not_before, leaf.info.not_after
        if nb is None or na is None:
            return None
        middle = nb + (na - nb) / 2
        if middle == self.at:
            return None
        chain, _ = self._verify(leaf, self._pool(_ALL_ORIGINS), at=middle)
        return chain

    def _check_list_shape(self) -> None:
        if not self.raw:
            self.findings.append(words.no_certificate())
            return
        bad = [(i + 1, info) for i, info in enumerate(self.infos) if info.parse_error]
        if bad:
            self.findings.append(words.unreadable_cert(bad))
        positions: dict[str, list[int]] = {}
        for i, info in enumerate(self.infos):
            if info.parse_error is None:
                positions.setdefault(info.sha256, []).append(i + 1)
        dups = [(self.certs[sha].info, p) for sha, p in positions.items() if len(p) > 1]
        if dups:
            self.findings.append(words.duplicate_cert(dups))

    def _real_leaf(self, first: _Cert) -> _Cert:
        """The server's own certificate: the first one, unless a CA certificate
        was put first and a non-CA certificate comes later (wrong order)."""
        if not first.info.is_ca:
            return first
        for rec in self.recs[1:]:
            if rec is not None and not rec.info.is_ca and not rec.self_issued:
                return rec
        return first

    def _check_leaf(self, leaf: _Cert) -> None:
        info = leaf.info
        try:
            san = leaf.x.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            self.dns = [n for n in san.get_values_for_type(x509.DNSName) if isinstance(n, str)]
            self.ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        except Exception:  # noqa: BLE001 - missing or malformed: both mean "no SAN"
            pass
        self.no_san = not (self.dns or self.ips)
        self.host_ok = self.hostname is None or (
            not self.no_san and hostname_matches(self.hostname, self.dns, self.ips)
        )
        self.self_signed = leaf.self_issued
        if info.not_after is not None and info.not_after < self.at:
            self.findings.append(words.leaf_expired(info, self.at))
        elif info.not_before is not None and info.not_before > self.at:
            self.findings.append(words.leaf_not_yet_valid(info, self.at))
        elif info.not_after is not None and info.not_after - self.at < dt.timedelta(
            days=self.limits.expiry_warning_days
        ):
            self.findings.append(words.leaf_expiring_soon(info, self.at))
        if self.no_san:
            self.findings.append(words.no_san(info, self.hostname))
        elif not self.host_ok and self.hostname:
            self.findings.append(words.hostname_mismatch(info, self.hostname))
        if self.self_signed:
            pinned = self.trust.contains(leaf.sha)
            self.findings.append(words.self_signed_leaf(info, pinned=pinned, store=self.trust.name))

    def _no_chain(self) -> ChainAnalysis:
        reason = (
            "Rejects: the server sent no certificate."
            if not self.raw
            else "Rejects: the first certificate the server sent cannot be read."
        )
        clients = tuple(
            ClientVerdict(f, *CLIENT_FAMILIES[f], accepts=False, reason=reason) for f in ALL_CLIENTS
        )
        return self._finish((), None, clients)

    def _result(
        self, chain: list[_Cert] | None, clients: tuple[ClientVerdict, ...]
    ) -> ChainAnalysis:
        return self._finish(tuple(chain or ()), chain[-1] if chain else None, clients)

    def _finish(
        self, chain: tuple[_Cert, ...], anchor: _Cert | None, clients: tuple[ClientVerdict, ...]
    ) -> ChainAnalysis:
        expected = tuple(r.info for r in (chain[:-1] if len(chain) > 1 else chain))
        dates = [c.info.not_after for c in chain if c.info.not_after is not None]
        ranked = sorted(self.findings, key=lambda f: -f.severity.rank)  # stable: keeps our order
        fetched = tuple(r.info.der for r, _ in self.aia_used if not (r.origins & {SERVED, SOURCE}))
        return ChainAnalysis(
            served=tuple(self.infos),
            expected=expected,
            anchor=anchor.info if anchor else None,
            anchor_source=self.trust.source_of(anchor.sha) if anchor else None,
            findings=tuple(ranked),
            clients=clients,
            verdict=Verdict.from_findings(ranked),
            valid_until=min(dates) if dates else None,
            fetched=tuple(dict.fromkeys(fetched)),
        )


class _Diagnosis:
    """Turns the graph and the verifier's answers into findings and verdicts."""

    def __init__(
        self,
        run: _Analysis,
        leaf: _Cert,
        leaf0: _Cert,
        walk: _Walk,
        strict: list[_Cert] | None,
        expected: list[_Cert] | None,
        display: list[_Cert] | None,
    ) -> None:
        self.run = run
        self.leaf = leaf
        self.leaf0 = leaf0
        self.walk = walk
        self.strict = strict
        self.valid = expected is not None  # a valid path exists now, with every source
        chain = display or []
        self.chain = chain
        self.expected = [r.info for r in (chain[:-1] if len(chain) > 1 else chain)]
        self.served = list(dict.fromkeys(r for r in run.recs if r is not None))
        self.position: dict[str, int] = {}
        for i, rec in enumerate(run.recs):
            if rec is not None:
                self.position.setdefault(rec.sha, i)
        self.consumed: set[str] = set()
        self.gaps: list[_Cert] = []
        self.same_key: list[tuple[_Cert, _Cert]] = []
        if strict is None and not run.self_signed:
            served_walk = run._walk(leaf, frozenset({SERVED}))
            if not served_walk.anchors:
                self.gaps = served_walk.open_ends
        # Served certificates on no path from the leaf (anchors sent along are
        # contains-anchor's business, not ours).
        self.unreachable = [
            r
            for r in self.served
            if r.sha not in walk.reached and r is not leaf and not self._is_anchor_copy(r)
        ]
        for gap in self.gaps:
            for other in self.unreachable:
                if other.subject != gap.issuer and run._signs(gap, other):
                    self.same_key.append((gap, other))
                    self.consumed.add(other.sha)

    # -- helpers -------------------------------------------------------------------

    def _right_issuer(self, child: _Cert) -> _Cert | None:
        """The certificate that should follow ``child``: on the expected chain if
        possible, else any known issuer that leads to a root."""
        for rec, nxt in zip(self.chain, self.chain[1:], strict=False):
            if rec is child:
                return nxt
        parents = self.walk.issuers.get(child.sha, [])
        leading = [p for p in parents if p.sha in self.walk.to_anchor]
        return (leading or parents or [None])[0]

    def _missing(self) -> list[_Cert]:
        """Certificates on the way to the root that the server does not send."""
        if self.chain:
            return [r for r in self.chain[1:-1] if SERVED not in r.origins]
        out: list[_Cert] = []
        for gap in self.gaps:
            cur: _Cert | None = self._right_issuer(gap)
            while cur is not None and cur not in out and SERVED not in cur.origins:
                if self.run.trust.contains(cur.sha) or cur.self_issued:
                    break
                out.append(cur)
                cur = self._right_issuer(cur)
        return out

    # -- clients -------------------------------------------------------------------

    def clients(
        self, strict_err: str, preload: list[_Cert] | None, aia: list[_Cert] | None
    ) -> tuple[ClientVerdict, ...]:
        run = self.run
        blocker = None
        info = self.leaf.info
        if self.leaf is not self.leaf0:
            blocker = (
                f"Rejects: the first certificate sent, {words.ref(self.leaf0.info)}, is a CA "
                "certificate, not the server's."
            )
        elif info.not_after is not None and info.not_after < run.at:
            blocker = f"Rejects: the certificate expired on {words.when(info.not_after)}."
        elif info.not_before is not None and info.not_before > run.at:
            blocker = f"Rejects: the certificate is valid only from {words.when(info.not_before)}."
        elif run.no_san:
            blocker = (
                "Rejects: the certificate has no subjectAltName (only a few old libraries fall "
                "back to the Common Name)."
            )
        elif not run.host_ok and run.hostname:
            blocker = f"Rejects: the certificate does not cover '{run.hostname}'."
        problem = self._path_problem(strict_err)
        ok = f"Accepts: the served certificates alone lead to a root in the '{run.trust.name}' store."
        out: list[ClientVerdict] = []
        for family in ALL_CLIENTS:
            if blocker is not None:
                accepts, reason = False, blocker
            elif self.strict is not None:
                accepts, reason = True, ok
            elif family == STRICT:
                accepts, reason = False, f"Rejects: {problem}, and these clients never fill gaps."
            elif family == AIA:
                accepts, reason = self._aia_reason(aia, problem)
            else:
                accepts, reason = self._preload_reason(preload, problem)
            out.append(ClientVerdict(family, *CLIENT_FAMILIES[family], accepts, reason))
        return tuple(out)

    def _path_problem(self, err: str) -> str:
        if self.same_key:
            gap, wrong = self.same_key[0]
            return (
                f"the served {words.ref(wrong.info)} has the right key but the wrong name for "
                f"the issuer of {words.ref(gap.info)}"
            )
        if self.gaps:
            gap = self.gaps[0]
            return (
                f"the server does not send '{gap.info.issuer}', the issuer of {words.ref(gap.info)}"
            )
        return explain_verifier_error(err)[1]

    def _aia_reason(self, aia: list[_Cert] | None, problem: str) -> tuple[bool, str]:
        run = self.run
        if aia is not None:
            got = "; ".join(f"{words.ref(r.info)} from {url}" for r, url in run.aia_used)
            return True, f"Accepts: it downloads {got} (the AIA address in the certificates)."
        if run.aia_unfetched and self.valid:
            child, url = run.aia_unfetched[0]
            why = "offline check" if run.fetcher is None else "fetch limit reached"
            return False, (
                f"May accept if it can fetch {url} (the issuer of {words.ref(child)}); "
                f"chainscan did not fetch it ({why})."
            )
        if run.aia_failures:
            child, url, reason = run.aia_failures[0]
            return False, (
                f"Rejects unless it has '{child.issuer}' cached: downloading {url} failed "
                f"({reason})."
            )
        if run.aia_no_url and self.gaps:
            child = run.aia_no_url[0]
            return False, (
                f"Rejects unless it has '{child.issuer}' cached: {words.ref(child)} has no AIA "
                "address to download its issuer from."
            )
        return False, f"Rejects: {problem}."

    def _preload_reason(self, preload: list[_Cert] | None, problem: str) -> tuple[bool, str]:
        if preload is not None:
            added = [r for r in preload[1:-1] if SERVED not in r.origins]
            return True, (
                f"Accepts: {words.refs(r.info for r in added) or 'the missing issuer'} is a known "
                "CA certificate (chainscan's list of CA certificates it has seen stands in for "
                "Firefox's preloaded intermediates)."
            )
        return False, (
            f"Rejects: {problem}; it is not among the CA certificates chainscan knows (standing "
            "in for Firefox's preloaded intermediates)."
        )

    # -- findings -----------------------------------------------------------------

    def chain_findings(self, clients: tuple[ClientVerdict, ...]) -> None:
        run, add = self.run, self.run.findings.append
        broken = tuple(c.family for c in clients if not c.accepts)
        store_empty = run.trust.store is None
        for gap, wrong in self.same_key:
            right = self._right_issuer(gap)
            add(
                words.same_key(
                    gap.info,
                    wrong.info,
                    right.info if right else None,
                    self.expected,
                    gap.info.aia_issuers,
                    broken or (STRICT,),
                )
            )
        explained = {gap.sha for gap, _ in self.same_key}
        rest = [g for g in self.gaps if g.sha not in explained]
        leftovers = [
            r for r in self.unreachable if r.sha not in self.consumed and not r.self_issued
        ]
        if rest and leftovers and not store_empty:
            right = self._right_issuer(rest[0])
            add(
                words.wrong_intermediate(
                    rest[0].info,
                    [r.info for r in leftovers],
                    right.info if right else None,
                    self.expected,
                    broken or (STRICT,),
                )
            )
            self.consumed.update(r.sha for r in leftovers)
        elif rest and not store_empty:
            self._incomplete(rest, broken)
        self._order()
        self._trust_findings(store_empty)
        extra = [r for r in self.unreachable if r.sha not in self.consumed]
        if extra:
            add(words.extra_certs([r.info for r in extra], self.expected))
        for rec in self.served:
            if self._is_anchor_copy(rec):
                add(
                    words.contains_anchor(
                        rec.info, run.trust.name, on_path=rec.sha in self.walk.reached
                    )
                )
        if len(run.raw) > run.limits.max_chain_certs:
            add(words.too_many_certs(len(run.raw), run.limits.max_chain_certs, self.expected))

    def _incomplete(self, gaps: list[_Cert], broken: tuple[str, ...]) -> None:
        # A gap whose known issuers all end at an untrusted root is not fixed by
        # serving them: untrusted-root says what is wrong instead. A gap with no
        # known issuer at all is still a missing intermediate.
        gaps = [g for g in gaps if g.sha in self.walk.to_anchor or not self.walk.issuers.get(g.sha)]
        if not gaps:
            return
        missing = self._missing()
        run = self.run
        if run.aia_used:
            aia_note = "Chrome, Windows and Apple download it from the AIA address and cope."
        elif run.aia_unfetched:
            aia_note = (
                "Chrome, Windows and Apple may cope if they can download it from "
                f"{run.aia_unfetched[0][1]}, or if they have it cached."
            )
        elif run.aia_failures:
            aia_note = "Downloading it from the AIA address failed, so only browsers that have it cached cope."
        else:
            aia_note = "No AIA address says where to download it, so only browsers that have it cached cope."
        run.findings.append(
            words.incomplete_chain(
                gaps[0].info,
                [r.info for r in missing],
                self.expected,
                aia_note=aia_note,
                clients=broken or (STRICT,),
            )
        )

    def _order(self) -> None:
        violation = self.leaf is not self.leaf0
        for rec in self.served:
            for parent in self.walk.issuers.get(rec.sha, []):
                if SERVED in parent.origins and self.position[parent.sha] < self.position[rec.sha]:
                    violation = True
        if not violation:
            return
        suggested = self.expected or self._topological()
        self.run.findings.append(
            words.wrong_order(
                suggested,
                [r.info for r in self.served],
                leaf_not_first=self.leaf is not self.leaf0,
            )
        )

    def _topological(self) -> list[CertificateInfo]:
        order: list[CertificateInfo] = []
        cur: _Cert | None = self.leaf
        while cur is not None and cur.info not in order:
            if self.run.trust.contains(cur.sha):
                break
            order.append(cur.info)
            parents = [p for p in self.walk.issuers.get(cur.sha, []) if SERVED in p.origins]
            cur = parents[0] if parents else None
        return order

    def _is_anchor_copy(self, rec: _Cert) -> bool:
        trust = self.run.trust
        if trust.contains(rec.sha):
            return True
        if not rec.self_issued:
            return False
        return any(
            trust.describe(a).spki_sha256 == rec.info.spki_sha256
            for a in trust.anchors_for_issuer(rec.subject)
        )

    def _trust_findings(self, store_empty: bool) -> None:
        run, walk = self.run, self.walk
        if run.self_signed:
            return
        if not walk.anchors:
            tops = [t for t in walk.tops if t is not self.leaf]
            if store_empty and not tops:
                tops = walk.open_ends
            if tops:
                run.findings.append(
                    words.untrusted_root(
                        [t.info for t in tops], run.trust.name, store_empty=store_empty
                    )
                )
        elif not self.valid and all(not a.info.is_valid_at(run.at) for a in walk.anchors):
            run.findings.append(
                words.root_expired([a.info for a in walk.anchors], run.at, run.trust.name)
            )

    def validity_findings(self) -> None:
        run = self.run
        on_path = [r for r in self.served if r.sha in self.walk.reached and r is not self.leaf]
        expired = [
            r.info
            for r in on_path
            if not r.self_issued
            and not run.trust.contains(r.sha)
            and not r.info.is_valid_at(run.at)
        ]
        if expired:
            run.findings.append(
                words.intermediate_expired(
                    expired, run.at, valid_path=self.strict is not None, expected=self.expected
                )
            )
        path = dict.fromkeys([self.leaf, *on_path, *self.chain])
        weak_sig = [
            r.info
            for r in path
            if not r.self_issued and (r.info.signature_hash or "").lower() in WEAK_HASHES
        ]
        if weak_sig:
            run.findings.append(words.weak_signature(weak_sig))
        weak_key = [r.info for r in path if _weak_key(r.info)]
        if weak_key:
            run.findings.append(words.weak_key(weak_key))

    def invalid_path(self, strict_err: str, expected_err: str) -> None:
        run = self.run
        codes = {f.code for f in run.findings if f.severity is Severity.ERROR}
        if not self.valid:
            category, text = explain_verifier_error(expected_err)
            if not codes & _EXPLAINED_BY.get(category, frozenset()):
                run.findings.append(words.invalid_path(text, served_only=False, expected=()))
        elif self.strict is None and self.leaf is self.leaf0:
            category, text = explain_verifier_error(strict_err)
            if not codes & _EXPLAINED_BY.get(category, frozenset()):
                run.findings.append(
                    words.invalid_path(text, served_only=True, expected=self.expected)
                )


def _weak_key(info: CertificateInfo) -> bool:
    if info.key_type == "RSA" or info.key_type == "DSA":
        return 0 < info.key_size < 2048
    if info.key_type.startswith("EC"):
        return 0 < info.key_size < 256
    return False


__all__ = [
    "AnalysisLimits",
    "ChainAnalysis",
    "FetchError",
    "IssuerFetcher",
    "IssuerSource",
    "MemoryFetcher",
    "MemoryIssuerSource",
    "analyse",
    "explain_verifier_error",
    "hostname_matches",
]
