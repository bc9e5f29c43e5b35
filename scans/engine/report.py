"""The report data classes: what a scan or an offline check found.

These classes are the engine's output and the one contract shared by the CLI
(``--json``), the worker (which persists them), the JSON API (which serialises
them) and the diff. They hold plain values only, so ``to_json`` and
``from_json`` round-trip exactly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1


class Severity(enum.StrEnum):
    """How bad a finding is. ``error`` breaks some clients today."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


class Verdict(enum.StrEnum):
    """The one-word outcome for an endpoint or a whole scan."""

    OK = "ok"
    WARNING = "warning"
    BROKEN = "broken"

    @classmethod
    def from_findings(cls, findings: tuple[Finding, ...] | list[Finding]) -> Verdict:
        worst = max((f.severity.rank for f in findings), default=0)
        return {2: cls.BROKEN, 1: cls.WARNING, 0: cls.OK}[worst]

    @classmethod
    def worst(cls, verdicts: list[Verdict]) -> Verdict:
        order = [cls.OK, cls.WARNING, cls.BROKEN]
        return max(verdicts, key=order.index, default=cls.OK)


class Role(enum.StrEnum):
    """What a certificate is doing in an endpoint's served or expected chain.

    The analysis decides it (it knows the paths); pages only render it.

    Served certificates: ``leaf`` (the server's own, first), ``in-place`` (on
    the path, in order), ``misplaced`` (needed, out of order, or the leaf not
    first), ``alternate-path`` (a cross-sign or other certificate on a path
    from the leaf that the expected chain does not take: kept for clients with
    other roots), ``anchor-sent`` (a trusted root sent along), ``extra`` (on no
    path), ``duplicate`` (sent before), ``wrong-issuer`` (sent in place of the
    real issuer, e.g. the X1/X3 case), ``unreadable`` (not a certificate),
    ``unknown`` (the analysis failed).

    Expected certificates: ``served``, ``not-served`` (clients must find it
    themselves), ``anchor`` (a trusted root: a pinned self-signed leaf).
    """

    LEAF = "leaf"
    IN_PLACE = "in-place"
    MISPLACED = "misplaced"
    ALTERNATE_PATH = "alternate-path"
    ANCHOR_SENT = "anchor-sent"
    EXTRA = "extra"
    DUPLICATE = "duplicate"
    WRONG_ISSUER = "wrong-issuer"
    UNREADABLE = "unreadable"
    UNKNOWN = "unknown"
    SERVED = "served"
    NOT_SERVED = "not-served"
    ANCHOR = "anchor"


@dataclass(frozen=True)
class CertificateInfo:
    """One certificate as sent or as built, with the fields a person reads.

    Attributes:
        sha256: hex SHA-256 of the DER bytes; the identity of a certificate.
        der: the exact bytes received (or built); may not parse.
        subject: RFC 4514 subject, or a placeholder when the bytes do not parse.
        parse_error: why the bytes are not a certificate, else ``None``.
        spki_sha256: hex SHA-256 of the SubjectPublicKeyInfo. Two certificates
            with the same value hold the same key (the X1/X3 case).
        sha1: hex SHA-1 of the DER bytes, the "thumbprint" Windows tools
            (certlm.msc, PowerShell's Cert: drive, IIS) show; derived from
            ``der`` when not given.
    """

    sha256: str
    der: bytes
    subject: str
    issuer: str
    common_name: str
    serial: str
    not_before: dt.datetime | None
    not_after: dt.datetime | None
    spki_sha256: str
    ski: str | None
    aki: str | None
    signature_algorithm: str
    signature_hash: str | None
    key_type: str
    key_size: int
    is_ca: bool
    self_signed: bool
    aia_issuers: tuple[str, ...] = ()
    san: tuple[str, ...] = ()
    parse_error: str | None = None
    sha1: str = ""

    def __post_init__(self) -> None:
        if not self.sha1 and self.der:
            # Frozen: set once, from the bytes, so every source (a handshake,
            # a stored row, old JSON without the field) carries it.
            object.__setattr__(self, "sha1", hashlib.sha1(self.der).hexdigest())  # noqa: S324 - a thumbprint, not security

    @property
    def label(self) -> str:
        """A short human name: the common name, else the whole subject."""
        return self.common_name or self.subject

    @property
    def short_fingerprint(self) -> str:
        return self.sha256[:16]

    def is_valid_at(self, when: dt.datetime) -> bool:
        if self.not_before is None or self.not_after is None:
            return False
        return self.not_before <= when <= self.not_after


@dataclass(frozen=True)
class Finding:
    """One problem (or remark), with the words a tired admin needs.

    Attributes:
        code: stable identifier from the catalogue (``incomplete-chain``…).
        detail: what is wrong, naming the certificates involved.
        fix: the exact change to make.
        certificates: SHA-256 of every certificate the finding is about.
        clients: the client families that break or may break.
    """

    code: str
    severity: Severity
    title: str
    detail: str
    fix: str
    certificates: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """The first sentence of ``detail``: what is wrong, in one line."""
        return sentences(self.detail)[0] if self.detail else ""

    @property
    def steps(self) -> tuple[FixStep, ...]:
        """``fix`` as numbered steps (see ``fix_steps``)."""
        return fix_steps(self.fix)


@dataclass(frozen=True)
class FixStep:
    """One step of a fix; ``items`` is an inline list it carried ("1. leaf … 2. …")."""

    text: str
    items: tuple[str, ...] = ()


# A sentence ends at ". " before a capital letter, a digit or a quote, but not
# after a list number ("1. Leaf"); certificate references ("CN=R3 (sha256
# 1a2b…)") carry no such sequence.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\b\d\.)\s+(?=[A-Z0-9'\"(])")
# An inline numbered list inside one sentence: "…: 1. leaf X 2. intermediate Y — …".
_INLINE_ITEM = re.compile(r"(?:^|\s)(\d{1,2})[.)]\s+")
_LIST_TAIL = re.compile(r"\s+—\s+")


def sentences(text: str) -> list[str]:
    """Split prose into sentences."""
    return [p for p in _SENTENCE_END.split(text.strip()) if p]


def fix_steps(fix: str) -> tuple[FixStep, ...]:
    """A fix text as steps a person follows one by one.

    The catalogue writes a fix as prose ("Stop serving X. Serve, in this order:
    1. leaf A 2. intermediate B — download …"). Each sentence becomes a step;
    an inline numbered list becomes the items of its step, and what follows
    the list after a dash becomes a step of its own.
    """
    steps: list[FixStep] = []
    for sentence in sentences(fix):
        numbers = list(_INLINE_ITEM.finditer(sentence))
        if len(numbers) >= 2 and numbers[0].group(1) == "1":
            head = sentence[: numbers[0].start()].strip()
            items = [
                sentence[m.end() : (numbers[i + 1].start() if i + 1 < len(numbers) else None)]
                for i, m in enumerate(numbers)
            ]
            tail = ""
            last = _LIST_TAIL.split(items[-1], maxsplit=1)
            if len(last) == 2:
                items[-1], tail = last
            steps.append(FixStep(head, tuple(i.strip() for i in items)))
            if tail:
                steps.append(FixStep(tail.strip()[:1].upper() + tail.strip()[1:]))
        else:
            steps.append(FixStep(sentence))
    return tuple(steps)


@dataclass(frozen=True)
class ClientVerdict:
    """Whether one family of clients accepts the served chain, and why."""

    family: str
    name: str
    examples: str
    accepts: bool
    reason: str


@dataclass(frozen=True)
class PlatformVerdict:
    """Whether one platform (a root store at a date plus its behaviour) accepts the served chain.

    ``path`` is the SHA-256 of each certificate on the path it builds, leaf
    first, root last; empty when it rejects. ``cause`` says why it rejects as
    a code (``missing-root``, ``private-root``, ``unknown-issuer``,
    ``missing-intermediate``, ``expired-root``, ``literal-expired``,
    ``literal-not-yet-valid``, ``time``, ``blocker``, ``refused`` (on the
    vendor's revoked or distrusted list), ``other``) for the
    engine's own findings to act on; it is not part of the JSON report.
    """

    id: str
    family: str
    name: str
    store: str
    accepts: bool
    reason: str
    path: tuple[str, ...] = ()
    cause: str = dataclasses.field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class EndpointReport:
    """What one address (with or without SNI) served, and what it should serve.

    ``sni`` is ``None`` for the probe sent without a server name. ``error`` is
    a finding code (``connect-failed``…) when no chain could be read; the
    finding with that code says why.
    """

    address: str
    port: int
    sni: str | None
    served: tuple[CertificateInfo, ...] = ()
    expected: tuple[CertificateInfo, ...] = ()
    anchor: CertificateInfo | None = None
    anchor_source: str | None = None
    findings: tuple[Finding, ...] = ()
    clients: tuple[ClientVerdict, ...] = ()
    verdict: Verdict = Verdict.OK
    valid_until: dt.datetime | None = None
    tls_version: str | None = None
    cipher: str | None = None
    connect_ms: float | None = None
    handshake_ms: float | None = None
    error: str | None = None
    # One ``Role`` value per certificate of ``served`` / ``expected``, same
    # order; empty for reports recorded before roles existed.
    served_roles: tuple[str, ...] = ()
    expected_roles: tuple[str, ...] = ()
    platforms: tuple[PlatformVerdict, ...] = ()
    server: str | None = None  # the HTTP Server header, when the server says

    @property
    def key(self) -> str:
        """Identity used to match endpoints across scans: address plus probe kind."""
        return f"{self.address}{'' if self.sni is not None else ' (no SNI)'}"

    def served_fingerprint(self) -> tuple[str, ...]:
        return tuple(c.sha256 for c in self.served)

    def expected_fingerprint(self) -> tuple[str, ...]:
        return tuple(c.sha256 for c in self.expected)


def host_endpoints(endpoints: Sequence[EndpointReport]) -> tuple[EndpointReport, ...]:
    """The endpoints that speak for the host (its verdict, its expiry): those asked
    with its name. The probe without SNI shows the server's default certificate,
    which clients that send the name never get; it counts only when no endpoint
    was asked with a name (a scan of an IP address)."""
    named = tuple(e for e in endpoints if e.sni is not None)
    return named or tuple(endpoints)


@dataclass(frozen=True)
class Report:
    """The whole result for one host and port.

    ``error`` is set when the scan could not produce any chain at all (no DNS,
    every address blocked or unreachable); the findings say why.
    """

    host: str
    port: int
    trust_store: str
    evaluated_at: dt.datetime
    endpoints: tuple[EndpointReport, ...] = ()
    findings: tuple[Finding, ...] = ()
    verdict: Verdict = Verdict.OK
    error: str | None = None
    duration_ms: float | None = None

    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for endpoint in self.endpoints:
            out.extend(endpoint.findings)
        return out

    @property
    def host_endpoints(self) -> tuple[EndpointReport, ...]:
        return host_endpoints(self.endpoints)

    @property
    def valid_until(self) -> dt.datetime | None:
        """The earliest expiry on the expected chains (and their roots) of the
        host's endpoints: when a client that reaches it starts failing."""
        dates = [e.valid_until for e in self.host_endpoints if e.valid_until is not None]
        return min(dates) if dates else None

    def to_json(self, *, include_der: bool = False) -> dict[str, Any]:
        return _report_to_json(self, include_der=include_der)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return _report_from_json(data)


# --- JSON --------------------------------------------------------------------


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def certificate_to_json(cert: CertificateInfo, *, include_der: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cert):
        value = getattr(cert, f.name)
        if f.name == "der":
            if include_der:
                out["der_base64"] = _b64(value)
            continue
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def certificate_from_json(data: dict[str, Any]) -> CertificateInfo:
    import base64

    kwargs = {k: v for k, v in data.items() if k in _CERT_FIELDS}
    kwargs["der"] = base64.b64decode(data.get("der_base64", ""))
    kwargs["not_before"] = _parse_when(data.get("not_before"))
    kwargs["not_after"] = _parse_when(data.get("not_after"))
    kwargs["aia_issuers"] = tuple(data.get("aia_issuers", ()))
    kwargs["san"] = tuple(data.get("san", ()))
    return CertificateInfo(**kwargs)


_CERT_FIELDS = {f.name for f in dataclasses.fields(CertificateInfo)}


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def finding_to_json(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": finding.severity.value,
        "title": finding.title,
        "detail": finding.detail,
        "fix": finding.fix,
        "certificates": list(finding.certificates),
        "clients": list(finding.clients),
    }


def finding_from_json(data: dict[str, Any]) -> Finding:
    return Finding(
        code=data["code"],
        severity=Severity(data["severity"]),
        title=data["title"],
        detail=data["detail"],
        fix=data["fix"],
        certificates=tuple(data.get("certificates", ())),
        clients=tuple(data.get("clients", ())),
    )


def client_to_json(client: ClientVerdict) -> dict[str, object]:
    return dataclasses.asdict(client)


def endpoint_to_json(endpoint: EndpointReport, *, include_der: bool) -> dict[str, Any]:
    def certs(items: tuple[CertificateInfo, ...]) -> list[dict[str, Any]]:
        return [certificate_to_json(c, include_der=include_der) for c in items]

    return {
        "address": endpoint.address,
        "port": endpoint.port,
        "sni": endpoint.sni,
        "verdict": endpoint.verdict.value,
        "error": endpoint.error,
        "tls_version": endpoint.tls_version,
        "cipher": endpoint.cipher,
        "connect_ms": endpoint.connect_ms,
        "handshake_ms": endpoint.handshake_ms,
        "served": certs(endpoint.served),
        "expected": certs(endpoint.expected),
        "anchor": (
            certificate_to_json(endpoint.anchor, include_der=include_der)
            if endpoint.anchor
            else None
        ),
        "anchor_source": endpoint.anchor_source,
        "findings": [finding_to_json(f) for f in endpoint.findings],
        "clients": [client_to_json(c) for c in endpoint.clients],
        "valid_until": _when(endpoint.valid_until),
        "served_roles": list(endpoint.served_roles),
        "expected_roles": list(endpoint.expected_roles),
        "platforms": [platform_to_json(p) for p in endpoint.platforms],
        "server": endpoint.server,
    }


def platform_to_json(verdict: PlatformVerdict) -> dict[str, Any]:
    return {
        "id": verdict.id,
        "family": verdict.family,
        "name": verdict.name,
        "store": verdict.store,
        "accepts": verdict.accepts,
        "reason": verdict.reason,
        "path": list(verdict.path),
    }


def platform_from_json(data: dict[str, Any]) -> PlatformVerdict:
    fields = {f.name for f in dataclasses.fields(PlatformVerdict)}
    kwargs = {k: v for k, v in data.items() if k in fields}
    return PlatformVerdict(**{**kwargs, "path": tuple(data.get("path", ()))})


def endpoint_from_json(data: dict[str, Any]) -> EndpointReport:
    def certs(items: list[dict[str, Any]]) -> tuple[CertificateInfo, ...]:
        return tuple(certificate_from_json(c) for c in items)

    return EndpointReport(
        address=data["address"],
        port=data["port"],
        sni=data.get("sni"),
        served=certs(data.get("served", [])),
        expected=certs(data.get("expected", [])),
        anchor=certificate_from_json(data["anchor"]) if data.get("anchor") else None,
        anchor_source=data.get("anchor_source"),
        findings=tuple(finding_from_json(f) for f in data.get("findings", [])),
        clients=tuple(ClientVerdict(**c) for c in data.get("clients", [])),
        verdict=Verdict(data.get("verdict", "ok")),
        valid_until=_parse_when(data.get("valid_until")),
        tls_version=data.get("tls_version"),
        cipher=data.get("cipher"),
        connect_ms=data.get("connect_ms"),
        handshake_ms=data.get("handshake_ms"),
        error=data.get("error"),
        served_roles=tuple(data.get("served_roles", ())),
        expected_roles=tuple(data.get("expected_roles", ())),
        platforms=tuple(platform_from_json(p) for p in data.get("platforms", [])),
        server=data.get("server"),
    )


def _report_to_json(report: Report, *, include_der: bool) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "host": report.host,
        "port": report.port,
        "verdict": report.verdict.value,
        "trust_store": report.trust_store,
        "evaluated_at": report.evaluated_at.isoformat(),
        "valid_until": _when(report.valid_until),
        "error": report.error,
        "duration_ms": report.duration_ms,
        "findings": [finding_to_json(f) for f in report.findings],
        "endpoints": [endpoint_to_json(e, include_der=include_der) for e in report.endpoints],
    }


def _report_from_json(data: dict[str, Any]) -> Report:
    return Report(
        host=data["host"],
        port=data["port"],
        trust_store=data["trust_store"],
        evaluated_at=dt.datetime.fromisoformat(data["evaluated_at"]),
        endpoints=tuple(endpoint_from_json(e) for e in data.get("endpoints", [])),
        findings=tuple(finding_from_json(f) for f in data.get("findings", [])),
        verdict=Verdict(data.get("verdict", "ok")),
        error=data.get("error"),
        duration_ms=data.get("duration_ms"),
    )


__all__ = [
    "CertificateInfo",
    "ClientVerdict",
    "EndpointReport",
    "Finding",
    "FixStep",
    "PlatformVerdict",
    "Report",
    "Role",
    "Severity",
    "Verdict",
    "host_endpoints",
]
