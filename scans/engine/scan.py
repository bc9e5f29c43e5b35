"""Running a scan: resolve → policy → handshake per address → analyse → report.

This is the one entry point the CLI and the worker share. Every network seam
(resolver, prober, issuer fetcher, learned issuers) is passed in, so a test can
point a made-up host name at several loopback servers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from .aia import HttpIssuerFetcher
from .analysis import AnalysisLimits, IssuerFetcher, IssuerSource, analyse
from .catalogue import LEGACY, make_finding
from .errors import FetchError
from .evidence import hostname_matches
from .network import (
    OpenSSLProber,
    ProbeLimits,
    Prober,
    ProbeResult,
    ResolveError,
    Resolver,
    SystemResolver,
    host_port,
)
from .policy import AddressBlocked, AddressPolicy, parse_ip
from .report import EndpointReport, Finding, Report, Severity, Verdict, host_endpoints
from .targets import Target
from .trust import TrustStore

NO_SNI_CLIENTS = (LEGACY,)


@dataclass(frozen=True)
class ScanConfig:
    """Everything a scan may do, decided by the operator.

    Attributes:
        scan_timeout: wall-clock budget for the whole scan: handshakes not
            done by then are reported as timed out, and issuer (AIA) fetches
            are cut at it or not started; the analyses still run, offline.
        max_addresses: a name with more addresses is scanned on the first ones.
        parallelism: handshakes in flight at once within one scan.
        max_aia_fetches: issuer downloads for the whole scan, all endpoints
            together (each analysis also has its own cap): 16 addresses
            serving distinct leaves with 8 tarpit URLs each must not cost 68
            fetches. Eight is twice what one real chain ever needs.
        max_served_certs: a server sending more certificates than this is
            refused like one sending too many bytes (``too-many-certs``, no
            chain kept), so a hostile host cannot store hundreds of fresh
            certificates per address and scan. Above ``too-many-certs``'
            finding threshold (10), so long real chains are still analysed.
    """

    policy: AddressPolicy = field(default_factory=AddressPolicy)
    probe: ProbeLimits = field(default_factory=ProbeLimits)
    analysis: AnalysisLimits = field(default_factory=AnalysisLimits)
    scan_timeout: float = 30.0
    max_addresses: int = 16
    parallelism: int = 8
    no_sni_probe: bool = True
    max_aia_fetches: int = 8
    max_served_certs: int = 32


@dataclass
class Seams:
    """The pluggable parts of a scan. Defaults are the real network."""

    resolver: Resolver = field(default_factory=SystemResolver)
    prober: Prober = field(default_factory=OpenSSLProber)
    issuers: IssuerSource | None = None
    fetcher: IssuerFetcher | None = None


def run_scan(
    target: Target,
    *,
    trust: TrustStore,
    config: ScanConfig | None = None,
    seams: Seams | None = None,
    pin: Sequence[str] = (),
    at: dt.datetime | None = None,
) -> Report:
    """Scan every address of ``target`` and return the report. Never raises on network input.

    Args:
        pin: scan only these addresses (still checked by the policy), sending
            the host name as SNI — one node behind a load balancer, or a
            server before the DNS switch.
        at: evaluation time for validity (default: now).
    """
    config = config or ScanConfig()
    seams = seams or Seams()
    started = time.monotonic()
    if seams.fetcher is not None:
        budget = ScanFetcher(
            seams.fetcher,
            deadline=started + config.scan_timeout,
            timeout=config.scan_timeout,
            max_fetches=config.max_aia_fetches,
        )
        seams = dataclasses.replace(seams, fetcher=budget)
    when = at or dt.datetime.now(dt.UTC)
    sni = None if target.is_ip else target.host

    def finish(
        endpoints: list[EndpointReport], findings: list[Finding], error: str | None
    ) -> Report:
        counted = host_endpoints(endpoints)
        verdict = Verdict.worst([e.verdict for e in counted] + [Verdict.from_findings(findings)])
        return Report(
            host=target.host,
            port=target.port,
            trust_store=trust.name,
            evaluated_at=when,
            endpoints=tuple(endpoints),
            findings=tuple(findings),
            verdict=verdict,
            error=error,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )

    # 1. Resolve (or take the pinned addresses).
    try:
        addresses = (
            list(dict.fromkeys(pin)) if pin else seams.resolver.resolve(target.host, target.port)
        )
    except ResolveError as exc:
        finding = make_finding(
            "dns-failed",
            detail=f"{exc}. Without an address there is nothing to connect to.",
            fix=(
                f"Check the spelling of {target.host}, and that its A/AAAA records exist "
                "(`dig A host` and `dig AAAA host`). If the name is internal, chainscan's "
                "resolver must be able to see your internal DNS."
            ),
        )
        return finish([], [finding], str(exc))
    addresses = addresses[: config.max_addresses]

    # 2. The policy, on each resolved address, before anything connects.
    endpoints: dict[tuple[str, bool], EndpointReport] = {}
    allowed: list[str] = []
    for address in addresses:
        try:
            config.policy.check(address)
        except AddressBlocked as exc:
            endpoints[(address, True)] = _failed_endpoint(
                address,
                target.port,
                sni,
                "address-blocked",
                str(exc),
                fix=(
                    "If this host is yours and inside your network, the operator can allow "
                    "it with CHAINSCAN_ALLOWED_NETWORKS (a list of networks) or "
                    "CHAINSCAN_ALLOW_PRIVATE_ADDRESSES=true; the CLI takes --allow-private."
                ),
            )
            continue
        allowed.append(str(parse_ip(address)))

    # 3. Handshakes in parallel, with SNI on every address and once without.
    jobs: list[Job] = [(a, sni) for a in allowed]
    if sni is not None and allowed and config.no_sni_probe:
        jobs.append((allowed[0], None))
    results = _probe_all(jobs, target.port, config, seams.prober, started + config.scan_timeout)

    # 4. Analyse each chain.
    for (address, probe_sni), result in results.items():
        endpoints[(address, probe_sni is not None or sni is None)] = _endpoint_from_probe(
            address, target, probe_sni, result, trust=trust, at=when, config=config, seams=seams
        )

    ordered = [endpoints[k] for k in sorted(endpoints, key=lambda k: (not k[1], _addr_key(k[0])))]
    findings = _cross_endpoint_findings(ordered, target)
    readable = [e for e in ordered if e.served]
    error = None
    if not readable:
        reasons = [f.detail for e in ordered for f in e.findings if f.severity == Severity.ERROR]
        error = reasons[0] if reasons else "no address could be scanned"
    return finish(ordered, findings, error)


Job = tuple[str, str | None]  # (address, SNI name or None)


class ScanFetcher:
    """The issuer fetcher all analyses of one scan share: one cache, one deadline, one cap.

    Each URL is fetched once per scan (answers and failures are kept), every
    fetch ends by the scan's deadline, and after ``max_fetches`` downloads, or
    once the deadline has passed, a URL is refused with a reason the
    ``aia-fetch-failed`` finding shows.

    Args:
        inner: the real fetcher; an ``HttpIssuerFetcher`` is told the deadline.
        deadline: ``time.monotonic()`` moment the scan ends.
        timeout: the scan's budget in seconds, for the words.
        max_fetches: downloads allowed for the whole scan.
    """

    def __init__(
        self, inner: IssuerFetcher, *, deadline: float, timeout: float, max_fetches: int
    ) -> None:
        self.inner = inner
        self.deadline = deadline
        self.timeout = timeout
        self.max_fetches = max_fetches
        self.fetches = 0
        self._answers: dict[str, list[bytes] | FetchError] = {}
        self._lock = threading.Lock()

    def fetch(self, url: str) -> list[bytes]:
        with self._lock:
            answer = self._answers.get(url)
            if answer is None:
                refusal = self._refusal()
                if refusal is not None:
                    raise FetchError(f"The issuer URL {url} was not fetched: {refusal}.")
                self.fetches += 1
        if answer is None:
            answer = self._fetch(url)
            with self._lock:
                self._answers[url] = answer
        if isinstance(answer, FetchError):
            raise FetchError(answer.reason)
        return list(answer)

    def _refusal(self) -> str | None:
        used = "the scan's AIA budget was used up"
        if self.fetches >= self.max_fetches:
            return f"{used} ({self.max_fetches} fetches per scan)"
        if time.monotonic() >= self.deadline:
            return f"{used} (its {self.timeout:g} s deadline had passed)"
        return None

    def _fetch(self, url: str) -> list[bytes] | FetchError:
        try:
            if isinstance(self.inner, HttpIssuerFetcher):
                return self.inner.fetch(url, deadline=self.deadline)
            return self.inner.fetch(url)
        except FetchError as exc:
            return FetchError(exc.reason)


def _probe_all(
    jobs: list[Job], port: int, config: ScanConfig, prober: Prober, deadline: float
) -> dict[Job, ProbeResult]:
    """Every handshake of a scan, ``config.parallelism`` at most at once, by ``deadline``.

    The calling thread runs the first handshake itself and a pool runs the
    rest, so the usual scan (one address, plus the no-SNI probe) starts one
    thread, not two: less CPU per scan, and fewer threads contending for the
    GIL in a busy worker. Handshakes still running at the deadline are
    reported as timed out and left to end on their own timeouts.
    """
    if not jobs:
        return {}
    if config.parallelism <= 1:
        return {job: _probe_inline(prober, job, port, config, deadline) for job in jobs}
    first, rest = jobs[0], jobs[1:]
    results: dict[Job, ProbeResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(config.parallelism - 1, len(rest))))
    try:
        futures: dict[Future[ProbeResult], Job] = {
            pool.submit(prober.probe, a, port, s, config.probe): (a, s) for a, s in rest
        }
        results[first] = _probe_inline(prober, first, port, config, deadline)
        pending = set(futures)
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            done, pending = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    results[futures[future]] = future.result()
                except Exception as exc:  # noqa: BLE001 - a prober bug must not lose the scan
                    results[futures[future]] = _prober_crashed(exc)
        for future in pending:
            future.cancel()
            results[futures[future]] = _out_of_time(futures[future][0], config.scan_timeout)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return {job: results[job] for job in jobs}


def _probe_inline(
    prober: Prober, job: Job, port: int, config: ScanConfig, deadline: float
) -> ProbeResult:
    """One handshake in this thread, its timeouts cut to what is left of the scan's budget."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return _out_of_time(job[0], config.scan_timeout)
    limits = config.probe
    # Tenths of a second: the timeouts appear in findings ("within 1.4 s").
    connect = min(limits.connect_timeout, max(round(remaining, 1), 0.1))
    clipped = dataclasses.replace(
        limits,
        connect_timeout=connect,
        handshake_timeout=min(limits.handshake_timeout, max(round(remaining - connect, 1), 0.1)),
        server_timeout=min(limits.server_timeout, max(round(remaining - connect, 1), 0.1)),
    )
    try:
        return prober.probe(job[0], port, job[1], clipped)
    except Exception as exc:  # noqa: BLE001 - a prober bug must not lose the scan
        return _prober_crashed(exc)


def _prober_crashed(exc: Exception) -> ProbeResult:
    return ProbeResult(
        error="handshake-failed",
        error_detail=f"internal error while probing: {type(exc).__name__}",
    )


def _out_of_time(address: str, budget: float) -> ProbeResult:
    return ProbeResult(
        error="timeout",
        error_detail=(
            f"the scan's time budget ({budget:g} s) ran out before {address} finished its handshake"
        ),
    )


def _addr_key(address: str) -> tuple[int, str]:
    ip = parse_ip(address)
    return (ip.version if ip else 9, f"{int(ip):040d}" if ip else address)


_NETWORK_FIXES = {
    "connect-failed": (
        "Check that the server is running and listens on this port, and that no firewall "
        "between chainscan and the server rejects the connection."
    ),
    "timeout": (
        "Check firewalls and load-balancer health: the address accepts nothing or answers too "
        "slowly. If the server is just slow, the operator can raise CHAINSCAN_CONNECT_TIMEOUT "
        "and CHAINSCAN_HANDSHAKE_TIMEOUT."
    ),
    "not-tls": (
        "Point chainscan at the TLS port (usually 443), or configure TLS on this one. Services "
        "that start in plain text and upgrade (STARTTLS) are not supported yet."
    ),
    "handshake-failed": (
        "Look at the server's TLS configuration and its error log at the time of this scan: "
        "a broken certificate file or key, or no protocol/cipher in common, are the usual causes."
    ),
    "too-many-certs": (
        "Serve only the leaf and the intermediates that lead to the root (usually 2–3 "
        "certificates); remove the rest from the chain file."
    ),
}


def _failed_endpoint(
    address: str, port: int, sni: str | None, code: str, detail: str, *, fix: str
) -> EndpointReport:
    finding = make_finding(code, detail=detail, fix=fix)
    return EndpointReport(
        address=address,
        port=port,
        sni=sni,
        findings=(finding,),
        verdict=Verdict.from_findings([finding]),
        error=code,
    )


def _endpoint_from_probe(
    address: str,
    target: Target,
    sni: str | None,
    result: ProbeResult,
    *,
    trust: TrustStore,
    at: dt.datetime,
    config: ScanConfig,
    seams: Seams,
) -> EndpointReport:
    base = EndpointReport(
        address=address,
        port=target.port,
        sni=sni,
        tls_version=result.tls_version,
        cipher=result.cipher,
        connect_ms=_round(result.connect_ms),
        handshake_ms=_round(result.handshake_ms),
    )
    if len(result.chain) > config.max_served_certs:
        result = dataclasses.replace(
            result,
            chain=[],
            error="too-many-certs",
            error_detail=(
                f"{host_port(address, target.port)} sent {len(result.chain)} certificates, more "
                f"than the {config.max_served_certs} chainscan accepts from one server"
            ),
        )
    if result.error and not result.chain:
        code = result.error
        detail = result.error_detail or code
        failed = _failed_endpoint(
            address, target.port, sni, code, detail, fix=_NETWORK_FIXES.get(code, "")
        )
        return dataclasses.replace(failed, connect_ms=base.connect_ms)
    analysis = analyse(
        result.chain,
        hostname=target.host if sni is not None or target.is_ip else None,
        trust=trust,
        at=at,
        issuers=seams.issuers,
        fetcher=seams.fetcher,
        limits=config.analysis,
    )
    endpoint = dataclasses.replace(analysis.apply(base), server=result.server)
    if result.error:
        # A chain arrived, then the handshake failed (e.g. the client rejected
        # a malformed certificate): keep both.
        extra = make_finding(
            result.error,
            detail=result.error_detail or result.error,
            fix=_NETWORK_FIXES.get(result.error, ""),
        )
        findings = (*endpoint.findings, extra)
        endpoint = dataclasses.replace(
            endpoint, findings=findings, verdict=Verdict.from_findings(findings), error=result.error
        )
    return endpoint


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _cross_endpoint_findings(endpoints: list[EndpointReport], target: Target) -> list[Finding]:
    findings: list[Finding] = []
    with_sni = [e for e in endpoints if e.sni is not None and e.served]
    groups: dict[tuple[str, ...], list[EndpointReport]] = {}
    for endpoint in with_sni:
        groups.setdefault(endpoint.served_fingerprint(), []).append(endpoint)
    if len(groups) > 1:
        lines = []
        for members in groups.values():
            addresses = ", ".join(m.address for m in members)
            names = " → ".join(c.label for c in members[0].served[:4])
            lines.append(
                f"{addresses} serve{'s' if len(members) == 1 else ''} [{names}] ({members[0].verdict.value})"
            )
        verdicts = {e.verdict for e in with_sni}
        severity_broken = len(verdicts) > 1
        findings.append(
            make_finding(
                "endpoints-differ",
                detail=(
                    f"The {len(with_sni)} addresses of {target.host} do not all serve the same "
                    "chain, so what a visitor sees depends on which address DNS or the load "
                    "balancer hands them: "
                    + "; ".join(lines)
                    + (
                        ". Some addresses are broken while others work — the classic "
                        '"works for me, fails for them".'
                        if severity_broken
                        else "."
                    )
                ),
                fix=(
                    "Deploy the same certificate and chain file on every node, then reload or "
                    "restart each one (a node that was not restarted keeps serving the old "
                    "chain). Re-scan to confirm every address matches."
                ),
                certificates=tuple(dict.fromkeys(c.sha256 for e in with_sni for c in e.served[:1])),
                severity=Severity.ERROR if severity_broken else Severity.WARNING,
            )
        )
    no_sni = [e for e in endpoints if e.sni is None and e.served]
    if no_sni and with_sni and target.host:
        plain = no_sni[0]
        same_address = next((e for e in with_sni if e.address == plain.address), with_sni[0])
        if plain.served[0].sha256 != same_address.served[0].sha256:
            covers = hostname_matches(target.host, plain.served[0].san, plain.served[0].san)
            findings.append(
                make_finding(
                    "no-sni-different-cert",
                    detail=(
                        f"Without SNI, {plain.address} sends another certificate "
                        f"({plain.served[0].label}, {plain.served[0].short_fingerprint}) than with "
                        f"SNI ({same_address.served[0].label}, "
                        f"{same_address.served[0].short_fingerprint}). Clients that send no "
                        "server name — Java 6, Android 2.x, Internet Explorer on Windows XP, some "
                        "monitoring probes, scripts and proxies — get the other one"
                        + ("" if covers else f", which does not cover {target.host}")
                        + "."
                    ),
                    fix=(
                        f"If such clients matter, make the certificate for {target.host} the "
                        "server's default (the first or default virtual host / binding). "
                        "Otherwise this is informational."
                    ),
                    certificates=(plain.served[0].sha256, same_address.served[0].sha256),
                    clients=NO_SNI_CLIENTS,
                )
            )
    return findings


__all__ = ["ScanConfig", "Seams", "run_scan"]
