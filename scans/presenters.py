"""Shaping engine reports for templates: the answer first, every fact one click down.

No parsing here: the certificates are already CertificateInfo data classes
(with their SHA-1 thumbprints, computed by the engine). Everything a page says
about a report — the headline, the certification path and each certificate's
role in it, the diagram, the trust store in words — is decided here, so the
templates only lay it out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .engine.report import CertificateInfo, EndpointReport, Finding, Report, Verdict

# Which findings make a served certificate "wrong" rather than merely "extra".
_WRONG_CODES = {"wrong-intermediate-same-key", "wrong-intermediate", "unreadable-cert"}
_VERDICT_RANK = {Verdict.BROKEN: 2, Verdict.WARNING: 1, Verdict.OK: 0}


# --- Roles: what each certificate is to the chain ------------------------------

# A certificate's role, in the words of the certification path view. The
# first four are what a reader needs; the others say why a sent certificate is
# not needed.
ROLE_TEXT = {
    "sent": "sent by the server",
    "misplaced": "sent by the server, but in the wrong position",
    "not-sent": "not sent — clients must download it",
    "anchor": "in the trust store",
    "anchor-sent": "in the trust store — sent but not needed",
    "extra": "sent but not needed",
    "wrong": "sent, but does not belong in this chain",
    "duplicate": "sent more than once",
}


def certificate_role(
    endpoint: EndpointReport, cert: CertificateInfo, *, kind: str, position: int
) -> str:
    """The role of one certificate of ``endpoint``: a key of ``ROLE_TEXT``.

    ``kind`` says which list the certificate is read from: ``served`` (as sent,
    ``position`` its index there), ``expected`` (the path clients should
    build) or ``anchor``. Roles are derived from the chains and the finding
    codes today; this is the one place to read them from the engine's report
    instead once it carries them.
    """
    served = [c.sha256 for c in endpoint.served]
    anchor = endpoint.anchor.sha256 if endpoint.anchor is not None else None
    if kind == "anchor":
        return "anchor-sent" if cert.sha256 in served else "anchor"
    if kind == "expected":
        return "sent" if cert.sha256 in served else "not-sent"
    expected_pos = {c.sha256: i for i, c in enumerate(endpoint.expected)}
    wrong = {sha for f in endpoint.findings if f.code in _WRONG_CODES for sha in f.certificates}
    if cert.sha256 in served[:position]:
        return "duplicate"
    if cert.sha256 == anchor:
        return "anchor-sent"
    if cert.sha256 in expected_pos:
        return "sent" if expected_pos[cert.sha256] == position else "misplaced"
    if position == 0:
        return "wrong" if endpoint.expected else "sent"
    return "wrong" if cert.sha256 in wrong else "extra"


@dataclass
class ChainRow:
    position: int
    cert: CertificateInfo
    role: str

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
    def diagram(self) -> Diagram | None:
        return diagram(self)


def endpoint_title(e: EndpointReport) -> str:
    if e.port == 0:
        return e.address
    where = f"[{e.address}]" if ":" in e.address else e.address
    return f"{where}:{e.port}" + ("" if e.sni is not None else " without SNI")


def said_once(endpoint: EndpointReport, store: str) -> EndpointReport:
    """``endpoint`` with the trust store's technical name taken out of its prose.

    The page names the store once, in words, at the top; the engine's texts
    say "the 'mozilla+file root.pem' store" in every client row and finding.
    """
    if not store:
        return endpoint

    def plain(text: str) -> str:
        for named in (
            f"the '{store}' trust store",
            f"the trust store '{store}'",
            f"the '{store}' store",
        ):
            text = text.replace(named, "the trust store")
        return text.replace(f"trust store '{store}'", "the trust store")

    return dataclasses.replace(
        endpoint,
        findings=tuple(
            dataclasses.replace(f, detail=plain(f.detail), fix=plain(f.fix))
            for f in endpoint.findings
        ),
        clients=tuple(dataclasses.replace(c, reason=plain(c.reason)) for c in endpoint.clients),
    )


def endpoint_view(endpoint: EndpointReport, index: int = 0, *, store: str = "") -> EndpointView:
    endpoint = said_once(endpoint, store)
    view = EndpointView(endpoint=endpoint, index=index)
    for i, cert in enumerate(endpoint.served):
        view.served.append(
            ChainRow(i, cert, certificate_role(endpoint, cert, kind="served", position=i))
        )
    for i, cert in enumerate(endpoint.expected):
        view.expected.append(
            ChainRow(i, cert, certificate_role(endpoint, cert, kind="expected", position=i))
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


def endpoint_views(endpoints: Sequence[EndpointReport], *, store: str = "") -> list[EndpointView]:
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
        view = endpoint_view(endpoint, index, store=store)
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

_STORE_WORDS = {
    "mozilla": "Mozilla",
    "system": "this machine's system store",
    "none": "no public store",
}


def trust_store_words(name: str) -> str:
    """``mozilla+file root.pem+Corp Root CA`` → "Mozilla, plus your anchors: root.pem, Corp Root CA"."""
    base, *extra = name.split("+") if name else ("",)
    words = _STORE_WORDS.get(base, base or "the configured store")
    anchors = [e.removeprefix("file ").strip() for e in extra if e.strip()]
    if not anchors:
        return words
    if base == "none":
        return "only your anchors: " + ", ".join(anchors)
    return f"{words}, plus your anchors: " + ", ".join(anchors)
