"""Rebuilding the engine's Report from stored rows (for pages, the API and diffs).

Views never parse certificates: certificate fields come from the Certificate
rows the worker stored, and the engine's data classes carry them to templates
and JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, Prefetch

from .engine.report import (
    CertificateInfo,
    ClientVerdict,
    EndpointReport,
    Report,
    Role,
    Severity,
    Verdict,
    platform_from_json,
)
from .engine.report import Finding as EngineFinding
from .models import Certificate, ChainEntry, Endpoint, Finding, Scan, timings_parse


def certificate_info(row: Certificate) -> CertificateInfo:
    return CertificateInfo(
        sha256=row.sha256,
        der=bytes(row.der),
        subject=row.subject,
        issuer=row.issuer,
        common_name=row.common_name,
        serial=row.serial,
        not_before=row.not_before,
        not_after=row.not_after,
        spki_sha256=row.spki_sha256,
        ski=row.ski or None,
        aki=row.aki or None,
        signature_algorithm=row.signature_algorithm,
        signature_hash=row.signature_hash or None,
        key_type=row.key_type,
        key_size=row.key_size,
        is_ca=row.is_ca,
        self_signed=row.self_signed,
        aia_issuers=tuple(row.aia_issuers),
        san=tuple(row.san),
        parse_error=row.parse_error or None,
        # Rows stored before the column existed are filled by the migration;
        # an empty value is derived from the DER by the engine.
        sha1=row.sha1,
    )


def _finding(row: Finding) -> EngineFinding:
    return EngineFinding(
        code=row.code,
        severity=Severity(row.severity),
        title=row.title,
        detail=row.detail,
        fix=row.fix,
        certificates=tuple(row.certificates),
        clients=tuple(row.clients),
    )


def scans_with_report_data(queryset):  # type: ignore[no-untyped-def]
    """Prefetch everything ``report_from_scan`` reads, in a fixed number of queries."""
    return queryset.select_related("host", "endpoint_set").prefetch_related(
        Prefetch(
            "endpoint_set__endpoints",
            queryset=Endpoint.objects.select_related("outcome", "outcome__anchor"),
        ),
        Prefetch(
            "endpoint_set__endpoints__outcome__chain",
            queryset=ChainEntry.objects.select_related("certificate"),
        ),
        Prefetch("endpoint_set__endpoints__outcome__findings", queryset=Finding.objects.all()),
        Prefetch("findings", queryset=Finding.objects.all()),
    )


def report_from_scan(scan: Scan) -> Report:
    """The report of a finished scan, as the engine produced it.

    Its endpoints are its (shared) endpoint set's, with this scan's timings."""
    rows = list(scan.endpoint_set.endpoints.all()) if scan.endpoint_set else []
    timings = timings_parse(scan.timings)
    endpoints = [
        _endpoint(ep, *(timings[i] if i < len(timings) else (None, None)))
        for i, ep in enumerate(rows)
    ]
    return Report(
        host=scan.host.hostname,
        port=scan.host.port,
        trust_store=scan.trust_store,
        evaluated_at=scan.finished_at or scan.requested_at,
        endpoints=tuple(endpoints),
        findings=tuple(_finding(row) for row in scan.findings.all()),
        verdict=Verdict(scan.verdict) if scan.verdict else Verdict.OK,
        error=scan.error or None,
        duration_ms=scan.duration_ms,
    )


def _endpoint(ep: Endpoint, connect_ms: float | None, handshake_ms: float | None) -> EndpointReport:
    outcome = ep.outcome
    chains: dict[str, list[ChainEntry]] = {ChainEntry.Kind.SERVED: [], ChainEntry.Kind.EXPECTED: []}
    for entry in sorted(outcome.chain.all(), key=lambda e: (e.kind, e.position)):
        chains[entry.kind].append(entry)
    served, expected = chains[ChainEntry.Kind.SERVED], chains[ChainEntry.Kind.EXPECTED]
    endpoint = EndpointReport(
        address=ep.address,
        port=ep.port,
        sni=None if ep.no_sni else ep.sni,
        served=tuple(certificate_info(e.certificate) for e in served),
        expected=tuple(certificate_info(e.certificate) for e in expected),
        anchor=certificate_info(outcome.anchor) if outcome.anchor else None,
        anchor_source=outcome.anchor_source or None,
        findings=tuple(_finding(row) for row in outcome.findings.all()),
        clients=tuple(ClientVerdict(**c) for c in outcome.clients),
        verdict=Verdict(outcome.verdict),
        valid_until=outcome.valid_until,
        tls_version=ep.tls_version or None,
        cipher=ep.cipher or None,
        connect_ms=connect_ms,
        handshake_ms=handshake_ms,
        error=outcome.error or None,
        served_roles=tuple(e.role for e in served),
        expected_roles=tuple(e.role for e in expected),
        platforms=tuple(platform_from_json(p) for p in outcome.platforms),
        server=ep.server or None,
    )
    if all(endpoint.served_roles) and all(endpoint.expected_roles):
        return endpoint
    # Recorded before the engine reported roles: derive them once, here.
    served_roles, expected_roles = legacy_roles(endpoint)
    return dataclasses.replace(endpoint, served_roles=served_roles, expected_roles=expected_roles)


# Findings that made a served certificate "wrong" before roles were recorded.
_WRONG_CODES = {"wrong-intermediate-same-key", "wrong-intermediate", "unreadable-cert"}


def legacy_roles(endpoint: EndpointReport) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Roles for an endpoint recorded before the engine reported them.

    The best reading of the stored chains and finding codes (what the report
    page did before roles existed); new scans carry the engine's own roles.
    """
    expected_pos = {c.sha256: i for i, c in enumerate(endpoint.expected)}
    wrong = {sha for f in endpoint.findings if f.code in _WRONG_CODES for sha in f.certificates}
    seen: set[str] = set()
    served: list[str] = []
    for i, cert in enumerate(endpoint.served):
        if cert.sha256 in seen:
            role = Role.DUPLICATE
        elif cert.parse_error:
            role = Role.UNREADABLE
        elif endpoint.anchor is not None and cert.sha256 == endpoint.anchor.sha256:
            role = Role.ANCHOR_SENT
        elif cert.sha256 in expected_pos:
            if expected_pos[cert.sha256] != i:
                role = Role.MISPLACED
            else:
                role = Role.LEAF if i == 0 else Role.IN_PLACE
        elif cert.sha256 in wrong and i > 0:
            role = Role.WRONG_ISSUER
        elif i == 0:
            role = Role.MISPLACED if endpoint.expected else Role.LEAF
        else:
            role = Role.EXTRA
        seen.add(cert.sha256)
        served.append(role)
    served_set = {c.sha256 for c in endpoint.served}
    expected = [
        Role.SERVED if c.sha256 in served_set else Role.NOT_SERVED for c in endpoint.expected
    ]
    return tuple(served), tuple(expected)


@dataclass(frozen=True)
class ServedCert:
    """What a host's timeline needs of a served certificate (no DER, no parsing)."""

    sha256: str
    label: str
    not_after: dt.datetime | None
    self_signed: bool


def served_chains(scan_ids: Iterable[int]) -> dict[int, list[tuple[ServedCert, ...]]]:
    """Each scan's served chains (one per endpoint, leaf first), in one narrow query:
    a history page draws fifty scans' timelines without rebuilding fifty reports."""
    # Scans point at shared endpoint sets, endpoints at shared outcomes; the
    # served chain lives on the outcome.
    rows = (
        Scan.objects.filter(
            pk__in=list(scan_ids),
            endpoint_set__endpoints__outcome__chain__kind=ChainEntry.Kind.SERVED,
        )
        .order_by(
            "pk",
            "endpoint_set__endpoints__position",
            "endpoint_set__endpoints__outcome__chain__position",
        )
        .values_list(
            "pk",
            "endpoint_set__endpoints__id",
            "endpoint_set__endpoints__outcome__chain__certificate__sha256",
            "endpoint_set__endpoints__outcome__chain__certificate__common_name",
            "endpoint_set__endpoints__outcome__chain__certificate__subject",
            "endpoint_set__endpoints__outcome__chain__certificate__not_after",
            "endpoint_set__endpoints__outcome__chain__certificate__self_signed",
        )
    )
    chains: dict[int, dict[int, list[ServedCert]]] = defaultdict(dict)
    for scan_id, endpoint_id, sha, cn, subject, not_after, self_signed in rows:
        cert = ServedCert(sha, cn or subject, not_after, self_signed)
        chains[scan_id].setdefault(endpoint_id, []).append(cert)
    return {scan_id: [tuple(c) for c in eps.values()] for scan_id, eps in chains.items()}


def scan_json(scan: Scan) -> dict[str, object]:
    """The API/CLI JSON of a scan: the engine report plus status and permalink token."""
    base: dict[str, object] = {
        "token": scan.token,
        "status": scan.status,
        "host": scan.host.hostname,
        "port": scan.host.port,
        "requested_at": scan.requested_at.isoformat(),
        "finished_at": scan.finished_at.isoformat() if scan.finished_at else None,
    }
    if scan.is_finished:
        base.update(report_from_scan(scan).to_json())
        base["status"] = scan.status
        base["change"] = scan.change or None
        base["change_summary"] = scan.change_summary or None
        # A scan stopped by its time limit or a crash recorded no report: it has
        # no verdict, and "ok" (the data class default) would be a lie.
        base["verdict"] = scan.verdict or None
    return base


def top_findings(scan_ids: Iterable[int]) -> dict[int, Finding]:
    """Each scan's headline finding: its first error, else its first warning (none
    for a clean scan). Two statements for any number of scans: the scan-wide
    findings, and those of the outcomes its endpoint set points at."""
    ids = list(scan_ids)
    if not ids:
        return {}
    pairs: list[tuple[int, Finding]] = [
        (f.scan_id, f)
        for f in Finding.objects.filter(scan_id__in=ids).exclude(severity=Finding.Severity.INFO)
        if f.scan_id is not None
    ]
    shared = (
        Finding.objects.filter(outcome__endpoints__endpoint_set__scans__in=ids)
        .exclude(severity=Finding.Severity.INFO)
        .annotate(for_scan=F("outcome__endpoints__endpoint_set__scans"))
        .distinct()
    )
    pairs += [(f.for_scan, f) for f in shared]  # type: ignore[attr-defined]
    top: dict[int, Finding] = {}
    for scan_id, finding in sorted(pairs, key=lambda p: (p[1].position, p[1].pk)):
        best = top.get(scan_id)
        if best is None or (
            best.severity != Finding.Severity.ERROR and finding.severity == Finding.Severity.ERROR
        ):
            top[scan_id] = finding
    return top
