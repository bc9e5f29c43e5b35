"""Rebuilding the engine's Report from stored rows (for pages, the API and diffs).

Views never parse certificates: certificate fields come from the Certificate
rows the worker stored, and the engine's data classes carry them to templates
and JSON.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Prefetch

from .engine.report import (
    CertificateInfo,
    ClientVerdict,
    EndpointReport,
    Report,
    Severity,
    Verdict,
)
from .engine.report import Finding as EngineFinding
from .models import Certificate, ChainEntry, Endpoint, Finding, Scan


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
    return queryset.select_related("host").prefetch_related(
        Prefetch(
            "endpoints",
            queryset=Endpoint.objects.select_related("anchor").prefetch_related(
                Prefetch("chain", queryset=ChainEntry.objects.select_related("certificate"))
            ),
        ),
        Prefetch("findings", queryset=Finding.objects.all()),
    )


def report_from_scan(scan: Scan) -> Report:
    """The report of a finished scan, as the engine produced it."""
    findings_by_endpoint: dict[int | None, list[EngineFinding]] = defaultdict(list)
    for row in scan.findings.all():
        findings_by_endpoint[row.endpoint_id].append(_finding(row))
    endpoints = []
    for ep in scan.endpoints.all():
        served: list[CertificateInfo] = []
        expected: list[CertificateInfo] = []
        for entry in sorted(ep.chain.all(), key=lambda e: (e.kind, e.position)):
            target = served if entry.kind == ChainEntry.Kind.SERVED else expected
            target.append(certificate_info(entry.certificate))
        endpoints.append(
            EndpointReport(
                address=ep.address,
                port=ep.port,
                sni=None if ep.no_sni else ep.sni,
                served=tuple(served),
                expected=tuple(expected),
                anchor=certificate_info(ep.anchor) if ep.anchor else None,
                anchor_source=ep.anchor_source or None,
                findings=tuple(findings_by_endpoint.get(ep.pk, [])),
                clients=tuple(ClientVerdict(**c) for c in ep.clients),
                verdict=Verdict(ep.verdict),
                valid_until=ep.valid_until,
                tls_version=ep.tls_version or None,
                cipher=ep.cipher or None,
                connect_ms=ep.connect_ms,
                handshake_ms=ep.handshake_ms,
                error=ep.error or None,
            )
        )
    return Report(
        host=scan.host.hostname,
        port=scan.host.port,
        trust_store=scan.trust_store,
        evaluated_at=scan.finished_at or scan.requested_at,
        endpoints=tuple(endpoints),
        findings=tuple(findings_by_endpoint.get(None, [])),
        verdict=Verdict(scan.verdict) if scan.verdict else Verdict.OK,
        error=scan.error or None,
        duration_ms=scan.duration_ms,
    )


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
        # A scan stopped by its time limit or a crash recorded no report: it has
        # no verdict, and "ok" (the data class default) would be a lie.
        base["verdict"] = scan.verdict or None
    return base
