"""What changed between two reports of one host, endpoint by endpoint.

Teams want to hear about a *material* change (another issuer, another
intermediate, another chain shape, a problem introduced or resolved) and not
about a routine *renewal* (a new leaf with the same names from the same
issuer, served with the same intermediates). The diff tells them apart and
says each change in words, e.g. "position 1 changed from Let's Encrypt
Authority X1 to Let's Encrypt Authority X3 — wrong-intermediate-same-key
resolved".

Endpoints are matched by address and probe kind (``EndpointReport.key``): an
address that only one report has is reported as added or removed. Chains are
compared slot by slot, position 0 being the leaf.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from .report import CertificateInfo, EndpointReport, Finding, Report

# Findings a routine renewal is expected to make go away: renewing is how
# "expiring soon" is fixed, so that alone does not make a renewal material.
# ``leaf-expired`` is not here: a site that was broken and works again is news.
RENEWAL_RESOLVES = frozenset({"leaf-expiring-soon"})

# The summary names at most this many changes, then "and N more".
MAX_SUMMARY_PARTS = 6


class ChangeKind(enum.StrEnum):
    """How a report differs from the one before it, as a whole."""

    SAME = "same"
    RENEWAL = "renewal"
    MATERIAL = "material"


@dataclass(frozen=True)
class CertChange:
    """One slot of a chain that differs.

    Attributes:
        kind: ``added`` (a certificate that was not in the older chain),
            ``removed`` (one that is not in the newer chain), ``moved`` (in
            both chains, at another position) or ``replaced`` (the slot holds
            a new certificate and the old one is gone).
        position: the slot in the newer chain (in the older one for
            ``removed``); 0 is the leaf.
        from_position: for ``moved``, the slot in the older chain.
        routine: a renewal of the leaf: same subject, names and issuer.
        text: the change in words, naming each certificate by its common name
            (or subject) and short fingerprint.
    """

    kind: str
    position: int
    before: CertificateInfo | None
    after: CertificateInfo | None
    text: str
    routine: bool = False
    from_position: int | None = None


@dataclass(frozen=True)
class EndpointDiff:
    """The changes on one address (``status``: added, removed, changed or same)."""

    key: str
    status: str
    served: tuple[CertChange, ...] = ()
    expected: tuple[CertChange, ...] = ()
    introduced: tuple[Finding, ...] = ()
    resolved: tuple[Finding, ...] = ()
    verdict_before: str | None = None
    verdict_after: str | None = None

    @property
    def changed(self) -> bool:
        return self.status != "same"

    @property
    def leaf_renewed(self) -> bool:
        return any(c.routine for c in self.served)


@dataclass(frozen=True)
class ReportDiff:
    """Two reports compared. ``introduced``/``resolved`` are the scan-wide findings."""

    kind: ChangeKind
    summary: str
    endpoints: tuple[EndpointDiff, ...]
    introduced: tuple[Finding, ...] = ()
    resolved: tuple[Finding, ...] = ()

    @property
    def changed_endpoints(self) -> tuple[EndpointDiff, ...]:
        return tuple(e for e in self.endpoints if e.changed)


# --- chains ----------------------------------------------------------------------


def _name(cert: CertificateInfo) -> str:
    return f"{cert.label} ({cert.short_fingerprint})"


def is_renewal(old: CertificateInfo, new: CertificateInfo) -> bool:
    """``new`` renews leaf ``old``: same subject and names, same issuer name and key."""
    same_issuer_key = old.aki is None or new.aki is None or old.aki == new.aki
    return (
        old.subject == new.subject
        and old.issuer == new.issuer
        and set(old.san) == set(new.san)
        and same_issuer_key
    )


def _occurrences(chain: tuple[CertificateInfo, ...]) -> list[tuple[str, int]]:
    """Each slot as (SHA-256, how many times it was seen before), so a certificate
    sent twice is two distinct entries and dropping the copy shows as a removal."""
    seen: dict[str, int] = {}
    out: list[tuple[str, int]] = []
    for cert in chain:
        out.append((cert.sha256, seen.get(cert.sha256, 0)))
        seen[cert.sha256] = seen.get(cert.sha256, 0) + 1
    return out


def chain_changes(
    before: tuple[CertificateInfo, ...], after: tuple[CertificateInfo, ...]
) -> tuple[CertChange, ...]:
    """Compare two chains slot by slot, naming what was added, removed, moved or replaced."""
    old_ids, new_ids = _occurrences(before), _occurrences(after)
    old_pos = {ident: i for i, ident in enumerate(old_ids)}
    new_pos = {ident: i for i, ident in enumerate(new_ids)}
    changes: list[CertChange] = []
    for i in range(max(len(before), len(after))):
        old_id = old_ids[i] if i < len(before) else None
        new_id = new_ids[i] if i < len(after) else None
        if old_id is not None and old_id == new_id:
            continue
        old = before[i] if old_id is not None else None
        new = after[i] if new_id is not None else None
        # The certificate now in this slot: moved here, or new to the chain.
        if new is not None and new_id in old_pos:
            src = old_pos[new_id]
            changes.append(
                CertChange(
                    "moved",
                    i,
                    before[src],
                    new,
                    f"{_name(new)} moved from position {src} to {i}",
                    from_position=src,
                )
            )
        elif new is not None:
            if old is not None and old_id not in new_pos:
                routine = i == 0 and is_renewal(old, new)
                text = (
                    f"position 0 renewed: {_name(old)} replaced by {_name(new)}, "
                    "same names, same issuer"
                    if routine
                    else f"position {i} changed from {_name(old)} to {_name(new)}"
                )
                changes.append(CertChange("replaced", i, old, new, text, routine=routine))
                continue
            changes.append(CertChange("added", i, None, new, f"position {i}: {_name(new)} added"))
        # The certificate that was in this slot: gone, unless it moved elsewhere
        # (then its "moved" entry at the new slot says so).
        if old is not None and old_id not in new_pos:
            changes.append(
                CertChange("removed", i, old, None, f"position {i}: {_name(old)} removed")
            )
    return tuple(changes)


# --- findings and endpoints ------------------------------------------------------


def _by_code(findings: Iterable[Finding]) -> dict[str, Finding]:
    out: dict[str, Finding] = {}
    for finding in findings:
        out.setdefault(finding.code, finding)
    return out


def _finding_delta(
    before: Iterable[Finding], after: Iterable[Finding]
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """Findings introduced and resolved, by code (the code is the stable contract)."""
    old, new = _by_code(before), _by_code(after)
    introduced = tuple(f for code, f in new.items() if code not in old)
    resolved = tuple(f for code, f in old.items() if code not in new)
    return introduced, resolved


def endpoint_diff(key: str, old: EndpointReport | None, new: EndpointReport | None) -> EndpointDiff:
    """The changes on one address; ``old`` or ``new`` is ``None`` when it appeared or went."""
    if old is None and new is None:
        raise ValueError("an endpoint diff needs at least one side")
    if old is None:
        assert new is not None
        return EndpointDiff(
            key,
            "added",
            served=chain_changes((), new.served),
            expected=chain_changes((), new.expected),
            introduced=tuple(_by_code(new.findings).values()),
            verdict_after=new.verdict.value,
        )
    if new is None:
        return EndpointDiff(
            key,
            "removed",
            served=chain_changes(old.served, ()),
            expected=chain_changes(old.expected, ()),
            resolved=tuple(_by_code(old.findings).values()),
            verdict_before=old.verdict.value,
        )
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


def _is_material(e: EndpointDiff) -> bool:
    if e.status in ("added", "removed"):
        return True
    if e.status == "same":
        return False
    if any(not c.routine for c in (*e.served, *e.expected)):
        return True  # another intermediate, another order, a certificate added or dropped
    if e.introduced:
        return True
    allowed = RENEWAL_RESOLVES if e.leaf_renewed else frozenset()
    if any(f.code not in allowed for f in e.resolved):
        return True
    # Same certificates, same finding codes, another verdict: a severity changed.
    return not e.resolved and e.verdict_before != e.verdict_after


def diff_reports(before: Report, after: Report) -> ReportDiff:
    """Diff two reports of the same host (``before`` is the older one).

    Returns:
        Every endpoint of either report, in the newer report's order (then the
        ones that disappeared), with the overall kind and a one-line summary.
    """
    old = {e.key: e for e in before.endpoints}
    new = {e.key: e for e in after.endpoints}
    keys = list(dict.fromkeys([*new, *old]))
    endpoints = tuple(endpoint_diff(k, old.get(k), new.get(k)) for k in keys)
    introduced, resolved = _finding_delta(before.findings, after.findings)
    if introduced or resolved or any(_is_material(e) for e in endpoints):
        kind = ChangeKind.MATERIAL
    elif any(e.changed for e in endpoints):
        kind = ChangeKind.RENEWAL
    else:
        kind = ChangeKind.SAME
    summary = _summary(kind, endpoints, introduced, resolved)
    return ReportDiff(kind, summary, endpoints, introduced, resolved)


# --- words -----------------------------------------------------------------------


def _short(cert: CertificateInfo, other: CertificateInfo | None = None) -> str:
    """A certificate's name for the summary: the fingerprint only when the name is ambiguous."""
    if other is not None and other.label == cert.label:
        return _name(cert)
    return cert.label


def _brief(change: CertChange) -> str:
    before, after = change.before, change.after
    if change.kind == "replaced" and before and after:
        if change.routine:
            return f"{after.label} renewed ({before.short_fingerprint} → {after.short_fingerprint})"
        return (
            f"position {change.position} changed from {_short(before, after)} "
            f"to {_short(after, before)}"
        )
    if change.kind == "moved" and after:
        return f"{after.label} moved from position {change.from_position} to {change.position}"
    if change.kind == "added" and after:
        return f"{after.label} added at position {change.position}"
    assert before is not None
    return f"{before.label} removed from position {change.position}"


def _phrase(e: EndpointDiff) -> str:
    """What happened on one endpoint, without its name."""
    if e.status == "added":
        parts = ["appeared"]
    elif e.status == "removed":
        parts = ["disappeared"]
    else:
        served = [_brief(c) for c in e.served]
        # The expected chain usually changes with the served one (a renewed
        # leaf is in both); only say what the served side does not already say.
        expected = [f"expected chain: {t}" for c in e.expected if (t := _brief(c)) not in served]
        parts = ["; ".join(served + expected)] if served or expected else []
    words = [f"{f.code} introduced" for f in e.introduced]
    words += [f"{f.code} resolved" for f in e.resolved]
    if not parts and not words and e.verdict_before != e.verdict_after:
        words.append(f"verdict {e.verdict_before} → {e.verdict_after}")
    text = " ".join(parts)
    if words:
        text = f"{text} — {', '.join(words)}" if text else ", ".join(words)
    return text


def _summary(
    kind: ChangeKind,
    endpoints: tuple[EndpointDiff, ...],
    introduced: tuple[Finding, ...],
    resolved: tuple[Finding, ...],
) -> str:
    if kind == ChangeKind.SAME:
        return "No change: every address serves the same chains with the same findings."
    # Addresses that changed alike are named together, so a host behind a load
    # balancer reads as one sentence, not one per node.
    groups: dict[str, list[str]] = {}
    for e in endpoints:
        if e.changed:
            groups.setdefault(_phrase(e), []).append(e.key)
    parts = [f"{_join(keys)}: {phrase}" for phrase, keys in groups.items()]
    parts += [f"{f.code} introduced" for f in introduced]
    parts += [f"{f.code} resolved" for f in resolved]
    more = len(parts) - MAX_SUMMARY_PARTS
    text = "; ".join(parts[:MAX_SUMMARY_PARTS]) + (f"; and {more} more" if more > 0 else "")
    prefix = "Routine renewal" if kind == ChangeKind.RENEWAL else "Material change"
    return f"{prefix}: {text}."


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- JSON --------------------------------------------------------------------------


def _cert_brief(cert: CertificateInfo | None) -> dict[str, str] | None:
    if cert is None:
        return None
    return {
        "sha256": cert.sha256,
        "short_fingerprint": cert.short_fingerprint,
        "subject": cert.subject,
        "label": cert.label,
    }


def _change_json(change: CertChange) -> dict[str, object]:
    return {
        "kind": change.kind,
        "position": change.position,
        "from_position": change.from_position,
        "before": _cert_brief(change.before),
        "after": _cert_brief(change.after),
        "text": change.text,
        "routine": change.routine,
    }


def diff_to_json(diff: ReportDiff) -> dict[str, object]:
    """The JSON form of a diff (API): plain values, certificates by SHA-256 and name,
    findings by code."""
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
