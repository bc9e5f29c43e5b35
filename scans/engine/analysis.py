"""Chain analysis: what a server serves, what it should serve, and why it matters.

``analyse`` takes the certificates exactly as a server sent them and returns a
``ChainAnalysis``: the served chain, the expected chain (built to a trusted
root), findings in plain words and, per client family, whether the served
chain is accepted.

It runs in two stages, evidence then judgement:

- ``AnalysisRun.gather`` does the I/O and the expensive work once and returns
  a frozen ``Evidence`` (``evidence.py``): the certificate records, the graph
  of who signs whom — by name and by signature, looked at separately, because
  the verifier says "candidates exhausted" both for a missing intermediate and
  for the X1/X3 case (right key, wrong name) — and the paths the verifier
  finds over each pool of intermediates (served only, with known CAs, with
  AIA downloads, all of them). Validation is
  ``cryptography.x509.verification`` and nothing else: we never judge
  validity ourselves.
- ``conclude`` judges it with pure functions: per-platform verdicts
  (``platforms.judge``), then client verdicts, findings and roles
  (``diagnosis``), whose words come from ``explain`` and whose codes,
  severities and titles from ``catalogue``.

Nothing here raises on input: garbage bytes, an empty list, 200 certificates,
broken extensions, hostile AIA answers all become findings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import ipaddress
import itertools
import logging
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    ServerVerifier,
    Subject,
    VerificationError,
)

from . import diagnosis, explain
from . import platforms as platform_judge
from .certs import describe, load_certificate
from .errors import FetchError
from .evidence import (
    ALL_ORIGINS,
    ANCHOR,
    FETCHED,
    SERVED,
    SOURCE,
    AiaLog,
    CertRecord,
    Evidence,
    LeafNames,
    Path,
    Paths,
    Walk,
    hostname_matches,
    is_anchor_copy,
    normalise_host,
    signature_verifies,
)
from .report import (
    CertificateInfo,
    ClientVerdict,
    EndpointReport,
    Finding,
    PlatformVerdict,
    Role,
    Verdict,
)
from .trust import TrustStore

log = logging.getLogger(__name__)


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
        fetched: DER of CA certificates newly downloaded via AIA and used on a
            path. Informational: nothing is learned from it (a certificate
            becomes a known issuer only once an expected chain proves it).
        served_roles: one ``Role`` per served certificate (same order).
        expected_roles: one ``Role`` per expected certificate (same order).
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
    served_roles: tuple[str, ...] = ()
    expected_roles: tuple[str, ...] = ()
    platforms: tuple[PlatformVerdict, ...] = ()

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
            served_roles=self.served_roles,
            expected_roles=self.expected_roles,
            platforms=self.platforms,
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
        evidence = AnalysisRun(served, hostname, trust, when, issuers, fetcher, limits).gather()
        return conclude(evidence)
    except Exception as exc:
        log.exception("chain analysis failed")
        return _crashed(served, exc)


# --- records and helpers ----------------------------------------------------------


def _ca_eku_allows_server(
    policy: object, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    """A CA's EKU, where present, must allow TLS servers (as a server verifier checks)."""
    if eku is None:
        return
    if ExtendedKeyUsageOID.SERVER_AUTH not in eku and (
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku
    ):
        # The verifier's own words, so explain_verifier_error translates it.
        raise ValueError("required EKU not found (serverAuth)")


# The web PKI CA policy with the EKU check of a server verifier, for the
# client verifier that builds a path for a leaf without subjectAltName.
_SERVER_CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(
    x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _ca_eku_allows_server
)


@functools.lru_cache(maxsize=2048)
def _parse(der: bytes) -> tuple[CertificateInfo, x509.Certificate | None]:
    """``describe`` plus the parsed certificate, cached.

    The same intermediates come back scan after scan and describing one costs
    ~60-150 µs, more than our whole diagnosis. Certificates are immutable, so
    sharing the parsed objects between analyses (and threads) is safe, and
    ``cryptography`` then parses each one's extensions only once.
    """
    info = describe(der)
    return info, (load_certificate(der) if info.parse_error is None else None)


def _describe(der: bytes) -> CertificateInfo:
    return _parse(der)[0]


def _subject_candidates(host: str | None, dns: Sequence[str], ips: Sequence[str]) -> list[Subject]:
    """Names to verify the path with: the real hostname if it matches, else
    the leaf's own SAN entries, so that a name mismatch never hides the path."""
    out: list[Subject] = []
    if host:
        try:
            if host[-1].isdigit() or ":" in host:  # could be an IP literal
                out.append(x509.IPAddress(ipaddress.ip_address(host)))
            else:
                out.append(x509.DNSName(host))
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
    """What a failure of chainscan itself looks like: ``analysis-failed``.

    Never a chain verdict: no chain finding and no client verdict is made up
    (``clients`` is empty). The endpoint verdict stays within the schema's
    enum as ``broken`` so that nothing treats the endpoint as healthy; the
    code ``analysis-failed`` is what tells the API and alerts it apart from a
    real failure of the chain.
    """
    infos: tuple[CertificateInfo, ...] = ()
    try:
        infos = tuple(_describe(bytes(d)) for d in list(served)[:256])
    except Exception:  # noqa: BLE001
        infos = ()
    return ChainAnalysis(
        served=infos,
        expected=(),
        anchor=None,
        anchor_source=None,
        findings=(explain.analysis_failed(exc),),
        clients=(),
        verdict=Verdict.BROKEN,
        valid_until=None,
        served_roles=tuple(Role.UNKNOWN for _ in infos),
    )


# --- the analysis ---------------------------------------------------------------


class AnalysisRun:
    """The I/O and the expensive work of one ``analyse``; ``gather`` gives its evidence.

    The state here (records, caches, the signature budget, AIA bookkeeping)
    lives only while the evidence is built; nothing judges it.
    """

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
        self.hostname = normalise_host(hostname) if hostname else None
        self.trust = trust
        self.at = at
        self.issuers = issuers
        self.fetcher = fetcher
        self.limits = limits
        self.certs: dict[str, CertRecord] = {}
        self.by_id: dict[int, CertRecord] = {}
        # Indexed by RFC 4514 subject: string keys hash far faster than Names.
        self.by_subject: dict[str, list[CertRecord]] = {}
        self.sig_cache: dict[tuple[str, str], bool] = {}
        self.sig_budget = limits.max_signature_checks
        self.verifiers: dict[dt.datetime, ServerVerifier | ClientVerifier | None] = {}
        self.subject: Subject | None = None
        self.subject_chosen = False
        self.infos: list[CertificateInfo] = []
        self.recs: list[CertRecord | None] = []
        # AIA bookkeeping, for the findings and the AIA clients' verdict.
        self.aia_failures: list[tuple[CertificateInfo, str, str]] = []
        self.aia_unfetched: list[tuple[CertificateInfo, str]] = []
        self.aia_no_url: list[CertificateInfo] = []
        self.aia_used: list[tuple[CertRecord, str]] = []
        self.subject_candidates: list[Subject] = []

    # -- reading ---------------------------------------------------------------

    def _make(self, der: bytes) -> CertRecord | None:
        info, x = _parse(der)
        if x is None:
            return None
        return self.certs.get(info.sha256) or CertRecord(info, x)

    def _register(self, rec: CertRecord, origin: str) -> CertRecord:
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

    def _add(self, der: bytes, origin: str) -> CertRecord | None:
        rec = self._make(der)
        return self._register(rec, origin) if rec is not None else None

    def _anchor(self, cert: x509.Certificate) -> CertRecord:
        sha = self.trust.sha256_of(cert)
        known = self.certs.get(sha)
        if known is not None:
            known.origins.add(ANCHOR)
            return known
        return self._register(CertRecord(self.trust.describe(cert), cert), ANCHOR)

    def _read_served(self) -> None:
        for item in self.raw[: self.limits.max_analysed_certs]:
            der = bytes(item) if isinstance(item, (bytes, bytearray, memoryview)) else b""
            self.infos.append(_describe(der))
            self.recs.append(self._add(der, SERVED))

    # -- graph -------------------------------------------------------------------

    def signs(self, child: CertRecord, parent: CertRecord) -> bool:
        key = (child.sha, parent.sha)
        cached = self.sig_cache.get(key)
        if cached is not None:
            return cached
        if self.sig_budget <= 0:
            return False
        self.sig_budget -= 1
        ok = signature_verifies(child.x, parent.public_key())
        self.sig_cache[key] = ok
        return ok

    def _candidates(self, cert: CertRecord, origins: frozenset[str]) -> list[CertRecord]:
        out: dict[str, CertRecord] = {}
        for rec in self.by_subject.get(cert.issuer, ()):
            if rec.origins & origins and rec is not cert:
                out.setdefault(rec.sha, rec)
        for anchor in self.trust.anchors_for_issuer(cert.issuer):
            rec = self._anchor(anchor)
            if rec is not cert:
                out.setdefault(rec.sha, rec)
        return list(out.values())[: self.limits.max_candidates_per_name]

    def walk_from(self, start: CertRecord, origins: frozenset[str] = ALL_ORIGINS) -> Walk:
        reached = {start.sha: start}
        issuers: dict[str, list[CertRecord]] = {}
        anchors: list[CertRecord] = []
        tops: list[CertRecord] = []
        open_ends: list[CertRecord] = []
        queue = deque([start])
        while queue:
            cert = queue.popleft()
            if self.trust.contains(cert.sha):
                anchors.append(cert)
                continue
            if cert.self_issued:
                tops.append(cert)
                continue
            found = [p for p in self._candidates(cert, origins) if self.signs(cert, p)]
            issuers[cert.sha] = found
            if not found:
                open_ends.append(cert)
            for parent in found:
                if parent.sha not in reached:
                    reached[parent.sha] = parent
                    queue.append(parent)
        to_anchor = {a.sha for a in anchors}
        changed = True
        while changed:
            changed = False
            for sha, parents in issuers.items():
                if sha not in to_anchor and any(p.sha in to_anchor for p in parents):
                    to_anchor.add(sha)
                    changed = True
        return Walk(
            reached, issuers, tuple(anchors), tuple(tops), tuple(open_ends), frozenset(to_anchor)
        )

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
                # The CA policy is the server one: a client verifier would
                # demand clientAuth of a CA whose EKU says serverAuth only.
                verifier = builder.extension_policies(
                    ca_policy=_SERVER_CA_POLICY,
                    ee_policy=ExtensionPolicy.permit_all(),
                ).build_client_verifier()
        self.verifiers[at] = verifier
        return verifier

    def _verify(
        self, leaf: CertRecord, pool: Iterable[CertRecord], at: dt.datetime | None = None
    ) -> tuple[list[CertRecord] | None, str]:
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

    def _seed(self, chain: list[x509.Certificate]) -> list[CertRecord]:
        """Map the verifier's certificates to records; its links need no re-check."""
        recs: list[CertRecord] = []
        for cert in chain:
            rec = self.by_id.get(id(cert))
            if rec is None or rec.x is not cert:
                rec = self._anchor(cert)
            recs.append(rec)
        for child, parent in itertools.pairwise(recs):
            self.sig_cache[(child.sha, parent.sha)] = True
        return recs

    def _pool(self, origins: frozenset[str]) -> list[CertRecord]:
        return [r for r in self.certs.values() if r.origins & origins]

    # -- issuers from elsewhere --------------------------------------------------

    def _collect_from_source(self, leaf: CertRecord) -> None:
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
                    rec = self._make(der)
                    if rec is not None and rec.subject == cert.issuer:
                        self._register(rec, SOURCE)
            for parent in self.by_subject.get(cert.issuer, ()):
                if parent.sha not in seen:
                    seen.add(parent.sha)
                    queue.append(parent)

    def _follow_aia(self, leaf: CertRecord) -> None:
        """Do what Chrome does: download missing issuers from AIA caIssuers URLs."""
        origins = frozenset({SERVED, FETCHED})
        tried: set[str] = set()
        fetches = 0
        for _ in range(self.limits.max_aia_fetches + 1):
            walk = self.walk_from(leaf, origins)
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

    def _fetch_issuer(self, child: CertRecord, url: str) -> bool:
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
            rec = self._make(der)
            if rec is None:
                continue
            # Keep only the real issuer (name and signature): whatever else a
            # hostile URL returns must not be remembered as a known CA.
            if rec.subject == child.issuer and self.signs(child, rec):
                self.aia_used.append((self._register(rec, FETCHED), url))
                return True
            got.append(explain.ref(rec.info))
        what = f"it returned {', '.join(got)}" if got else "it returned no certificate"
        self.aia_failures.append(
            (child.info, url, f"{what}, not the issuer {explain.issuer_label(child.info)}")
        )
        return False

    # -- the run -----------------------------------------------------------------

    def gather(self) -> Evidence:
        """Read, build the graph, ask the verifier and follow AIA: the evidence, once."""
        self._read_served()
        served = tuple(dict.fromkeys(r for r in self.recs if r is not None))
        position: dict[str, int] = {}
        for i, rec in enumerate(self.recs):
            if rec is not None:
                position.setdefault(rec.sha, i)
        base = {
            "hostname": self.hostname,
            "at": self.at,
            "trust": self.trust,
            "limits": self.limits,
            "sent": len(self.raw),
            "infos": tuple(self.infos),
            "recs": tuple(self.recs),
            "served": served,
            "position": position,
        }
        leaf0 = self.recs[0] if self.recs else None
        if leaf0 is None:
            return Evidence(**base)  # type: ignore[arg-type]
        leaf = self._real_leaf(leaf0)
        names = self._leaf_names(leaf)
        self.subject_candidates = _subject_candidates(
            self.hostname if names.host_ok else None, names.dns, names.ips
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
                    # Firefox preloads public intermediates only: one seen under a private root does not count.
                    if preload is not None and not platform_judge.public_preload(
                        self.trust, preload[-1].sha
                    ):
                        preload = None
                if self.aia_used:
                    aia, _ = self._verify(leaf, self._pool(frozenset({SERVED, FETCHED})))
            expected, expected_err = self._verify(leaf, self._pool(ALL_ORIGINS))
        display = expected
        if expected is None:
            display = self._expected_at_another_time(leaf)

        walk = self.walk_from(leaf)
        gaps: tuple[CertRecord, ...] = ()
        if strict is None and not leaf.self_issued:
            served_walk = self.walk_from(leaf, frozenset({SERVED}))
            if not served_walk.anchors:
                gaps = served_walk.open_ends
        # Served certificates on no path from the leaf (anchors sent along are
        # contains-anchor's business, not ours).
        unreachable = tuple(
            r
            for r in served
            if r.sha not in walk.reached and r is not leaf and not is_anchor_copy(self.trust, r)
        )
        # The X1/X3 case: a served certificate that signs a gap under another name.
        same_key = tuple(
            (gap, other)
            for gap in gaps
            for other in unreachable
            if other.subject != gap.issuer and self.signs(gap, other)
        )
        return Evidence(
            **base,  # type: ignore[arg-type]
            leaf0=leaf0,
            leaf=leaf,
            names=names,
            paths=Paths(
                strict=_path(strict),
                strict_error=strict_err,
                preload=_path(preload),
                aia=_path(aia),
                expected=_path(expected),
                expected_error=expected_err,
                display=_path(display),
            ),
            walk=walk,
            gaps=gaps,
            unreachable=unreachable,
            same_key=same_key,
            aia=AiaLog(
                used=tuple(self.aia_used),
                failures=tuple(self.aia_failures),
                unfetched=tuple(self.aia_unfetched),
                no_url=tuple(self.aia_no_url),
                offline=self.fetcher is None,
            ),
            platform=self._platform_evidence(leaf, leaf0, names, strict, served),
        )

    def _platform_evidence(
        self,
        leaf: CertRecord,
        leaf0: CertRecord,
        names: LeafNames,
        strict: list[CertRecord] | None,
        served: tuple[CertRecord, ...],
    ) -> platform_judge.ChainEvidence:
        """What the per-platform judge reads, from this run's certificates."""
        info = leaf.info
        return platform_judge.ChainEvidence(
            leaf=leaf0.x,
            served=tuple(r.x for r in served),
            fetched=tuple(r.x for r in self._pool(frozenset({FETCHED}))),
            known=tuple(r.x for r in self._pool(frozenset({SOURCE}))),
            subjects=tuple(self.subject_candidates),
            blocker=platform_judge.leaf_blocker(
                leaf_is_first=leaf is leaf0,
                unreadable=any(i.parse_error for i in self.infos),
                not_before=info.not_before,
                not_after=info.not_after,
                no_san=names.no_san,
                host_ok=names.host_ok,
                hostname=self.hostname,
                at=self.at,
            ),
            trust=self.trust,
            at=self.at,
            prior_path=tuple(r.x for r in strict) if strict and leaf is leaf0 else (),
        )

    def _expected_at_another_time(self, leaf: CertRecord) -> list[CertRecord] | None:
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
        chain, _ = self._verify(leaf, self._pool(ALL_ORIGINS), at=middle)
        return chain

    def _real_leaf(self, first: CertRecord) -> CertRecord:
        """The server's own certificate: the first one, unless a CA certificate
        was put first and a non-CA certificate comes later (wrong order)."""
        if not first.info.is_ca:
            return first
        for rec in self.recs[1:]:
            if rec is not None and not rec.info.is_ca and not rec.self_issued:
                return rec
        return first

    def _leaf_names(self, leaf: CertRecord) -> LeafNames:
        dns: list[str] = []
        ips: list[str] = []
        try:
            san = leaf.x.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns = [n for n in san.get_values_for_type(x509.DNSName) if isinstance(n, str)]
            ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        except Exception:  # noqa: BLE001 - missing or malformed: both mean "no SAN"
            pass
        no_san = not (dns or ips)
        host_ok = self.hostname is None or (
            not no_san and hostname_matches(self.hostname, dns, ips)
        )
        return LeafNames(tuple(dns), tuple(ips), no_san, host_ok)


def _path(chain: list[CertRecord] | None) -> Path | None:
    return tuple(chain) if chain is not None else None


def conclude(ev: Evidence) -> ChainAnalysis:
    """The analysis of a chain: every judgement over the evidence, assembled.

    Platform verdicts come first because two findings read them
    (``untrusted-root`` where nothing but a root is missing, and
    ``missing-on-platforms``); client verdicts before findings because a
    finding names the families it breaks. Each is a pure function of the
    evidence (and of the verdicts it reads).
    """
    platforms = platform_judge.judge(ev.platform) if ev.platform is not None else ()
    clients = diagnosis.client_verdicts(ev)
    found = diagnosis.findings(ev, clients, platforms)
    chain = ev.paths.display or ()
    anchor = chain[-1] if chain else None
    dates = [c.info.not_after for c in chain if c.info.not_after is not None]
    fetched = tuple(r.info.der for r, _ in ev.aia.used if not (r.origins & {SERVED, SOURCE}))
    return ChainAnalysis(
        served=ev.infos,
        expected=tuple(diagnosis.expected_infos(ev)),
        anchor=anchor.info if anchor else None,
        anchor_source=ev.trust.source_of(anchor.sha) if anchor else None,
        findings=found,
        clients=clients,
        verdict=Verdict.from_findings(found),
        valid_until=min(dates) if dates else None,
        fetched=tuple(dict.fromkeys(fetched)),
        served_roles=diagnosis.served_roles(ev),
        expected_roles=diagnosis.expected_roles(ev),
        platforms=platforms,
    )


__all__ = [
    "AnalysisLimits",
    "AnalysisRun",
    "ChainAnalysis",
    "FetchError",
    "IssuerFetcher",
    "IssuerSource",
    "MemoryFetcher",
    "MemoryIssuerSource",
    "analyse",
    "conclude",
]
