"""What changed between two reports of one host, and whether anyone should care.

Teams want to hear about a *material* change (another CA or root, another
intermediate, another chain shape, an address serving something else, a
rollback to an older leaf, any new or worse finding) and not about a routine
*renewal* (a newer leaf with the same names from the same issuer, or from a
sibling intermediate of the same CA under the same root: Let's Encrypt's
random R10/R11). A fix (a finding resolved, nothing worse) is an
*improvement*, told apart from both.

Endpoints are matched by what they serve, not by address: load balancers and
CDNs rotate addresses, so the same chains on other addresses are no change.
Each probe class (with SNI, without SNI) is compared on its own: the distinct
outcomes (served chain, expected chain, verdict, findings by code and
severity) of the older report against those of the newer. An outcome both
have is unchanged, whichever addresses serve it; an outcome only one side
has is paired with the other side's outcome on a shared address (the node
that now serves something else), then with what is left in order, and
diffed slot by slot, position 0 being the leaf.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .report import CertificateInfo, EndpointReport, Finding, Report

# Findings a routine renewal is expected to make go away: renewing is how
# "expiring soon" is fixed, so that alone does not make a renewal an event.
# ``leaf-expired`` is not here: a site that was broken and works again is news.
RENEWAL_RESOLVES = frozenset({"leaf-expiring-soon"})

# The summary names at most this many changes, then "and N more".
MAX_SUMMARY_PARTS = 6

_VERDICT_RANK = {"ok": 0, "warning": 1, "broken": 2}


class ChangeKind(enum.StrEnum):
    """How a report differs from the one before it, as a whole.

    ``ROLLBACK`` and ``MATERIAL`` are the material kinds (``is_material``):
    what alerts tell a team. ``IMPROVEMENT`` is a change for the better (a
    finding resolved or eased, nothing worse); ``RENEWAL`` a routine one.
    """

    SAME = "same"
    RENEWAL = "renewal"
    IMPROVEMENT = "improvement"
    ROLLBACK = "rollback"
    MATERIAL = "material"

    @property
    def is_material(self) -> bool:
        return self in (ChangeKind.MATERIAL, ChangeKind.ROLLBACK)


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
        routine: a renewal of the leaf (a newer certificate, same subject and
            names, same or sibling issuer), or the issuing intermediate
            rotated to a sibling along with that renewal.
        rollback: the leaf replaced by an *older* certificate of the same names.
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
    rollback: bool = False


@dataclass(frozen=True)
class EndpointDiff:
    """One served outcome compared across the two reports.

    ``status``: ``same`` (served on both sides, maybe from other addresses),
    ``changed`` (paired with a different outcome), ``added`` (a chain only
    the newer report serves) or ``removed`` (one it no longer serves).
    ``addresses`` are the newer side's endpoint labels (the older side's for
    ``removed``), ``before_addresses`` the older side's.
    """

    key: str
    status: str
    served: tuple[CertChange, ...] = ()
    expected: tuple[CertChange, ...] = ()
    introduced: tuple[Finding, ...] = ()
    resolved: tuple[Finding, ...] = ()
    verdict_before: str | None = None
    verdict_after: str | None = None
    # (before, after) pairs of one finding code whose severity went up / down.
    worsened: tuple[tuple[Finding, Finding], ...] = ()
    eased: tuple[tuple[Finding, Finding], ...] = ()
    addresses: tuple[str, ...] = ()
    before_addresses: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.status != "same"

    @property
    def moved_addresses(self) -> bool:
        """The same outcome, served from other addresses than before."""
        return set(self.addresses) != set(self.before_addresses)

    @property
    def expected_worth_saying(self) -> tuple[CertChange, ...]:
        """The expected chain's changes worth reading. It follows the served chain (a
        renewed leaf is in both, a fixed chain gains its path), so only when the
        server sent the same chain and only the path clients build changed; never
        a whole chain "added" from nothing (the resolved finding says that)."""
        if self.served or any(c.kind == "added" and c.position == 0 for c in self.expected):
            return ()
        return self.expected

    @property
    def leaf_renewed(self) -> bool:
        return any(c.routine and c.position == 0 for c in self.served)

    @property
    def worse(self) -> bool:
        """A new finding, a finding more severe, or a worse verdict."""
        before = _VERDICT_RANK.get(self.verdict_before or "ok", 0)
        after = _VERDICT_RANK.get(self.verdict_after or "ok", 0)
        return bool(self.introduced or self.worsened) or after > before

    @property
    def better(self) -> bool:
        """A finding resolved (beyond what any renewal resolves) or eased."""
        allowed = RENEWAL_RESOLVES if self.leaf_renewed else frozenset()
        return bool(self.eased) or any(f.code not in allowed for f in self.resolved)


@dataclass(frozen=True)
class ReportDiff:
    """Two reports compared. ``introduced``/``resolved`` are the scan-wide findings."""

    kind: ChangeKind
    summary: str
    endpoints: tuple[EndpointDiff, ...]
    introduced: tuple[Finding, ...] = ()
    resolved: tuple[Finding, ...] = ()
    headline: str = ""
    verdict_before: str | None = None
    verdict_after: str | None = None
    worsened: tuple[tuple[Finding, Finding], ...] = ()
    eased: tuple[tuple[Finding, Finding], ...] = ()

    @property
    def changed_endpoints(self) -> tuple[EndpointDiff, ...]:
        return tuple(e for e in self.endpoints if e.changed)

    @property
    def unchanged_endpoints(self) -> tuple[EndpointDiff, ...]:
        return tuple(e for e in self.endpoints if not e.changed)

    @property
    def changed_groups(self) -> tuple[tuple[tuple[str, ...], EndpointDiff], ...]:
        """Changes that read alike (the same change on the no-SNI probe, on several
        nodes), once each: every address that had it, and one of the diffs."""
        groups: dict[str, tuple[list[str], EndpointDiff]] = {}
        for e in self.changed_endpoints:
            labels, _ = groups.setdefault(f"{e.status}|{_phrase(e)}", ([], e))
            labels.extend(a for a in e.addresses if a not in labels)
        return tuple((tuple(labels), e) for labels, e in groups.values())


# --- certificates ------------------------------------------------------------------


def _name(cert: CertificateInfo) -> str:
    return f"{cert.label} ({cert.short_fingerprint})"


def _day(cert: CertificateInfo, field: str) -> str:
    value = getattr(cert, field)
    return value.strftime("%Y-%m-%d") if value is not None else "an unknown date"


# An RFC 4514 attribute that is not the common name ("O=Let's Encrypt"),
# split on commas that are not escaped.
_RDN_SPLIT = re.compile(r"(?<!\\),")


def _organisation(subject: str) -> tuple[str, ...]:
    return tuple(sorted(p for p in _RDN_SPLIT.split(subject) if not p.startswith("CN=")))


def are_siblings(old: CertificateInfo, new: CertificateInfo) -> bool:
    """Two intermediates of one CA's set under the same root (R10 and R11, E5 and E6):
    both CAs, issued by the same name and key, the same subject but for the CN."""
    return (
        old.sha256 != new.sha256
        and old.is_ca
        and new.is_ca
        and not old.self_signed
        and not new.self_signed
        and old.issuer == new.issuer
        and (old.aki is None or new.aki is None or old.aki == new.aki)
        and _organisation(old.subject) == _organisation(new.subject)
    )


def _issuer_in(cert: CertificateInfo, pool: Iterable[CertificateInfo]) -> CertificateInfo | None:
    return next((c for c in pool if c.subject == cert.issuer and c.sha256 != cert.sha256), None)


def _same_line(
    old: CertificateInfo,
    new: CertificateInfo,
    old_pool: Sequence[CertificateInfo],
    new_pool: Sequence[CertificateInfo],
) -> bool:
    """Same subject and names, from the same issuer or a sibling of it."""
    if old.subject != new.subject or set(old.san) != set(new.san):
        return False
    if old.issuer == new.issuer:
        return old.aki is None or new.aki is None or old.aki == new.aki
    old_issuer, new_issuer = _issuer_in(old, old_pool), _issuer_in(new, new_pool)
    return (
        old_issuer is not None and new_issuer is not None and are_siblings(old_issuer, new_issuer)
    )


def _age(cert: CertificateInfo) -> tuple[float, float] | None:
    if cert.not_before is None or cert.not_after is None:
        return None
    return (cert.not_before.timestamp(), cert.not_after.timestamp())


def _compare_age(old: CertificateInfo, new: CertificateInfo) -> int:
    """1 when ``new`` is the newer certificate (later validity), -1 when older, else 0."""
    old_age, new_age = _age(old), _age(new)
    if old_age is None or new_age is None or old_age == new_age:
        return 0
    return 1 if new_age > old_age else -1


def is_renewal(
    old: CertificateInfo,
    new: CertificateInfo,
    old_pool: Sequence[CertificateInfo] = (),
    new_pool: Sequence[CertificateInfo] = (),
) -> bool:
    """``new`` renews leaf ``old``: a *newer* certificate (later validity) with the same
    subject and names, from the same issuer or a sibling intermediate of its CA.

    ``old_pool``/``new_pool`` are the certificates each leaf's issuer is looked
    up in (its chains), needed only to recognise a sibling issuer. The reverse,
    an *older* certificate of the same line (a restored image, a node never
    reloaded), is a rollback: ``is_rollback``.
    """
    return _compare_age(old, new) > 0 and _same_line(old, new, old_pool, new_pool)


def is_rollback(
    old: CertificateInfo,
    new: CertificateInfo,
    old_pool: Sequence[CertificateInfo] = (),
    new_pool: Sequence[CertificateInfo] = (),
) -> bool:
    return _compare_age(old, new) < 0 and _same_line(old, new, old_pool, new_pool)


# --- chains ------------------------------------------------------------------------


def _occurrences(chain: tuple[CertificateInfo, ...]) -> list[tuple[str, int]]:
    """Each slot as (SHA-256, how many times it was seen before), so a certificate
    sent twice is two distinct entries and dropping the copy shows as a removal."""
    seen: dict[str, int] = {}
    out: list[tuple[str, int]] = []
    for cert in chain:
        out.append((cert.sha256, seen.get(cert.sha256, 0)))
        seen[cert.sha256] = seen.get(cert.sha256, 0) + 1
    return out


def _replacement(
    i: int,
    old: CertificateInfo,
    new: CertificateInfo,
    before: tuple[CertificateInfo, ...],
    after: tuple[CertificateInfo, ...],
    pools: tuple[Sequence[CertificateInfo], Sequence[CertificateInfo]],
) -> CertChange:
    old_pool, new_pool = (*before, *pools[0]), (*after, *pools[1])
    if i == 0 and is_renewal(old, new, old_pool, new_pool):
        same = "same issuer" if old.issuer == new.issuer else "a sibling issuer of the same CA"
        text = (
            f"position 0 renewed: {new.label} valid until {_day(old, 'not_after')} → "
            f"{_day(new, 'not_after')}, same names, {same}"
        )
        return CertChange("replaced", 0, old, new, text, routine=True)
    if i == 0 and is_rollback(old, new, old_pool, new_pool):
        text = (
            f"position 0 rolled back to an older certificate issued {_day(new, 'not_before')} "
            f"(valid until {_day(new, 'not_after')}): {_name(new)} replaced {_name(old)}"
        )
        return CertChange("replaced", 0, old, new, text, rollback=True)
    # The issuing intermediate rotated to a sibling together with a leaf renewal.
    if (
        i > 0
        and before
        and after
        and before[0].issuer == old.subject
        and after[0].issuer == new.subject
        and are_siblings(old, new)
        and is_renewal(before[0], after[0], old_pool, new_pool)
    ):
        text = f"issuer rotated within the CA's set: {old.label} → {new.label}"
        return CertChange("replaced", i, old, new, text, routine=True)
    return CertChange(
        "replaced", i, old, new, f"position {i} changed from {_name(old)} to {_name(new)}"
    )


def chain_changes(
    before: tuple[CertificateInfo, ...],
    after: tuple[CertificateInfo, ...],
    pools: tuple[Sequence[CertificateInfo], Sequence[CertificateInfo]] = ((), ()),
) -> tuple[CertChange, ...]:
    """Compare two chains slot by slot, naming what was added, removed, moved or replaced.

    ``pools`` hold more certificates of each side (the expected chains) in
    which a leaf's issuer is looked up to recognise a sibling intermediate.
    """
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
            text = f"{_name(new)} moved from position {src} to {i}"
            changes.append(CertChange("moved", i, before[src], new, text, from_position=src))
        elif new is not None:
            if old is not None and old_id not in new_pos:
                changes.append(_replacement(i, old, new, before, after, pools))
                continue
            changes.append(CertChange("added", i, None, new, f"position {i}: {_name(new)} added"))
        # The certificate that was in this slot: gone, unless it moved elsewhere
        # (then its "moved" entry at the new slot says so).
        if old is not None and old_id not in new_pos:
            changes.append(
                CertChange("removed", i, old, None, f"position {i}: {_name(old)} removed")
            )
    return tuple(changes)


# --- findings ----------------------------------------------------------------------


@dataclass(frozen=True)
class _FindingDelta:
    introduced: tuple[Finding, ...] = ()
    resolved: tuple[Finding, ...] = ()
    worsened: tuple[tuple[Finding, Finding], ...] = ()
    eased: tuple[tuple[Finding, Finding], ...] = ()


def _by_code(findings: Iterable[Finding]) -> dict[str, Finding]:
    """One finding per code, the most severe when a code repeats."""
    out: dict[str, Finding] = {}
    for finding in findings:
        kept = out.get(finding.code)
        if kept is None or finding.severity.rank > kept.severity.rank:
            out[finding.code] = finding
    return out


def _finding_delta(before: Iterable[Finding], after: Iterable[Finding]) -> _FindingDelta:
    """Findings compared by code *and* severity: a warning that became an error is worse."""
    old, new = _by_code(before), _by_code(after)
    both = [(old[code], f) for code, f in new.items() if code in old]
    return _FindingDelta(
        introduced=tuple(f for code, f in new.items() if code not in old),
        resolved=tuple(f for code, f in old.items() if code not in new),
        worsened=tuple((a, b) for a, b in both if b.severity.rank > a.severity.rank),
        eased=tuple((a, b) for a, b in both if b.severity.rank < a.severity.rank),
    )


# --- endpoints ---------------------------------------------------------------------


def _outcome(e: EndpointReport) -> tuple[object, ...]:
    """What an endpoint serves and what comes of it, without its address."""
    return (
        e.served_fingerprint(),
        e.expected_fingerprint(),
        e.verdict.value,
        e.error,
        tuple(sorted((f.code, f.severity.value) for f in e.findings)),
    )


def _pair(
    old: EndpointReport | None,
    new: EndpointReport | None,
    before: tuple[str, ...],
    after: tuple[str, ...],
) -> EndpointDiff:
    labels = after or before
    key = ", ".join(labels)
    if old is None:
        assert new is not None
        return EndpointDiff(
            key,
            "added",
            served=chain_changes((), new.served),
            expected=chain_changes((), new.expected),
            introduced=tuple(_by_code(new.findings).values()),
            verdict_after=new.verdict.value,
            addresses=after,
        )
    if new is None:
        return EndpointDiff(
            key,
            "removed",
            served=chain_changes(old.served, ()),
            expected=chain_changes(old.expected, ()),
            resolved=tuple(_by_code(old.findings).values()),
            verdict_before=old.verdict.value,
            addresses=before,
            before_addresses=before,
        )
    pools = (old.expected, new.expected)
    served = chain_changes(old.served, new.served, pools)
    expected = chain_changes(old.expected, new.expected, (old.served, new.served))
    delta = _finding_delta(old.findings, new.findings)
    changed = _outcome(old) != _outcome(new)
    return EndpointDiff(
        key,
        "changed" if changed else "same",
        served=served,
        expected=expected,
        introduced=delta.introduced,
        resolved=delta.resolved,
        worsened=delta.worsened,
        eased=delta.eased,
        verdict_before=old.verdict.value,
        verdict_after=new.verdict.value,
        addresses=after,
        before_addresses=before,
    )


def _match(old: list[EndpointReport], new: list[EndpointReport]) -> list[EndpointDiff]:
    """One probe class of both reports, matched by what the endpoints serve."""
    old_g: dict[tuple[object, ...], list[EndpointReport]] = {}
    new_g: dict[tuple[object, ...], list[EndpointReport]] = {}
    for e in old:
        old_g.setdefault(_outcome(e), []).append(e)
    for e in new:
        new_g.setdefault(_outcome(e), []).append(e)

    def labels(group: list[EndpointReport]) -> tuple[str, ...]:
        return tuple(e.key for e in group)  # address, and "(no SNI)" for that probe

    def addresses(group: list[EndpointReport]) -> set[str]:
        return {e.address for e in group}

    old_only = [k for k in old_g if k not in new_g]
    new_only = [k for k in new_g if k not in old_g]
    Group = list[EndpointReport]
    pairs: list[tuple[Group, Group]] = []

    def on(group: Group, shared: set[str]) -> Group:
        return [e for e in group if e.address in shared]

    # A node that now serves something else: the same address on both sides.
    # Prefer an outcome the newer report no longer has; else one it still
    # serves elsewhere (one node of several changed while the others did not),
    # and then name only the nodes that changed.
    for k in list(new_only):
        here = addresses(new_g[k])
        match = next((o for o in old_only if here & addresses(old_g[o])), None)
        if match is None:
            match = next((o for o in old_g if here & addresses(old_g[o])), None)
        if match is None:
            continue
        new_only.remove(k)
        if match in old_only:
            old_only.remove(match)
            pairs.append((old_g[match], new_g[k]))
        else:
            pairs.append((on(old_g[match], here), new_g[k]))
    for o in list(old_only):
        here = addresses(old_g[o])
        match = next((k for k in new_g if k in old_g and here & addresses(new_g[k])), None)
        if match is not None:
            old_only.remove(o)
            pairs.append((old_g[o], on(new_g[match], here)))
    # What is left pairs in order (a host that moved to new addresses and new
    # chains at once), then stands alone: a chain only one side serves.
    while old_only and new_only:
        pairs.append((old_g[old_only.pop(0)], new_g[new_only.pop(0)]))
    pairs += [(old_g[o], []) for o in old_only] + [([], new_g[k]) for k in new_only]

    out: list[EndpointDiff] = []
    for k, group in new_g.items():
        if k in old_g:
            out.append(_pair(old_g[k][0], group[0], labels(old_g[k]), labels(group)))
    for old_group, new_group in pairs:
        out.append(
            _pair(
                old_group[0] if old_group else None,
                new_group[0] if new_group else None,
                labels(old_group),
                labels(new_group),
            )
        )
    return out


def endpoint_diff(key: str, old: EndpointReport | None, new: EndpointReport | None) -> EndpointDiff:
    """Two endpoints compared as one (``old`` or ``new`` is ``None`` when it appeared or went)."""
    if old is None and new is None:
        raise ValueError("an endpoint diff needs at least one side")
    return _pair(old, new, (key,) if old else (), (key,) if new else ())


def diff_reports(before: Report, after: Report) -> ReportDiff:
    """Diff two reports of the same host (``before`` is the older one).

    Returns:
        One entry per distinct outcome of either report (with SNI first, then
        without), the overall kind, a headline and a one-line summary.
    """
    endpoints: list[EndpointDiff] = []
    for no_sni in (False, True):
        endpoints += _match(
            [e for e in before.endpoints if (e.sni is None) == no_sni],
            [e for e in after.endpoints if (e.sni is None) == no_sni],
        )
    delta = _finding_delta(before.findings, after.findings)
    rank_before = _VERDICT_RANK.get(before.verdict.value, 0)
    rank_after = _VERDICT_RANK.get(after.verdict.value, 0)
    worse = (
        any(e.worse for e in endpoints)
        or bool(delta.introduced or delta.worsened)
        or rank_after > rank_before
    )
    better = any(e.better for e in endpoints) or bool(delta.resolved or delta.eased)
    structural = any(
        e.status in ("added", "removed") or any(not c.routine for c in (*e.served, *e.expected))
        for e in endpoints
    )
    if any(c.rollback for e in endpoints for c in e.served):
        kind = ChangeKind.ROLLBACK
    elif worse:
        kind = ChangeKind.MATERIAL
    elif better:
        kind = ChangeKind.IMPROVEMENT
    elif structural:
        kind = ChangeKind.MATERIAL
    elif any(e.changed for e in endpoints):
        kind = ChangeKind.RENEWAL
    else:
        kind = ChangeKind.SAME
    diff = ReportDiff(
        kind,
        "",
        tuple(endpoints),
        delta.introduced,
        delta.resolved,
        verdict_before=before.verdict.value,
        verdict_after=after.verdict.value,
        worsened=delta.worsened,
        eased=delta.eased,
    )
    return dataclasses.replace(diff, summary=_summary(diff), headline=_headline(diff))


# --- words -------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ending with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    return cut.rstrip(" ,;:—-") + "…"


def _short(cert: CertificateInfo, other: CertificateInfo | None = None) -> str:
    """A certificate's name for the summary: the fingerprint only when the name is ambiguous."""
    if other is not None and other.label == cert.label:
        return _name(cert)
    return cert.label


def _brief(change: CertChange) -> str:
    before, after = change.before, change.after
    if change.kind == "replaced" and before and after:
        if change.routine and change.position == 0:
            return (
                f"{after.label} renewed, valid until {_day(before, 'not_after')} → "
                f"{_day(after, 'not_after')}"
            )
        if change.routine:
            return change.text  # the issuer rotated within the CA's set
        if change.rollback:
            return change.text.removeprefix("position 0 ").split(": ")[0]
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


def _finding_words(
    introduced: Iterable[Finding],
    resolved: Iterable[Finding],
    worsened: Iterable[tuple[Finding, Finding]],
    eased: Iterable[tuple[Finding, Finding]],
) -> list[str]:
    words = [f"{f.code} introduced" for f in introduced]
    words += [f"{b.code} {a.severity.value} → {b.severity.value}" for a, b in worsened]
    words += [f"{b.code} {a.severity.value} → {b.severity.value}" for a, b in eased]
    words += [f"{f.code} resolved" for f in resolved]
    return words


def _phrase(e: EndpointDiff) -> str:
    """What happened to one outcome, without its addresses."""
    # An endpoint that failed (no chain) is said by its finding alone
    # ("connect-failed introduced", "timeout resolved").
    if e.status == "added":
        parts = ["now serves a chain not served before"] if e.served else []
    elif e.status == "removed":
        parts = ["no longer served"] if e.served else []
    elif _whole_chain(e.served, "removed"):
        parts = ["no chain served"]  # the node failed; its finding says how
    elif _whole_chain(e.served, "added"):
        parts = ["serves a chain again"]
    else:
        served = [_brief(c) for c in e.served]
        expected = [f"expected chain: {_brief(c)}" for c in e.expected_worth_saying]
        parts = ["; ".join(served + expected)] if served or expected else []
    words = _finding_words(e.introduced, e.resolved, e.worsened, e.eased)
    if not parts and not words and e.verdict_before != e.verdict_after:
        words.append(f"verdict {e.verdict_before} → {e.verdict_after}")
    text = " ".join(parts)
    if words:
        text = f"{text} — {', '.join(words)}" if text else ", ".join(words)
    return text


def _whole_chain(changes: tuple[CertChange, ...], kind: str) -> bool:
    """Every slot, the leaf included, was ``kind`` (the chain went, or came back)."""
    return any(c.position == 0 for c in changes) and all(c.kind == kind for c in changes)


def _summary(diff: ReportDiff) -> str:
    if diff.kind == ChangeKind.SAME:
        moved = sorted({a for e in diff.endpoints if e.moved_addresses for a in e.addresses})
        tail = f" (now from {_join(moved)})" if moved else ""
        return f"No change: the same chains with the same findings{tail}."
    # Outcomes that changed alike are named together, with every address, so a
    # host behind a load balancer (and its no-SNI probe) reads as one sentence.
    parts = [f"{_join(list(labels))}: {_phrase(e)}" for labels, e in diff.changed_groups]
    parts += _finding_words(diff.introduced, diff.resolved, diff.worsened, diff.eased)
    more = len(parts) - MAX_SUMMARY_PARTS
    text = "; ".join(parts[:MAX_SUMMARY_PARTS]) + (f"; and {more} more" if more > 0 else "")
    prefix = {
        ChangeKind.RENEWAL: "Routine renewal",
        ChangeKind.IMPROVEMENT: "Improvement",
    }.get(diff.kind, "Material change")
    return f"{prefix}: {text}."


def _headline(diff: ReportDiff) -> str:
    """The change in a few words, for the top of a diff page and a history row."""
    before, after = (diff.verdict_before or "").upper(), (diff.verdict_after or "").upper()
    verdict = f"{before} → {after}" if before != after else ""
    served = [c for e in diff.endpoints for c in e.served]
    if diff.kind == ChangeKind.SAME:
        return "No change"
    if diff.kind == ChangeKind.RENEWAL:
        rotated = next((c for c in served if c.routine and c.position > 0), None)
        return f"Routine renewal: {rotated.text}" if rotated else "Routine renewal"
    if diff.kind == ChangeKind.IMPROVEMENT:
        if verdict:
            return f"{'Fixed' if after == 'OK' else 'Improved'}: {verdict}"
        words = _finding_words((), _resolved(diff), (), _eased(diff))
        return f"Improvement: {words[0]}" if words else "Improvement"
    if diff.kind == ChangeKind.ROLLBACK:
        back = next(c for c in served if c.rollback)
        assert back.after is not None
        what = f"rolled back to an older certificate issued {_day(back.after, 'not_before')}"
        return f"Material change: {what}" + (f" ({verdict})" if verdict else "")
    what = _material_point(diff)
    return f"Material change: {what}" + (f" ({verdict})" if verdict and what else verdict)


def _resolved(diff: ReportDiff) -> list[Finding]:
    return [*(f for e in diff.endpoints for f in e.resolved), *diff.resolved]


def _eased(diff: ReportDiff) -> list[tuple[Finding, Finding]]:
    return [*(p for e in diff.endpoints for p in e.eased), *diff.eased]


def _material_point(diff: ReportDiff) -> str:
    """The one thing a material change is about, most telling first."""
    new = [
        c.after
        for e in diff.endpoints
        for c in e.served
        if not c.routine and c.after is not None and c.kind in ("replaced", "added")
    ]
    intermediate = next((c for c in new if c.is_ca and not c.self_signed), None)
    if intermediate is not None:
        return f"new intermediate {intermediate.label}"
    leaf = next((c for c in new if not c.is_ca), None)
    if leaf is not None:
        return f"new certificate {leaf.label} from {_issuer_label(leaf)}"
    introduced = [*(f for e in diff.endpoints for f in e.introduced), *diff.introduced]
    worsened = [*(p for e in diff.endpoints for p in e.worsened), *diff.worsened]
    words = _finding_words(introduced, (), worsened, ())
    if words:
        return words[0]
    if any(e.status == "removed" for e in diff.endpoints):
        return "a chain is no longer served"
    if any(e.status == "added" for e in diff.endpoints):
        return "another chain is served"
    return "the chain changed"


def _issuer_label(cert: CertificateInfo) -> str:
    cn = next((p[3:] for p in _RDN_SPLIT.split(cert.issuer) if p.startswith("CN=")), None)
    return cn or cert.issuer


def _join(items: list[str]) -> str:
    if not items:
        return ""
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
        "rollback": change.rollback,
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
        "material": diff.kind.is_material,
        "headline": diff.headline,
        "summary": diff.summary,
        "introduced": [f.code for f in diff.introduced],
        "resolved": [f.code for f in diff.resolved],
        "endpoints": [
            {
                "key": e.key,
                "addresses": list(e.addresses),
                "addresses_before": list(e.before_addresses),
                "status": e.status,
                "verdict_before": e.verdict_before,
                "verdict_after": e.verdict_after,
                "served": [_change_json(c) for c in e.served],
                "expected": [_change_json(c) for c in e.expected],
                "introduced": [f.code for f in e.introduced],
                "resolved": [f.code for f in e.resolved],
                "worsened": [
                    {"code": b.code, "before": a.severity.value, "after": b.severity.value}
                    for a, b in e.worsened
                ],
            }
            for e in diff.endpoints
        ],
    }
