"""Diagnosis: client verdicts, findings and roles, judged from frozen evidence.

The verifier (``cryptography.x509.verification``) answers one question: is
there a valid path. It says "candidates exhausted" alike for a missing
intermediate and for an intermediate with the right key and the wrong name
(the X1/X3 case). ``analysis`` gathers the graph we inspect ourselves — who
issued whom, by name and by signature, looked at separately — and the
verifier's paths into one ``Evidence``; this module judges it.

Every function here is pure: evidence (and, where a judgement builds on
another, that judgement) in, verdicts or findings out. Nothing appends to
shared state and nothing is rewritten afterwards, so the order they run in
does not matter. Each finding family is one function ``Evidence → list[Finding]``;
``findings`` lists them in the order a report shows ties. The words come from
``explain``; the codes, severities and titles from ``catalogue``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from . import explain
from . import platforms as platform_judge
from .catalogue import AIA, ALL_CLIENTS, CLIENT_FAMILIES, EXPLAINED_BY, STRICT
from .evidence import SERVED, CertRecord, Evidence, Path, Walk, is_anchor_copy
from .report import CertificateInfo, ClientVerdict, Finding, PlatformVerdict, Role, Severity
from .trust import store_phrase

WEAK_HASHES = frozenset({"sha1", "md5", "md2"})
_NO_WALK = Walk({}, {}, (), (), (), frozenset())


def weak_key(info: CertificateInfo) -> bool:
    if info.key_type == "RSA" or info.key_type == "DSA":
        return 0 < info.key_size < 2048
    if info.key_type.startswith("EC"):
        return 0 < info.key_size < 256
    return False


# --- what several judgements read -----------------------------------------------------


def _walk(ev: Evidence) -> Walk:
    return ev.walk or _NO_WALK


def _chain(ev: Evidence) -> Path:
    """The path shown as expected (valid now, or once the leaf's dates allow)."""
    return ev.paths.display or ()


def expected_infos(ev: Evidence) -> list[CertificateInfo]:
    """The chain to serve, leaf first, without the root."""
    chain = _chain(ev)
    return [r.info for r in (chain[:-1] if len(chain) > 1 else chain)]


def _right_issuer(ev: Evidence, child: CertRecord) -> CertRecord | None:
    """The certificate that should follow ``child``: on the expected chain if
    possible, else any known issuer that leads to a root."""
    chain = _chain(ev)
    for rec, nxt in itertools.pairwise(chain):
        if rec is child:
            return nxt
    walk = _walk(ev)
    parents = walk.issuers.get(child.sha, [])
    leading = [p for p in parents if p.sha in walk.to_anchor]
    candidates = leading or parents
    return candidates[0] if candidates else None


def _missing(ev: Evidence) -> list[CertRecord]:
    """Certificates on the way to the root that the server does not send."""
    chain = _chain(ev)
    if chain:
        return [r for r in chain[1:-1] if SERVED not in r.origins]
    out: list[CertRecord] = []
    for gap in ev.gaps:
        cur: CertRecord | None = _right_issuer(ev, gap)
        while cur is not None and cur not in out and SERVED not in cur.origins:
            if ev.trust.contains(cur.sha) or cur.self_issued:
                break
            out.append(cur)
            cur = _right_issuer(ev, cur)
    return out


def _rest_and_leftovers(ev: Evidence) -> tuple[list[CertRecord], list[CertRecord]]:
    """Gaps the X1/X3 case does not explain, and served certificates no finding has named yet."""
    explained = {gap.sha for gap, _ in ev.same_key}
    named = {other.sha for _, other in ev.same_key}
    rest = [g for g in ev.gaps if g.sha not in explained]
    leftovers = [r for r in ev.unreachable if r.sha not in named and not r.self_issued]
    return rest, leftovers


def _wrong_issuers(ev: Evidence) -> set[str]:
    """Served certificates sent in place of the real issuer (``wrong-issuer``)."""
    out = {other.sha for _, other in ev.same_key}
    rest, leftovers = _rest_and_leftovers(ev)
    if rest and leftovers and not ev.store_empty:
        out.update(r.sha for r in leftovers)
    return out


def _untrusted(ev: Evidence) -> bool:
    """The chain ends at a root the store lacks (or the store is empty)."""
    walk = _walk(ev)
    tops = [t for t in walk.tops if t is not ev.leaf]
    return not walk.anchors and bool(tops or ev.store_empty)


def _gap_problem(ev: Evidence) -> bool:
    """Whether filling a gap could help (not when the chain ends at an untrusted root)."""
    return bool(ev.gaps) and not _untrusted(ev)


def _out_of_order(ev: Evidence) -> set[str]:
    """Served certificates sent before a certificate they issue (what
    ``wrong-order`` reports), and both ends when the leaf is not first."""
    out: set[str] = set()
    assert ev.leaf is not None and ev.leaf0 is not None
    if ev.leaf is not ev.leaf0:
        out.update((ev.leaf.sha, ev.leaf0.sha))
    position = ev.position
    walk = _walk(ev)
    for rec in ev.served:
        for parent in walk.issuers.get(rec.sha, []):
            if SERVED in parent.origins and position[parent.sha] < position[rec.sha]:
                out.update((rec.sha, parent.sha))
    return out


def _weakness(
    ev: Evidence,
) -> tuple[tuple[list[CertificateInfo], list[CertificateInfo]], ...]:
    """(used, unused) weak signatures, then (used, unused) weak keys, along the paths.

    Weakness follows the paths clients build, like expiry: when some client has
    a valid path, a weak certificate on none of those paths (a served
    cross-sign for other roots) is only sent along.
    """
    assert ev.leaf is not None
    leaf, walk = ev.leaf, _walk(ev)
    on_path = [r for r in ev.served if r.sha in walk.reached and r is not leaf]
    path = dict.fromkeys([leaf, *on_path, *_chain(ev)])
    valid = [p for p in (ev.paths.strict, ev.paths.preload, ev.paths.aia) if p is not None]
    used = set(path) if not valid else {leaf, *(r for p in valid for r in p)}
    weak_sig = [
        r
        for r in path
        if not r.self_issued and (r.info.signature_hash or "").lower() in WEAK_HASHES
    ]
    weak_keys = [r for r in path if weak_key(r.info)]
    return tuple(
        ([r.info for r in weak if r in used], [r.info for r in weak if r not in used])
        for weak in (weak_sig, weak_keys)
    )


# --- client verdicts ----------------------------------------------------------------


def client_verdicts(ev: Evidence) -> tuple[ClientVerdict, ...]:
    """One verdict per client family: strict, AIA fetchers, preloaders."""
    if ev.leaf is None:
        reason = (
            "Rejects: the server sent no certificate."
            if not ev.sent
            else "Rejects: the first certificate the server sent cannot be read."
        )
        return tuple(
            ClientVerdict(f, *CLIENT_FAMILIES[f], accepts=False, reason=reason) for f in ALL_CLIENTS
        )
    strict = ev.paths.strict
    blockers = _blockers(ev)
    problem = _path_problem(ev) if strict is None else ""
    ok = f"Accepts: the served certificates alone lead to a root in {store_phrase(ev.trust.name)}."
    out: list[ClientVerdict] = []
    for family in ALL_CLIENTS:
        blocker = next((why for fams, why in blockers if family in fams), None)
        if blocker is not None:
            accepts, reason = False, blocker
        elif strict is not None:
            accepts, reason = True, ok
        elif family == STRICT:
            tail = ", and these clients never fill gaps" if _gap_problem(ev) else ""
            accepts, reason = False, f"Rejects: {problem}{tail}."
        elif family == AIA:
            accepts, reason = _aia_reason(ev, problem)
        else:
            accepts, reason = _preload_reason(ev, problem)
        out.append(ClientVerdict(family, *CLIENT_FAMILIES[family], accepts, reason))
    return tuple(out)


def _blockers(ev: Evidence) -> list[tuple[tuple[str, ...], str]]:
    """Reasons a family rejects the connection whatever the path: (families, reason)."""
    assert ev.leaf is not None and ev.leaf0 is not None
    info, names = ev.leaf.info, ev.names
    out: list[tuple[tuple[str, ...], str]] = []
    if ev.leaf is not ev.leaf0:
        out.append(
            (
                ALL_CLIENTS,
                f"Rejects: the first certificate sent, {explain.ref(ev.leaf0.info)}, is a CA "
                "certificate, not the server's.",
            )
        )
    if any(i.parse_error for i in ev.infos):
        out.append(
            (
                ALL_CLIENTS,
                "Rejects: TLS libraries parse every certificate in the list and abort on bytes "
                "that are not one.",
            )
        )
    if info.not_after is not None and info.not_after < ev.at:
        out.append(
            (ALL_CLIENTS, f"Rejects: the certificate expired on {explain.when(info.not_after)}.")
        )
    elif info.not_before is not None and info.not_before > ev.at:
        out.append(
            (
                ALL_CLIENTS,
                f"Rejects: the certificate is valid only from {explain.when(info.not_before)}.",
            )
        )
    if names.no_san:
        out.append(
            (
                ALL_CLIENTS,
                "Rejects: the certificate has no subjectAltName (only a few old libraries fall "
                "back to the Common Name).",
            )
        )
    elif not names.host_ok and ev.hostname:
        out.append((ALL_CLIENTS, f"Rejects: the certificate does not cover '{ev.hostname}'."))
    if weak_key(info):
        out.append(
            (
                ALL_CLIENTS,
                f"Rejects: the certificate's {info.key_size}-bit {info.key_type} key is too small "
                "(browsers, and OpenSSL at its usual security level 2, refuse it).",
            )
        )
    if ev.sent > ev.limits.max_chain_certs:
        out.append(
            (
                (STRICT,),
                f"Rejects: Java refuses more than {ev.limits.max_chain_certs} certificates "
                f"and the server sends {ev.sent} (OpenSSL, curl and Go cope).",
            )
        )
    return out


def _path_problem(ev: Evidence) -> str:
    """Why the served chain fails, in one clause, from our own inspection
    where it can say more than the verifier's message."""
    walk, leaf = _walk(ev), ev.leaf
    tops = [t for t in walk.tops if t is not leaf]
    if ev.same_key:
        gap, wrong = ev.same_key[0]
        return (
            f"the served {explain.ref(wrong.info)} has the right key but not the name "
            f"{explain.issuer_label(gap.info)} that {explain.ref(gap.info)} gives as its issuer"
        )
    if ev.self_signed:
        return "the certificate is self-signed and not a trusted root"
    if _untrusted(ev):
        where = explain.refs(t.info for t in tops) or "a root"
        return f"the chain ends at {where}, which is not in {store_phrase(ev.trust.name)}"
    if ev.gaps:
        gap = ev.gaps[0]
        return (
            f"the server does not send {explain.issuer_label(gap.info)}, the issuer of "
            f"{explain.ref(gap.info)}"
        )
    category, text = explain.explain_verifier_error(ev.paths.strict_error)
    if category == "time":
        expired = [
            r.info for r in walk.reached.values() if r is not leaf and not r.info.is_valid_at(ev.at)
        ]
        if expired:
            return "; ".join(
                f"{explain.ref(c)} expired on {explain.when(c.not_after)}" for c in expired
            )
    if category in ("weak-signature", "weak-key"):
        used, unused = _weakness(ev)[0 if category == "weak-signature" else 1]
        if used or unused:
            return explain.weak_problem(category, used, unused)
    return text


def _aia_reason(ev: Evidence, problem: str) -> tuple[bool, str]:
    aia = ev.aia
    if ev.paths.aia is not None:
        got = "; ".join(f"{explain.ref(r.info)} from {url}" for r, url in aia.used)
        return True, f"Accepts: it downloads {got} (the AIA address in the certificates)."
    if aia.unfetched and _gap_problem(ev):
        child, url = aia.unfetched[0]
        why = "offline check" if aia.offline else "fetch limit reached"
        return False, (
            f"May accept if it can fetch {url} (the issuer of {explain.ref(child)}); "
            f"chainscan did not fetch it ({why})."
        )
    if aia.failures and _gap_problem(ev):
        child, url, reason = aia.failures[0]
        return False, (
            f"Rejects unless it has {explain.issuer_label(child)} cached: downloading {url} "
            f"failed ({reason})."
        )
    if aia.no_url and _gap_problem(ev):
        child = aia.no_url[0]
        return False, (
            f"Rejects unless it has {explain.issuer_label(child)} cached: {explain.ref(child)} "
            "has no AIA address to download its issuer from."
        )
    return False, f"Rejects: {problem}."


def _preload_reason(ev: Evidence, problem: str) -> tuple[bool, str]:
    preload = ev.paths.preload
    if preload is not None:
        added = [r for r in preload[1:-1] if SERVED not in r.origins]
        return True, (
            f"Accepts: {explain.refs(r.info for r in added) or 'the missing issuer'} is a known "
            "CA certificate (chainscan's list of CA certificates it has seen stands in for "
            "Firefox's preloaded intermediates)."
        )
    if not _gap_problem(ev):
        return False, f"Rejects: {problem}."
    return False, (
        f"Rejects: {problem}; it is not among the CA certificates chainscan knows (standing "
        "in for Firefox's preloaded intermediates)."
    )


# --- findings, one family per function -------------------------------------------------


def list_findings(ev: Evidence) -> list[Finding]:
    """The certificate list itself: empty, unreadable items, repeats."""
    if not ev.sent:
        return [explain.no_certificate()]
    out: list[Finding] = []
    bad = [(i + 1, info) for i, info in enumerate(ev.infos) if info.parse_error]
    if bad:
        out.append(explain.unreadable_cert(bad))
    positions: dict[str, list[int]] = {}
    first: dict[str, CertificateInfo] = {}
    for i, info in enumerate(ev.infos):
        if info.parse_error is None:
            positions.setdefault(info.sha256, []).append(i + 1)
            first.setdefault(info.sha256, info)
    dups = [(first[sha], p) for sha, p in positions.items() if len(p) > 1]
    if dups:
        out.append(explain.duplicate_cert(dups))
    return out


def leaf_findings(ev: Evidence) -> list[Finding]:
    """The server's own certificate: dates, names, self-signed."""
    if ev.leaf is None:
        return []
    info, names, at = ev.leaf.info, ev.names, ev.at
    out: list[Finding] = []
    if info.not_after is not None and info.not_after < at:
        out.append(explain.leaf_expired(info, at))
    elif info.not_before is not None and info.not_before > at:
        out.append(explain.leaf_not_yet_valid(info, at))
    elif info.not_after is not None and info.not_after - at < dt.timedelta(
        days=ev.limits.expiry_warning_days
    ):
        out.append(explain.leaf_expiring_soon(info, at))
    if names.no_san:
        out.append(explain.no_san(info, ev.hostname))
    elif not names.host_ok and ev.hostname:
        out.append(explain.hostname_mismatch(info, ev.hostname))
    if ev.self_signed:
        pinned = ev.trust.contains(ev.leaf.sha)
        out.append(explain.self_signed_leaf(info, pinned=pinned, store=ev.trust.name))
    return out


def validity_findings(ev: Evidence) -> list[Finding]:
    """Expired and weak certificates along the paths."""
    if ev.leaf is None:
        return []
    leaf, walk = ev.leaf, _walk(ev)
    out: list[Finding] = []
    expired = [
        r.info
        for r in ev.served
        if r.sha in walk.reached
        and r is not leaf
        and not r.self_issued
        and not ev.trust.contains(r.sha)
        and not r.info.is_valid_at(ev.at)
    ]
    if expired:
        out.append(
            explain.intermediate_expired(
                expired,
                ev.at,
                valid_path=ev.paths.strict is not None,
                expected=expected_infos(ev),
            )
        )
    (sig_used, sig_unused), (key_used, key_unused) = _weakness(ev)
    if sig_used or sig_unused:
        out.append(explain.weak_signature(sig_used, sig_unused))
    if key_used or key_unused:
        out.append(explain.weak_key(key_used, key_unused))
    return out


def _broken(clients: Sequence[ClientVerdict]) -> tuple[str, ...]:
    """The families a chain problem breaks (strict clients at least)."""
    return tuple(c.family for c in clients if not c.accepts) or (STRICT,)


def chain_findings(ev: Evidence, clients: Sequence[ClientVerdict]) -> list[Finding]:
    """What is wrong with the served list as a chain: wrong, missing, misordered, extra."""
    if ev.leaf is None:
        return []
    broken = _broken(clients)
    expected = expected_infos(ev)
    out: list[Finding] = []
    for gap, wrong in ev.same_key:
        right = _right_issuer(ev, gap)
        out.append(
            explain.same_key(
                gap.info,
                wrong.info,
                right.info if right else None,
                expected,
                gap.info.aia_issuers,
                broken,
            )
        )
    rest, leftovers = _rest_and_leftovers(ev)
    if rest and leftovers and not ev.store_empty:
        right = _right_issuer(ev, rest[0])
        out.append(
            explain.wrong_intermediate(
                rest[0].info,
                [r.info for r in leftovers],
                right.info if right else None,
                expected,
                broken,
            )
        )
    elif rest and not ev.store_empty:
        out.extend(_incomplete(ev, rest, broken))
    out.extend(_order(ev))
    out.extend(trust_findings(ev))
    named = _wrong_issuers(ev)
    extra = [r for r in ev.unreachable if r.sha not in named]
    if extra:
        out.append(explain.extra_certs([r.info for r in extra], expected))
    for rec in ev.served:
        if is_anchor_copy(ev.trust, rec):
            out.append(
                explain.contains_anchor(
                    rec.info, ev.trust.name, on_path=rec.sha in _walk(ev).reached
                )
            )
    if ev.sent > ev.limits.max_chain_certs:
        out.append(explain.too_many_certs(ev.sent, ev.limits.max_chain_certs, expected))
    return out


def _incomplete(ev: Evidence, gaps: list[CertRecord], broken: tuple[str, ...]) -> list[Finding]:
    # A gap whose known issuers all end at an untrusted root is not fixed by
    # serving them: untrusted-root says what is wrong instead. A gap with no
    # known issuer at all is still a missing intermediate.
    walk = _walk(ev)
    gaps = [g for g in gaps if g.sha in walk.to_anchor or not walk.issuers.get(g.sha)]
    if not gaps:
        return []
    # What the platforms know decides first: when nothing is missing but a root
    # (a root other stores have, or a private CA no store has), say so.
    if ev.platform is not None:
        untrusted = platform_judge.untrusted_root_instead(ev.platform, broken)
        if untrusted is not None:
            return [untrusted]
    aia = ev.aia
    if aia.used:
        aia_note = "Chrome, Windows and Apple download it from the AIA address and cope."
    elif aia.unfetched:
        aia_note = (
            "Chrome, Windows and Apple may cope if they can download it from "
            f"{aia.unfetched[0][1]}, or if they have it cached."
        )
    elif aia.failures:
        aia_note = (
            "Downloading it from the AIA address failed, so only browsers that have it cached cope."
        )
    else:
        aia_note = (
            "No AIA address says where to download it, so only browsers that have it cached cope."
        )
    return [
        explain.incomplete_chain(
            gaps[0].info,
            [r.info for r in _missing(ev)],
            expected_infos(ev),
            aia_note=aia_note,
            clients=broken,
        )
    ]


def _order(ev: Evidence) -> list[Finding]:
    assert ev.leaf is not None
    if not _out_of_order(ev):
        return []
    suggested = expected_infos(ev) or _topological(ev)
    return [
        explain.wrong_order(
            suggested,
            [r.info for r in ev.served],
            leaf_not_first=ev.leaf is not ev.leaf0,
        )
    ]


def _topological(ev: Evidence) -> list[CertificateInfo]:
    order: list[CertificateInfo] = []
    cur: CertRecord | None = ev.leaf
    walk = _walk(ev)
    while cur is not None and cur.info not in order:
        if ev.trust.contains(cur.sha):
            break
        order.append(cur.info)
        parents = [p for p in walk.issuers.get(cur.sha, []) if SERVED in p.origins]
        cur = parents[0] if parents else None
    return order


def trust_findings(ev: Evidence) -> list[Finding]:
    """Where the paths end: a root the store lacks, or only expired roots."""
    walk = _walk(ev)
    if ev.leaf is None or ev.self_signed:
        return []
    if not walk.anchors:
        tops = [t for t in walk.tops if t is not ev.leaf]
        if ev.store_empty and not tops:
            tops = list(walk.open_ends)
        if tops:
            return [
                explain.untrusted_root(
                    [t.info for t in tops], ev.trust.name, store_empty=ev.store_empty
                )
            ]
    elif ev.paths.expected is None and all(not a.info.is_valid_at(ev.at) for a in walk.anchors):
        return [explain.root_expired([a.info for a in walk.anchors], ev.at, ev.trust.name)]
    return []


def invalid_path_findings(ev: Evidence, found: Sequence[Finding]) -> list[Finding]:
    """``invalid-path``: the verifier's reason, when no error in ``found`` explains it."""
    if ev.leaf is None:
        return []
    codes = {f.code for f in found if f.severity is Severity.ERROR}
    if ev.paths.expected is None:
        category, text = explain.explain_verifier_error(ev.paths.expected_error)
        if not codes & EXPLAINED_BY.get(category, frozenset()):
            return [explain.invalid_path(text, served_only=False, expected=())]
    elif ev.paths.strict is None and ev.leaf is ev.leaf0:
        category, text = explain.explain_verifier_error(ev.paths.strict_error)
        if not codes & EXPLAINED_BY.get(category, frozenset()):
            return [explain.invalid_path(text, served_only=True, expected=expected_infos(ev))]
    return []


def aia_findings(ev: Evidence) -> list[Finding]:
    return [explain.aia_fetch_failed(ev.aia.failures)] if ev.aia.failures else []


def platform_findings(ev: Evidence, platforms: Sequence[PlatformVerdict]) -> list[Finding]:
    if ev.platform is None:
        return []
    found = platform_judge.missing_on_platforms(platforms, ev.platform)
    return [found] if found is not None else []


def findings(
    ev: Evidence, clients: Sequence[ClientVerdict], platforms: Sequence[PlatformVerdict]
) -> tuple[Finding, ...]:
    """Every finding, worst first (ties in the order of the families below)."""
    found = [
        *list_findings(ev),
        *leaf_findings(ev),
        *validity_findings(ev),
        *chain_findings(ev, clients),
    ]
    found += invalid_path_findings(ev, found)
    found += aia_findings(ev)
    found += platform_findings(ev, platforms)
    return tuple(sorted(found, key=lambda f: -f.severity.rank))  # stable: keeps the order above


# --- roles ----------------------------------------------------------------------------


def served_roles(ev: Evidence) -> tuple[str, ...]:
    """One ``Role`` per served certificate, from the paths and the graph."""
    if ev.leaf is None:
        seen_: set[str] = set()
        plain: list[str] = []
        for info in ev.infos:
            if info.parse_error:
                plain.append(Role.UNREADABLE)
            else:
                plain.append(Role.DUPLICATE if info.sha256 in seen_ else Role.EXTRA)
                seen_.add(info.sha256)
        return tuple(plain)
    chain = _chain(ev)
    on_expected = {r.sha for r in chain[:-1]} if len(chain) > 1 else set()
    out_of_order = _out_of_order(ev)
    wrong = _wrong_issuers(ev)
    reached = _walk(ev).reached
    roles: list[str] = []
    seen: set[str] = set()
    for rec in ev.recs:
        if rec is None:
            roles.append(Role.UNREADABLE)
            continue
        if rec.sha in seen:
            roles.append(Role.DUPLICATE)
            continue
        seen.add(rec.sha)
        if rec.sha in out_of_order:
            role = Role.MISPLACED
        elif rec is ev.leaf:
            role = Role.LEAF
        elif is_anchor_copy(ev.trust, rec):
            role = Role.ANCHOR_SENT
        elif rec.sha in wrong:
            role = Role.WRONG_ISSUER
        elif rec.sha in on_expected:
            role = Role.IN_PLACE
        elif rec.sha in reached:
            # On a path from the leaf that the expected chain does not
            # take: a cross-sign for clients with other roots.
            role = Role.ALTERNATE_PATH if on_expected else Role.IN_PLACE
        else:
            role = Role.EXTRA
        roles.append(role)
    return tuple(roles)


def expected_roles(ev: Evidence) -> tuple[str, ...]:
    """One ``Role`` per expected certificate: sent, not sent, or a trusted root."""
    chain = _chain(ev)
    on_chain = chain[:-1] if len(chain) > 1 else chain
    return tuple(
        Role.ANCHOR
        if ev.trust.contains(r.sha)
        else Role.SERVED
        if SERVED in r.origins
        else Role.NOT_SERVED
        for r in on_chain
    )


__all__ = [
    "chain_findings",
    "client_verdicts",
    "expected_infos",
    "expected_roles",
    "findings",
    "invalid_path_findings",
    "leaf_findings",
    "list_findings",
    "served_roles",
    "trust_findings",
    "validity_findings",
    "weak_key",
]
