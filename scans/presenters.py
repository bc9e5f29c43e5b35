"""Shaping engine reports for templates: served vs expected side by side, with marks.

No parsing and no judging here: the certificates are already CertificateInfo
data classes and their roles come from the engine (``EndpointReport.served_roles``);
this module only picks the words and marks that show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .engine.report import CertificateInfo, EndpointReport, Finding


@dataclass
class ChainRow:
    position: int
    cert: CertificateInfo
    mark: str  # ok | misplaced | extra | anchor | wrong | duplicate | missing | unknown
    note: str
    role: str = ""  # the engine's Role, as reported


@dataclass
class EndpointView:
    endpoint: EndpointReport
    index: int = 0
    served: list[ChainRow] = field(default_factory=list)
    expected: list[ChainRow] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    infos: list[Finding] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    # Other endpoints that served the same chains with the same outcome: shown
    # as one line under this one instead of as a copy of the whole section.
    same_as_this: list[EndpointReport] = field(default_factory=list)

    @property
    def title(self) -> str:
        return endpoint_title(self.endpoint)

    @property
    def also(self) -> list[str]:
        """The folded endpoints, as "192.0.2.11:443" for the page."""
        return [endpoint_title(e) for e in self.same_as_this]


def endpoint_title(e: EndpointReport) -> str:
    where = f"[{e.address}]" if ":" in e.address else e.address
    return f"{where}:{e.port}" + ("" if e.sni is not None else " without SNI")


# How each role the engine gave a certificate is shown: (CSS mark, note).
_SERVED_MARKS = {
    "leaf": ("ok", "the server's certificate"),
    "in-place": ("ok", "in place"),
    "misplaced": ("misplaced", "needed, but in the wrong position"),
    "alternate-path": ("ok", "another path to a root (a cross-sign), for clients with other roots"),
    "anchor-sent": ("anchor", "the root itself: clients already have it"),
    "extra": ("extra", "not needed by any path"),
    "duplicate": ("duplicate", "sent more than once"),
    "wrong-issuer": ("wrong", "does not belong here: not the issuer of the certificate before it"),
    "unreadable": ("wrong", "not a certificate"),
    "unknown": ("unknown", "not analysed"),
}
_EXPECTED_MARKS = {
    "served": ("ok", "in place"),
    "not-served": ("missing", "not served: clients must find it themselves"),
    "anchor": ("anchor", "a trusted root: clients already have it"),
}
_UNKNOWN = ("unknown", "")


def _rows(
    certs: Sequence[CertificateInfo], roles: Sequence[str], marks: dict[str, tuple[str, str]]
) -> list[ChainRow]:
    rows = []
    for i, cert in enumerate(certs):
        role = roles[i] if i < len(roles) else ""
        mark, note = marks.get(role, _UNKNOWN)
        rows.append(ChainRow(i, cert, mark, note, role))
    return rows


def endpoint_view(endpoint: EndpointReport, index: int = 0) -> EndpointView:
    view = EndpointView(endpoint=endpoint, index=index)
    view.served = _rows(endpoint.served, endpoint.served_roles, _SERVED_MARKS)
    view.expected = _rows(endpoint.expected, endpoint.expected_roles, _EXPECTED_MARKS)
    for finding in endpoint.findings:
        {"error": view.errors, "warning": view.warnings}.get(
            finding.severity.value, view.infos
        ).append(finding)
    for cert in (
        *endpoint.served,
        *endpoint.expected,
        *([endpoint.anchor] if endpoint.anchor else []),
    ):
        view.names[cert.sha256] = cert.label
    return view


def _outcome(e: EndpointReport) -> tuple[object, ...]:
    """Everything a reader sees of an endpoint, apart from its name and timings."""
    return (
        e.served_fingerprint(),
        e.expected_fingerprint(),
        e.served_roles,
        e.expected_roles,
        e.anchor.sha256 if e.anchor else None,
        e.anchor_source,
        e.verdict,
        e.tls_version,
        e.cipher,
        tuple((f.code, f.severity, f.detail, f.fix) for f in e.findings),
        tuple((c.family, c.accepts, c.reason) for c in e.clients),
    )


def endpoint_views(endpoints: Sequence[EndpointReport]) -> list[EndpointView]:
    """One section per distinct outcome, in report order.

    A host with four addresses behind one load balancer, plus the no-SNI
    probe, usually serves one chain five times: the reader gets it once, with
    the addresses it came from, and a section of its own for any address that
    differs. Endpoints that failed are never folded (their errors name them).
    """
    views: list[EndpointView] = []
    by_outcome: dict[tuple[object, ...], EndpointView] = {}
    for index, endpoint in enumerate(endpoints):
        key = _outcome(endpoint)
        foldable = bool(endpoint.served) and not endpoint.error
        if foldable and key in by_outcome:
            by_outcome[key].same_as_this.append(endpoint)
            continue
        view = endpoint_view(endpoint, index)
        views.append(view)
        if foldable:
            by_outcome[key] = view
    return views


def checked_endpoint(analysis: object) -> EndpointReport:
    """An EndpointReport for a pasted chain (no address)."""
    base = EndpointReport(address="pasted chain", port=0, sni="")
    return analysis.apply(base)  # type: ignore[attr-defined, no-any-return]
