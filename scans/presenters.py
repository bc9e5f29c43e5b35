"""Shaping engine reports for templates: served vs expected side by side, with marks.

No parsing and no judging here: the certificates are already CertificateInfo
data classes and their roles come from the engine (``EndpointReport.served_roles``);
this module only picks the words and marks that show them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .engine.report import CertificateInfo, EndpointReport, Finding
from .reports import ServedCert


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


# --- history: the timeline of a host ---------------------------------------------------

# The timeline's drawing, in SVG user units (it scales to the page's width).
TIMELINE_WIDTH = 760
TIMELINE_LABEL_WIDTH = 210
TIMELINE_LANE = 26
# Room on the right for each lane's "until <date>".
TIMELINE_END_WIDTH = 110
TIMELINE_TOP = 34


@dataclass(frozen=True)
class TimelinePoint:
    """One scan on the verdict lane."""

    x: float
    when: dt.datetime
    verdict: str
    change: str
    token: str


@dataclass(frozen=True)
class TimelineBar:
    """One certificate, from the first scan that saw it served to its expiry."""

    x: float
    width: float
    label: str
    expires: dt.datetime | None
    sha256: str


@dataclass(frozen=True)
class TimelineLane:
    y: float
    title: str  # "leaf x3.example.com", "intermediate Example Authority X3"
    bars: tuple[TimelineBar, ...]


@dataclass(frozen=True)
class TimelineRow:
    """The text alternative: one row per scan."""

    when: dt.datetime
    verdict: str
    change: str
    leaf_expiry: tuple[dt.datetime, ...]
    intermediate_expiry: tuple[tuple[str, dt.datetime], ...]


@dataclass(frozen=True)
class Timeline:
    """A host's verdicts and certificate expiries over time, laid out for inline SVG."""

    width: int
    height: int
    label_width: int
    start: dt.datetime
    end: dt.datetime
    points: tuple[TimelinePoint, ...]
    lanes: tuple[TimelineLane, ...]
    rows: tuple[TimelineRow, ...]

    @property
    def verdict_y(self) -> int:
        return TIMELINE_TOP - 14

    @property
    def plot_end(self) -> int:
        return self.width - TIMELINE_END_WIDTH

    @property
    def axis_y(self) -> int:
        return self.height - 8

    @property
    def description(self) -> str:
        verdicts = ", ".join(f"{p.when:%Y-%m-%d} {p.verdict.upper()}" for p in self.points)
        return (
            f"{len(self.points)} scans from {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}: "
            f"{verdicts}. {len(self.lanes)} certificate lanes, each bar from the first scan "
            "that saw the certificate served to its expiry date."
        )


def timeline(scans: Sequence[tuple[Any, Sequence[Sequence[ServedCert]]]]) -> Timeline | None:
    """Lay out the verdicts and certificate lifetimes of ``scans`` (scan row and its
    served chains, one per endpoint, leaf first; any order). ``None`` when there
    is nothing to draw."""
    ordered = sorted(scans, key=lambda pair: (pair[0].requested_at, pair[0].pk))
    if not ordered:
        return None
    first_seen: dict[str, dt.datetime] = {}
    certs: dict[str, tuple[str, ServedCert]] = {}
    rows: list[TimelineRow] = []
    for scan, chains in ordered:
        leaves: dict[str, ServedCert] = {}
        intermediates: dict[str, ServedCert] = {}
        for chain in chains:
            for i, cert in enumerate(chain):
                if cert.self_signed and i > 0:
                    continue  # a served root: not part of what expires for clients
                (leaves if i == 0 else intermediates)[cert.sha256] = cert
        for role, found in (("leaf", leaves), ("intermediate", intermediates)):
            for sha, cert in found.items():
                first_seen.setdefault(sha, scan.requested_at)
                certs.setdefault(sha, (role, cert))
        rows.append(
            TimelineRow(
                when=scan.requested_at,
                verdict=scan.verdict,
                change=scan.change,
                leaf_expiry=tuple(sorted({c.not_after for c in leaves.values() if c.not_after})),
                intermediate_expiry=tuple(
                    sorted({(c.label, c.not_after) for c in intermediates.values() if c.not_after})
                ),
            )
        )
    times = [s.requested_at for s, _ in ordered]
    expiries = [c.not_after for _, c in certs.values() if c.not_after is not None]
    # A served certificate may have expired before the first scan: the axis
    # spans both, so its bar ends where it expired rather than off the chart.
    start = min([*times, *expiries])
    end = max([*times, *expiries])
    if end <= start:
        end = start + dt.timedelta(days=1)
    span = (end - start).total_seconds()
    plot = TIMELINE_WIDTH - TIMELINE_LABEL_WIDTH - TIMELINE_END_WIDTH

    def x(when: dt.datetime) -> float:
        offset = min(max((when - start).total_seconds(), 0), span)
        return round(TIMELINE_LABEL_WIDTH + plot * offset / span, 1)

    lane_bars: dict[tuple[str, str], list[TimelineBar]] = {}
    for sha, (role, cert) in certs.items():
        seen, expires = x(first_seen[sha]), x(cert.not_after) if cert.not_after else None
        left, right = min(seen, expires or seen), max(seen, expires or seen)
        bar = TimelineBar(left, max(right - left, 2), cert.label, cert.not_after, sha)
        lane_bars.setdefault((role, cert.label), []).append(bar)
    lanes = tuple(
        TimelineLane(TIMELINE_TOP + i * TIMELINE_LANE, f"{role} {label}", tuple(bars))
        for i, ((role, label), bars) in enumerate(
            sorted(lane_bars.items(), key=lambda item: (item[0][0] != "leaf", item[0][1]))
        )
    )
    points = tuple(
        TimelinePoint(x(s.requested_at), s.requested_at, s.verdict, s.change, s.token)
        for s, _ in ordered
    )
    height = TIMELINE_TOP + len(lanes) * TIMELINE_LANE + 24
    return Timeline(
        TIMELINE_WIDTH,
        height,
        TIMELINE_LABEL_WIDTH,
        start,
        end,
        points,
        lanes,
        tuple(reversed(rows)),
    )
