"""What changed between two reports of one host, endpoint by endpoint.

Teams want to hear about a *material* change (another issuer, another
intermediate, another chain shape, a problem introduced or resolved) and not
about a routine *renewal* (a new leaf with the same names from the same
issuer). The diff tells them apart and says each change in words, e.g.
"position 1 changed from Let's Encrypt Authority X1 to Let's Encrypt
Authority X3".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .report import CertificateInfo, EndpointReport, Finding, Report


class ChangeKind(enum.StrEnum):
    SAME = "same"
    RENEWAL = "renewal"
    MATERIAL = "material"


@dataclass(frozen=True)
class CertChange:
    """One slot of a chain that differs. ``position`` is 0 for the leaf."""

    kind: str  # added | removed | moved | replaced
    position: int
    before: CertificateInfo | None
    after: CertificateInfo | None
    text: str
    routine: bool = False  # a same-names renewal of this slot


@dataclass(frozen=True)
class EndpointDiff:
    key: str
    status: str  # added | removed | changed | same
    served: tuple[CertChange, ...] = ()
    expected: tuple[CertChange, ...] = ()
    introduced: tuple[Finding, ...] = ()
    resolved: tuple[Finding, ...] = ()
    verdict_before: str | None = None
    verdict_after: str | None = None

    @property
    def changed(self) -> bool:
        return self.status != "same"


@dataclass(frozen=True)
class ReportDiff:
    kind: ChangeKind
    summary: str
    endpoints: tuple[EndpointDiff, ...]
    introduced: tuple[Finding, ...] = ()
    resolved: tuple[Finding, ...] = ()


def _name(cert: CertificateInfo | None) -> str:
    if cert is None:
        return "nothing"
    return f"{cert.label} ({cert.short_fingerprint})"


def _same_names(a: CertificateInfo, b: CertificateInfo) -> bool:
    return a.subject == b.subject and a.issuer == b.issuer and set(a.san) == set(b.san)


def chain_changes(
    before: tuple[CertificateInfo, ...], after: tuple[CertificateInfo, ...]
) -> tuple[CertChange, ...]:
    """Compare two chains slot by slot, naming what was added, removed, moved or replaced."""
    changes: list[CertChange] = []
    before_pos = {c.sha256: i for i, c in enumerate(before)}
    after_pos = {c.sha256: i for i, c in enumerate(after)}
    for i in range(max(len(before), len(after))):
        old = before[i] if i < len(before) else None
        new = after[i] if i < len(after) else None
        if old is not None and new is not None and old.sha256 == new.sha256:
            continue
        if new is not None and new.sha256 in before_pos:
            changes.append(
                CertChange(
                    "moved",
                    i,
                    before[before_pos[new.sha256]],
                    new,
                    f"{_name(new)} moved from position {before_pos[new.sha256]} to {i}",
                )
            )
            if old is not None and old.sha256 not in after_pos:
                changes.append(
                    CertChange(
                        "removed", i, old, None, f"{_name(old)} is no longer at position {i}"
                    )
                )
            continue
        if old is None and new is not None:
            changes.append(CertChange("added", i, None, new, f"position {i}: {_name(new)} added"))
        elif new is None and old is not None:
            if old.sha256 in after_pos:
                continue  # reported as moved from the other side
            changes.append(
                CertChange("removed", i, old, None, f"position {i}: {_name(old)} removed")
            )
        elif old is not None and new is not None:
            if old.sha256 in after_pos:
                changes.append(
                    CertChange(
                        "replaced",
                        i,
                        old,
                        new,
                        f"position {i} changed from {_name(old)} to {_name(new)}",
                        routine=False,
                    )
                )
                continue
            changes.append(
                CertChange(
                    "replaced",
                    i,
                    old,
                    new,
                    f"position {i} changed from {_name(old)} to {_name(new)}"
                    + (" (renewed: same names, same issuer)" if _same_names(old, new) else ""),
                    routine=_same_names(old, new),
                )
            )
    return tuple(changes)


def _finding_keys(findings: tuple[Finding, ...]) -> dict[str, Finding]:
    out: dict[str, Finding] = {}
    for finding in findings:
        out.setdefault(finding.code, finding)
    return out


def _finding_delta(
    before: tuple[Finding, ...], after: tuple[Finding, ...]
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    old, new = _finding_keys(before), _finding_keys(after)
    introduced = tuple(f for code, f in new.items() if code not in old)
    resolved = tuple(f for code, f in old.items() if code not in new)
    return introduced, resolved


def endpoint_diff(key: str, old: EndpointReport | None, new: EndpointReport | None) -> EndpointDiff:
    if old is None and new is not None:
        return EndpointDiff(key, "added", introduced=new.findings, verdict_after=new.verdict.value)
    if new is None and old is not None:
        return EndpointDiff(key, "removed", resolved=old.findings, verdict_before=old.verdict.value)
    assert old is not None and new is not None
    served = chain_changes(old.served, new.served)
    expected = chain_changes(old.expected, new.expected)
    introduced, resolved = _finding_delta(old.findings, new.findings)
    changed = bool(served or expected or introduced or resolved or old.verdict != new.verdict)
    return EndpointDiff(
        key,
        "changed" if changed else "same",
        served=served,
        expected=expected,
        introduced=introduced,
        resolved=resolved,
        verdict_before=old.verdict.value,
        verdict_after=new.verdict.value,
    )


def diff_reports(before: Report, after: Report) -> ReportDiff:
    """Diff two reports of the same host (``before`` older). Endpoints match by address and probe kind."""
    old = {e.key: e for e in before.endpoints}
    new = {e.key: e for e in after.endpoints}
    keys = list(dict.fromkeys([*old, *new]))
    endpoints = tuple(endpoint_diff(k, old.get(k), new.get(k)) for k in keys)
    introduced, resolved = _finding_delta(before.findings, after.findings)
    kind = _classify(endpoints, introduced, resolved)
    return ReportDiff(
        kind, _summary(kind, endpoints, introduced, resolved), endpoints, introduced, resolved
    )


def _classify(
    endpoints: tuple[EndpointDiff, ...],
    introduced: tuple[Finding, ...],
    resolved: tuple[Finding, ...],
) -> ChangeKind:
    if introduced or resolved:
        return ChangeKind.MATERIAL
    if not any(e.changed for e in endpoints):
        return ChangeKind.SAME
    for e in endpoints:
        if e.status in ("added", "removed"):
            return ChangeKind.MATERIAL
        if e.introduced or e.resolved or e.verdict_before != e.verdict_after:
            return ChangeKind.MATERIAL
        for change in (*e.served, *e.expected):
            if not (change.kind == "replaced" and change.routine):
                return ChangeKind.MATERIAL
    return ChangeKind.RENEWAL


def _summary(
    kind: ChangeKind,
    endpoints: tuple[EndpointDiff, ...],
    introduced: tuple[Finding, ...],
    resolved: tuple[Finding, ...],
) -> str:
    if kind == ChangeKind.SAME:
        return "No change: every address serves the same chains with the same findings."
    parts: list[str] = []
    seen: set[str] = set()
    for e in endpoints:
        if e.status == "added":
            parts.append(f"{e.key} appeared")
        elif e.status == "removed":
            parts.append(f"{e.key} disappeared")
        for change in e.served:
            if change.text not in seen:
                seen.add(change.text)
                parts.append(f"served {change.text}")
        for f in e.introduced:
            if f"+{f.code}" not in seen:
                seen.add(f"+{f.code}")
                parts.append(f"{f.code} introduced")
        for f in e.resolved:
            if f"-{f.code}" not in seen:
                seen.add(f"-{f.code}")
                parts.append(f"{f.code} resolved")
    parts += [f"{f.code} introduced" for f in introduced]
    parts += [f"{f.code} resolved" for f in resolved]
    prefix = "Routine renewal" if kind == ChangeKind.RENEWAL else "Material change"
    text = "; ".join(parts[:8]) + (f"; and {len(parts) - 8} more" if len(parts) > 8 else "")
    return f"{prefix}: {text}." if text else f"{prefix}."


def _cert_brief(cert: CertificateInfo | None) -> dict[str, str] | None:
    if cert is None:
        return None
    return {"sha256": cert.sha256, "subject": cert.subject, "label": cert.label}


def _change_json(change: CertChange) -> dict[str, object]:
    return {
        "kind": change.kind,
        "position": change.position,
        "before": _cert_brief(change.before),
        "after": _cert_brief(change.after),
        "text": change.text,
        "routine": change.routine,
    }


def diff_to_json(diff: ReportDiff) -> dict[str, object]:
    """The JSON form of a diff (API): plain values, certificates by SHA-256 and name."""
    return {
        "kind": diff.kind.value,
        "summary": diff.summary,
        "introduced": [f.code for f in diff.introduced],
        "resolved": [f.code for f in diff.resolved],
        "endpoints": [
            {
                "key": e.key,
                "status": e.status,
                "verdict_before": e.verdict_before,
                "verdict_after": e.verdict_after,
                "served": [_change_json(c) for c in e.served],
                "expected": [_change_json(c) for c in e.expected],
                "introduced": [f.code for f in e.introduced],
                "resolved": [f.code for f in e.resolved],
            }
            for e in diff.endpoints
        ],
    }
