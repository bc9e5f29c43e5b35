"""Shaping engine reports for templates: the answer first, every fact one click down.

No parsing here: the certificates are already CertificateInfo data classes
(with their SHA-1 thumbprints, computed by the engine). Everything a page says
about a report — the headline, the certification path and each certificate's
role in it, the diagram — is decided here, so the templates only lay it out.
The trust store in words comes from the engine, whose own texts name it so.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .engine.report import CertificateInfo, EndpointReport, Finding, Report, Verdict
from .engine.trust import store_words
from .reports import ServedCert

_VERDICT_RANK = {Verdict.BROKEN: 2, Verdict.WARNING: 1, Verdict.OK: 0}


# --- Roles: what each certificate is to the chain ------------------------------

# A certificate's role, in the words of the certification path view. The
# first four are what a reader needs; the others say why a sent certificate is
# not needed, or why it is sent although no expected path uses it.
ROLE_TEXT = {
    "sent": "sent by the server",
    "misplaced": "sent by the server, but in the wrong position",
    "not-sent": "not sent — clients must download it",
    "anchor": "in the trust store",
    "anchor-sent": "in the trust store — sent but not needed",
    "alternate": "sent — another path to a root (a cross-sign), for clients with other roots",
    "extra": "sent but not needed",
    "wrong": "sent, but does not belong in this chain",
    "duplicate": "sent more than once",
    "unknown": "not analysed",
}

# The engine decides each certificate's role (EndpointReport.served_roles /
# expected_roles, scans.engine.report.Role); the page only words it.
_SERVED_ROLE = {
    "leaf": "sent",
    "in-place": "sent",
    "misplaced": "misplaced",
    "alternate-path": "alternate",
    "anchor-sent": "anchor-sent",
    "extra": "extra",
    "duplicate": "duplicate",
    "wrong-issuer": "wrong",
    "unreadable": "wrong",
    "unknown": "unknown",
}
_EXPECTED_ROLE = {"served": "sent", "not-served": "not-sent", "anchor": "anchor"}


def certificate_role(
    endpoint: EndpointReport, cert: CertificateInfo, *, kind: str, position: int
) -> str:
    """The role of one certificate of ``endpoint``: a key of ``ROLE_TEXT``.

    ``kind`` says which list the certificate is read from: ``served`` (as sent,
    ``position`` its index there), ``expected`` (the path clients should
    build) or ``anchor``. The engine's roles are the source; nothing is
    worked out again here.
    """
    if kind == "anchor":
        return "anchor-sent" if cert.sha256 in {c.sha256 for c in endpoint.served} else "anchor"
    roles, words = (
        (endpoint.served_roles, _SERVED_ROLE)
        if kind == "served"
        else (endpoint.expected_roles, _EXPECTED_ROLE)
    )
    role = roles[position] if position < len(roles) else ""
    return words.get(role, "unknown")


@dataclass
class ChainRow:
    position: int
    cert: CertificateInfo
    role: str  # a key of ROLE_TEXT
    engine_role: str = ""  # the engine's Role, as reported (data-role on the page)

    @property
    def note(self) -> str:
        return ROLE_TEXT[self.role]

    @property
    def mark(self) -> str:
        return self.role


# --- The served vs expected diagram ----------------------------------------------

_BOX_W, _BOX_H, _GAP, _PAD, _MID = 210, 46, 14, 10, 170
_LABEL_CHARS = 26
_DIAGRAM_MAX_ROWS = 12


@dataclass
class DiagramBox:
    x: int
    y: int
    label: str
    full: str
    role: str
    sha256: str

    @property
    def text_x(self) -> int:
        return self.x + 10

    @property
    def text_y(self) -> int:
        return self.y + 20


@dataclass
class DiagramLink:
    x1: int
    y1: int
    x2: int
    y2: int
    kind: str  # same | same-key
    text: str

    @property
    def text_x(self) -> int:
        return (self.x1 + self.x2) // 2

    @property
    def text_y(self) -> int:
        return (self.y1 + self.y2) // 2 - 6


@dataclass
class Diagram:
    width: int
    height: int
    served: list[DiagramBox]
    expected: list[DiagramBox]
    links: list[DiagramLink]

    @property
    def right_x(self) -> int:
        return _PAD + _BOX_W + _MID

    @property
    def served_title_x(self) -> int:
        return _PAD

    @property
    def box_w(self) -> int:
        return _BOX_W

    @property
    def box_h(self) -> int:
        return _BOX_H

    @property
    def has_same_key(self) -> bool:
        return any(link.kind == "same-key" for link in self.links)


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def diagram(view: EndpointView) -> Diagram | None:
    """Served (left) vs expected (right) as boxes; a line joins the same certificate,
    a dashed one a served certificate holding the key of an expected one under
    another name (the X1/X3 case)."""
    e = view.endpoint
    if not e.served or not e.expected or len(e.served) > _DIAGRAM_MAX_ROWS:
        # A server sending dozens of certificates gets its list, not a poster.
        return None
    right = _PAD + _BOX_W + _MID
    top = 28

    def box(x: int, i: int, row: ChainRow) -> DiagramBox:
        return DiagramBox(
            x,
            top + i * (_BOX_H + _GAP),
            _short(row.cert.label),
            row.cert.subject,
            row.role,
            row.cert.sha256,
        )

    served = [box(_PAD, i, r) for i, r in enumerate(view.served)]
    expected = [box(right, i, r) for i, r in enumerate(view.expected)]
    links: list[DiagramLink] = []
    for s, srow in zip(served, view.served, strict=True):
        for x, xrow in zip(expected, view.expected, strict=True):
            same = srow.cert.sha256 == xrow.cert.sha256
            same_key = (
                not same
                and srow.cert.spki_sha256
                and srow.cert.spki_sha256 == xrow.cert.spki_sha256
                and srow.cert.subject != xrow.cert.subject
            )
            if same or same_key:
                links.append(
                    DiagramLink(
                        s.x + _BOX_W,
                        s.y + _BOX_H // 2,
                        x.x,
                        x.y + _BOX_H // 2,
                        "same" if same else "same-key",
                        "same certificate" if same else "same key, other name",
                    )
                )
    rows = max(len(served), len(expected))
    return Diagram(
        width=right + _BOX_W + _PAD,
        height=top + rows * (_BOX_H + _GAP) + _PAD,
        served=served,
        expected=expected,
        links=links,
    )


# --- One address ------------------------------------------------------------------


@dataclass
class EndpointView:
    endpoint: EndpointReport
    index: int = 0
    served: list[ChainRow] = field(default_factory=list)
    expected: list[ChainRow] = field(default_factory=list)
    anchor: ChainRow | None = None
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    infos: list[Finding] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    # Other endpoints that served the same chains with the same outcome: shown
    # as one line under this one instead of as a copy of the whole section.
    same_as_this: list[EndpointReport] = field(default_factory=list)
    # Where this section's fix downloads live ("…/download?endpoint=0&"), set
    # by the view; empty hides the downloads.
    download_base: str = ""

    @property
    def title(self) -> str:
        return endpoint_title(self.endpoint)

    @property
    def outcome(self) -> str:
        """The badge: the verdict, or "could not scan" when no chain was read."""
        e = self.endpoint
        return "could not scan" if e.error and not e.served else e.verdict.value

    @property
    def outcome_class(self) -> str:
        return "none" if self.outcome == "could not scan" else self.outcome

    @property
    def also(self) -> list[str]:
        """The folded endpoints, as "192.0.2.11:443" for the page."""
        return [endpoint_title(e) for e in self.same_as_this]

    @property
    def findings(self) -> list[Finding]:
        return [*self.errors, *self.warnings, *self.infos]

    @property
    def path(self) -> list[ChainRow]:
        """The certification path clients should build: expected chain, then the anchor."""
        return [*self.expected, *([self.anchor] if self.anchor else [])]

    @property
    def not_needed(self) -> list[ChainRow]:
        """Served certificates that are on no path (shown after the path)."""
        return [r for r in self.served if r.role in ("extra", "wrong", "duplicate", "anchor-sent")]

    @property
    def alternates(self) -> list[ChainRow]:
        """Served certificates on another valid path (a cross-sign for clients with
        other roots): needed by some clients, so never called extra."""
        return [r for r in self.served if r.role == "alternate"]

    @property
    def diagram(self) -> Diagram | None:
        return diagram(self)


def endpoint_title(e: EndpointReport) -> str:
    if e.port == 0:
        return e.address
    where = f"[{e.address}]" if ":" in e.address else e.address
    return f"{where}:{e.port}" + ("" if e.sni is not None else " without SNI")


def _at(roles: Sequence[str], i: int) -> str:
    return roles[i] if i < len(roles) else ""


def endpoint_view(endpoint: EndpointReport, index: int = 0) -> EndpointView:
    view = EndpointView(endpoint=endpoint, index=index)
    for i, cert in enumerate(endpoint.served):
        view.served.append(
            ChainRow(
                i,
                cert,
                certificate_role(endpoint, cert, kind="served", position=i),
                _at(endpoint.served_roles, i),
            )
        )
    for i, cert in enumerate(endpoint.expected):
        view.expected.append(
            ChainRow(
                i,
                cert,
                certificate_role(endpoint, cert, kind="expected", position=i),
                _at(endpoint.expected_roles, i),
            )
        )
    if endpoint.anchor is not None and endpoint.expected:
        anchor = endpoint.anchor
        view.anchor = ChainRow(
            len(endpoint.expected),
            anchor,
            certificate_role(endpoint, anchor, kind="anchor", position=0),
        )
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
        e.anchor.sha256 if e.anchor else None,
        e.anchor_source,
        e.verdict,
        e.tls_version,
        e.cipher,
        tuple((f.code, f.severity, f.detail, f.fix) for f in e.findings),
        tuple((c.family, c.accepts, c.reason) for c in e.clients),
    )


def endpoint_views(endpoints: Sequence[EndpointReport]) -> list[EndpointView]:
    """One section per distinct outcome, worst first.

    A host with four addresses behind one load balancer, plus the no-SNI
    probe, usually serves one chain five times: the reader gets it once, with
    the addresses it came from, and a section of its own for any address that
    differs. Endpoints that failed are never folded (their errors name them).
    Broken sections come first; within a verdict, report order.
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
    views.sort(key=lambda v: -_VERDICT_RANK[v.endpoint.verdict])
    return views


def checked_endpoint(analysis: object) -> EndpointReport:
    """An EndpointReport for a pasted chain (no address)."""
    base = EndpointReport(address="pasted chain", port=0, sni="")
    return analysis.apply(base)  # type: ignore[attr-defined, no-any-return]


# --- The summary band -----------------------------------------------------------


@dataclass
class Summary:
    verdict: str  # ok | warning | broken | "could not scan"
    headline: str
    counts: str
    first_fix: Finding | None
    expires_at: dt.datetime | None
    expires_first: CertificateInfo | None
    days_left: int | None

    @property
    def verdict_class(self) -> str:
        return self.verdict if self.verdict in ("ok", "warning", "broken") else "none"


# Headline phrases for the problems people meet most: (one address, several).
_PHRASES = {
    "wrong-intermediate-same-key": (
        "serves the wrong intermediate",
        "serve the wrong intermediate",
    ),
    "wrong-intermediate": ("serves the wrong intermediate", "serve the wrong intermediate"),
    "incomplete-chain": ("does not send an intermediate", "do not send an intermediate"),
    "leaf-expired": ("serves an expired certificate", "serve an expired certificate"),
    "hostname-mismatch": (
        "serves a certificate for other names",
        "serve a certificate for other names",
    ),
    "untrusted-root": ("serves a chain to an untrusted root", "serve a chain to an untrusted root"),
    "wrong-order": (
        "sends its certificates in the wrong order",
        "send their certificates in the wrong order",
    ),
}


def _which(finding: Finding, names: dict[str, str]) -> str:
    """The certificates a headline names, e.g. "(X1 instead of X3)"."""
    labels = [names.get(sha, sha[:16]) for sha in finding.certificates]
    if finding.code in ("wrong-intermediate-same-key", "wrong-intermediate") and len(labels) >= 3:
        return f" ({labels[1]} instead of {labels[-1]})"
    if finding.code in ("wrong-intermediate-same-key", "wrong-intermediate") and len(labels) == 2:
        return f" ({labels[1]})"
    if finding.code == "incomplete-chain" and len(labels) >= 2:
        return f" ({', '.join(labels[1:])})"
    return ""


def _phrase(finding: Finding, names: dict[str, str], *, plural: bool) -> str:
    if finding.code in _PHRASES:
        return _PHRASES[finding.code][plural] + _which(finding, names)
    title = finding.title[:1].lower() + finding.title[1:]
    return ("have a problem: " if plural else "has a problem: ") + title


def _worst(findings: Sequence[Finding]) -> Finding | None:
    return max(findings, key=lambda f: f.severity.rank, default=None)


def summary(report: Report, views: Sequence[EndpointView], *, subject: str = "") -> Summary:
    """The answer at the top of a report: verdict, headline, first fix, expiry.

    Counts are over addresses (the probe without SNI is not an address of its
    own); the headline names the worst problem and how many addresses have it.
    """
    endpoints = list(report.endpoints)
    names: dict[str, str] = {}
    for v in views:
        names.update(v.names)
    addresses = [e for e in endpoints if e.sni is not None] or endpoints
    bad = [e for e in addresses if e.verdict != Verdict.OK]
    broken = [e for e in addresses if e.verdict == Verdict.BROKEN]
    total = len(addresses)
    worst_each = [w for e in bad if (w := _worst(e.findings)) is not None]
    scan_worst = _worst(report.findings)
    first_fix = _worst([*worst_each, *([scan_worst] if scan_worst else [])])
    if report.error and not any(e.served for e in endpoints):
        headline = report.error
    elif worst_each:
        code, n = Counter(f.code for f in worst_each).most_common(1)[0]
        finding = next(f for f in worst_each if f.code == code)
        if total == 1 and subject:
            # A chain checked without a server holds certificates; it serves nothing.
            phrase = _phrase(finding, names, plural=False)
            for served, held in (
                ("serves ", "has "),
                ("does not send", "lacks"),
                ("sends its", "has its"),
            ):
                phrase = phrase.replace(served, held, 1) if phrase.startswith(served) else phrase
            headline = f"{subject} {phrase}"
        elif total == 1:
            headline = f"The server {_phrase(finding, names, plural=False)}"
        else:
            headline = f"{n} of {total} addresses {_phrase(finding, names, plural=n > 1)}"
    elif scan_worst is not None and scan_worst.severity.rank > 0:
        headline = scan_worst.summary
    elif total == 1:
        verb = "is" if subject else "serves"
        headline = f"{subject or 'The server'} {verb} a complete chain to a trusted root."
    else:
        headline = f"All {total} addresses serve a complete chain to a trusted root."
    headline = headline.rstrip(".") + "."
    if total > 1:
        counts = (
            f"{len(broken)} of {total} addresses broken"
            if broken
            else f"{len(bad)} of {total} addresses with warnings"
            if bad
            else f"all {total} addresses OK"
        )
    else:
        counts = ""
    expires_first = _expires_first(endpoints)
    expires_at = expires_first.not_after if expires_first else None
    days = (expires_at - report.evaluated_at).days if expires_at else None
    # A scan that read no chain at all (no DNS, every address blocked or down)
    # has no verdict on a chain: it could not scan, which is not "broken".
    scanned = not report.error or any(e.served for e in endpoints)
    return Summary(
        verdict=report.verdict.value if scanned else "could not scan",
        headline=headline,
        counts=counts,
        first_fix=first_fix if first_fix and first_fix.fix else None,
        expires_at=expires_at,
        expires_first=expires_first,
        days_left=days,
    )


def _expires_first(endpoints: Sequence[EndpointReport]) -> CertificateInfo | None:
    """The certificate that expires first on the chains clients build (else on the served ones)."""
    certs = [c for e in endpoints for c in (e.expected or e.served) if c.not_after is not None]
    return min(certs, key=lambda c: c.not_after or dt.datetime.max, default=None)


# --- Home: recent activity ------------------------------------------------------------


@dataclass
class HostActivity:
    """One host on the home page: its latest scan, and the verdict it had last."""

    latest: Any
    finished: Any

    @property
    def host(self) -> Any:
        return self.latest.host

    @property
    def running(self) -> bool:
        return not self.latest.is_finished


# --- Trust stores, in words --------------------------------------------------------


def trust_store_words(name: str) -> str:
    """``mozilla+file root.pem+Corp Root CA`` → "Mozilla, plus your anchors: root.pem, Corp Root CA".

    The engine's own words (its findings name the store the same way).
    """
    return store_words(name)


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
    """One dot on the verdict lane: a scan, or scans too close to tell apart at
    this scale (``count`` > 1, from ``first`` to ``when``). A group shows its worst
    verdict and its most telling change; ``summary`` says the verdicts in order."""

    x: float
    when: dt.datetime
    verdict: str
    change: str
    token: str
    count: int = 1
    first: dt.datetime | None = None
    summary: str = ""


# Dots closer than this (px, two radii) overlap: they are drawn as one.
TIMELINE_DOT_SPACING = 12
_DOT_RANK: dict[str, int] = {"ok": 0, "warning": 1, "": 2, "broken": 3}
_CHANGE_RANK: dict[str, int] = {"renewal": 1, "improvement": 2, "rollback": 3, "material": 3}


def _verdict_word(verdict: str) -> str:
    return verdict.upper() if verdict else "COULD NOT SCAN"


def _grouped(points: Sequence[TimelinePoint]) -> tuple[TimelinePoint, ...]:
    """Merge runs of dots that would overlap (points in time order)."""
    groups: list[list[TimelinePoint]] = []
    for point in points:
        if groups and point.x - groups[-1][0].x < TIMELINE_DOT_SPACING:
            groups[-1].append(point)
        else:
            groups.append([point])
    out = []
    for group in groups:
        if len(group) == 1:
            out.append(group[0])
            continue
        verdicts = [_verdict_word(p.verdict) for p in group]
        run = [v for i, v in enumerate(verdicts) if i == 0 or v != verdicts[i - 1]]
        last = group[-1]
        out.append(
            TimelinePoint(
                x=last.x,
                when=last.when,
                verdict=max((p.verdict for p in group), key=lambda v: _DOT_RANK.get(v, 2)),
                change=max((p.change for p in group), key=lambda c: _CHANGE_RANK.get(c, 0)),
                token=last.token,
                count=len(group),
                first=group[0].when,
                summary=" → ".join(run),
            )
        )
    return tuple(out)


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
        verdicts = ", ".join(
            f"{p.first:%Y-%m-%d} to {p.when:%Y-%m-%d} {p.summary} ({p.count} scans)"
            if p.first is not None
            else f"{p.when:%Y-%m-%d} {_verdict_word(p.verdict)}"
            for p in self.points
        )
        return (
            f"{len(self.rows)} scans from {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}: "
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
    points = _grouped(
        [
            TimelinePoint(x(s.requested_at), s.requested_at, s.verdict, s.change, s.token)
            for s, _ in ordered
        ]
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
