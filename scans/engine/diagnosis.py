"""Diagnosis: what is wrong with a served chain, from names, keys and signatures.

The verifier (``cryptography.x509.verification``) answers one question: is
there a valid path. It says "candidates exhausted" alike for a missing
intermediate and for an intermediate with the right key and the wrong name
(the X1/X3 case). This module holds the certificate graph we inspect ourselves
— who issued whom, by name and by signature, looked at separately — and turns
it, together with the verifier's answers, into findings and per-family client
verdicts. ``analysis`` runs it; the words come from ``findings``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

from . import findings as words
from .findings import (
    AIA,
    ALL_CLIENTS,
    CLIENT_FAMILIES,
    EXPLAINED_BY,
    STRICT,
    explain_verifier_error,
)
from .report import CertificateInfo, ClientVerdict, Role, Severity

if TYPE_CHECKING:
    from .analysis import AnalysisRun

# Where a certificate came from: sent by the server, known from the issuer
# source (our stand-in for Firefox's preloaded list), downloaded via AIA, or a
# root of the trust store. One certificate can have several origins.
SERVED, SOURCE, FETCHED, ANCHOR = "served", "source", "aia", "anchor"
ALL_ORIGINS = frozenset({SERVED, SOURCE, FETCHED})
WEAK_HASHES = frozenset({"sha1", "md5", "md2"})


class CertRecord:
    """A parsed certificate known to one analysis, with where it came from."""

    __slots__ = ("_key", "info", "issuer", "origins", "sha", "subject", "x")

    def __init__(self, info: CertificateInfo, x: x509.Certificate) -> None:
        self.info = info
        self.x = x
        self.sha = info.sha256
        # Names as RFC 4514 text (from ``describe``): compared and hashed
        # thousands of times, where ``x509.Name`` objects are slow.
        self.subject = info.subject
        self.issuer = info.issuer
        self.origins: set[str] = set()
        self._key: object = None

    @property
    def self_issued(self) -> bool:
        return self.info.self_signed  # subject == issuer, compared as Names

    def public_key(self) -> object:
        """The public key, parsed once; ``False`` when it cannot be parsed."""
        if self._key is None:
            try:
                self._key = self.x.public_key()
            except Exception:  # noqa: BLE001 - a broken or unsupported key signs nothing
                self._key = False
        return self._key


def signature_verifies(child: x509.Certificate, key: object) -> bool:
    """Whether ``child``'s signature verifies with ``key``, names ignored.

    ``verify_directly_issued_by`` checks the names first and refuses SHA-1; the
    X1/X3 diagnosis needs the key alone, and a SHA-1 chain must still be walked
    to be reported as weak.
    """
    try:
        sig, tbs = child.signature, child.tbs_certificate_bytes
        params = child.signature_algorithm_parameters
        if isinstance(key, rsa.RSAPublicKey):
            hash_alg = child.signature_hash_algorithm
            if hash_alg is None:
                return False
            # cryptography gives no parameters for md5WithRSAEncryption: PKCS#1 v1.5.
            pad = params if params is not None else padding.PKCS1v15()
            key.verify(sig, tbs, pad, hash_alg)  # type: ignore[arg-type]
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, tbs, params)  # type: ignore[arg-type]
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(sig, tbs)
        elif isinstance(key, dsa.DSAPublicKey):
            hash_alg = child.signature_hash_algorithm
            if hash_alg is None:
                return False
            key.verify(sig, tbs, hash_alg)
        else:
            return False
    except Exception:  # noqa: BLE001 - InvalidSignature, unsupported algorithm, wrong key type
        return False
    return True


@dataclass
class Walk:
    """Everything reachable from a leaf by "is issued by" (name and signature)."""

    reached: dict[str, CertRecord]
    issuers: dict[str, list[CertRecord]]
    anchors: list[CertRecord]
    tops: list[CertRecord]  # self-issued certificates that are not anchors
    open_ends: list[CertRecord]  # no issuer found at all
    to_anchor: set[str]  # certificates from which some anchor is reachable


def normalise_host(hostname: str) -> str:
    host = hostname.strip().strip("[]").rstrip(".").lower()
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host


def _wildcard_matches(pattern: str, host: str) -> bool:
    """RFC 6125 §6.4.3 as browsers apply it: ``*`` is the whole left-most label,
    matches exactly one label, and needs at least two labels after it."""
    pattern = pattern.rstrip(".").lower()
    if "*" not in pattern:
        return pattern == host
    labels = pattern.split(".")
    if labels[0] != "*" or "*" in ".".join(labels[1:]) or len(labels) < 3:
        return False
    host_labels = host.split(".")
    return (
        len(host_labels) == len(labels) and host_labels[0] != "" and host_labels[1:] == labels[1:]
    )


def hostname_matches(hostname: str, dns_names: Sequence[str], ips: Sequence[str]) -> bool:
    """Whether a leaf with these SAN entries covers ``hostname`` (DNS or IP literal)."""
    host = normalise_host(hostname)
    if not host or not (host[-1].isdigit() or ":" in host):  # no IP literal: skip the parse
        return any(_wildcard_matches(name, host) for name in dns_names)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return any(_wildcard_matches(name, host) for name in dns_names)
    return any(_same_ip(address, ip) for ip in ips)


def _same_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> bool:
    try:
        return ipaddress.ip_address(text) == address
    except ValueError:
        return False


class Diagnosis:
    """Turns the graph and the verifier's answers into findings and verdicts."""

    def __init__(
        self,
        run: AnalysisRun,
        leaf: CertRecord,
        leaf0: CertRecord,
        walk: Walk,
        strict: list[CertRecord] | None,
        expected: list[CertRecord] | None,
        display: list[CertRecord] | None,
    ) -> None:
        self.run = run
        self.leaf = leaf
        self.leaf0 = leaf0
        self.walk = walk
        self.strict = strict
        self.valid = expected is not None  # a valid path exists now, with every source
        chain = display or []
        self.chain = chain
        self.expected = [r.info for r in (chain[:-1] if len(chain) > 1 else chain)]
        self.served = list(dict.fromkeys(r for r in run.recs if r is not None))
        self.position: dict[str, int] = {}
        for i, rec in enumerate(run.recs):
            if rec is not None:
                self.position.setdefault(rec.sha, i)
        self.consumed: set[str] = set()
        self.gaps: list[CertRecord] = []
        self.same_key: list[tuple[CertRecord, CertRecord]] = []
        if strict is None and not run.self_signed:
            served_walk = run.walk_from(leaf, frozenset({SERVED}))
            if not served_walk.anchors:
                self.gaps = served_walk.open_ends
        # Served certificates on no path from the leaf (anchors sent along are
        # contains-anchor's business, not ours).
        self.unreachable = [
            r
            for r in self.served
            if r.sha not in walk.reached and r is not leaf and not self._is_anchor_copy(r)
        ]
        for gap in self.gaps:
            for other in self.unreachable:
                if other.subject != gap.issuer and run.signs(gap, other):
                    self.same_key.append((gap, other))
                    self.consumed.add(other.sha)

    # -- helpers -------------------------------------------------------------------

    def _right_issuer(self, child: CertRecord) -> CertRecord | None:
        """The certificate that should follow ``child``: on the expected chain if
        possible, else any known issuer that leads to a root."""
        for rec, nxt in zip(self.chain, self.chain[1:], strict=False):
            if rec is child:
                return nxt
        parents = self.walk.issuers.get(child.sha, [])
        leading = [p for p in parents if p.sha in self.walk.to_anchor]
        candidates = leading or parents
        return candidates[0] if candidates else None

    def _missing(self) -> list[CertRecord]:
        """Certificates on the way to the root that the server does not send."""
        if self.chain:
            return [r for r in self.chain[1:-1] if SERVED not in r.origins]
        out: list[CertRecord] = []
        for gap in self.gaps:
            cur: CertRecord | None = self._right_issuer(gap)
            while cur is not None and cur not in out and SERVED not in cur.origins:
                if self.run.trust.contains(cur.sha) or cur.self_issued:
                    break
                out.append(cur)
                cur = self._right_issuer(cur)
        return out

    # -- clients -------------------------------------------------------------------

    def clients(
        self, strict_err: str, preload: list[CertRecord] | None, aia: list[CertRecord] | None
    ) -> tuple[ClientVerdict, ...]:
        run = self.run
        blockers = self._blockers()
        problem = self._path_problem(strict_err) if self.strict is None else ""
        ok = f"Accepts: the served certificates alone lead to a root in the '{run.trust.name}' store."
        out: list[ClientVerdict] = []
        for family in ALL_CLIENTS:
            blocker = next((why for fams, why in blockers if family in fams), None)
            if blocker is not None:
                accepts, reason = False, blocker
            elif self.strict is not None:
                accepts, reason = True, ok
            elif family == STRICT:
                tail = ", and these clients never fill gaps" if self._gap_problem() else ""
                accepts, reason = False, f"Rejects: {problem}{tail}."
            elif family == AIA:
                accepts, reason = self._aia_reason(aia, problem)
            else:
                accepts, reason = self._preload_reason(preload, problem)
            out.append(ClientVerdict(family, *CLIENT_FAMILIES[family], accepts, reason))
        return tuple(out)

    def _blockers(self) -> list[tuple[tuple[str, ...], str]]:
        """Reasons a family rejects the connection whatever the path: (families, reason)."""
        run, info = self.run, self.leaf.info
        out: list[tuple[tuple[str, ...], str]] = []
        if self.leaf is not self.leaf0:
            out.append(
                (
                    ALL_CLIENTS,
                    (
                        f"Rejects: the first certificate sent, {words.ref(self.leaf0.info)}, is a CA "
                        "certificate, not the server's."
                    ),
                )
            )
        if any(i.parse_error for i in run.infos):
            out.append(
                (
                    ALL_CLIENTS,
                    (
                        "Rejects: TLS libraries parse every certificate in the list and abort on bytes "
                        "that are not one."
                    ),
                )
            )
        if info.not_after is not None and info.not_after < run.at:
            out.append(
                (ALL_CLIENTS, f"Rejects: the certificate expired on {words.when(info.not_after)}.")
            )
        elif info.not_before is not None and info.not_before > run.at:
            out.append(
                (
                    ALL_CLIENTS,
                    (f"Rejects: the certificate is valid only from {words.when(info.not_before)}."),
                )
            )
        if run.no_san:
            out.append(
                (
                    ALL_CLIENTS,
                    (
                        "Rejects: the certificate has no subjectAltName (only a few old libraries fall "
                        "back to the Common Name)."
                    ),
                )
            )
        elif not run.host_ok and run.hostname:
            out.append((ALL_CLIENTS, f"Rejects: the certificate does not cover '{run.hostname}'."))
        if weak_key(info):
            out.append(
                (
                    ALL_CLIENTS,
                    (
                        f"Rejects: the certificate's {info.key_size}-bit {info.key_type} key is too small "
                        "(browsers, and OpenSSL at its usual security level 2, refuse it)."
                    ),
                )
            )
        if len(run.raw) > run.limits.max_chain_certs:
            out.append(
                (
                    (STRICT,),
                    (
                        f"Rejects: Java refuses more than {run.limits.max_chain_certs} certificates "
                        f"and the server sends {len(run.raw)} (OpenSSL, curl and Go cope)."
                    ),
                )
            )
        return out

    def _path_problem(self, err: str) -> str:
        """Why the served chain fails, in one clause, from our own inspection
        where it can say more than the verifier's message."""
        run, walk = self.run, self.walk
        tops = [t for t in walk.tops if t is not self.leaf]
        if self.same_key:
            gap, wrong = self.same_key[0]
            return (
                f"the served {words.ref(wrong.info)} has the right key but not the name "
                f"{words.issuer_label(gap.info)} that {words.ref(gap.info)} gives as its issuer"
            )
        if run.self_signed:
            return "the certificate is self-signed and not a trusted root"
        if not walk.anchors and (tops or run.trust.store is None):
            where = words.refs(t.info for t in tops) or "a root"
            return f"the chain ends at {where}, which is not in the '{run.trust.name}' store"
        if self.gaps:
            gap = self.gaps[0]
            return (
                f"the server does not send {words.issuer_label(gap.info)}, the issuer of "
                f"{words.ref(gap.info)}"
            )
        category, text = explain_verifier_error(err)
        if category == "time":
            expired = [
                r.info
                for r in walk.reached.values()
                if r is not self.leaf and not r.info.is_valid_at(run.at)
            ]
            if expired:
                return "; ".join(
                    f"{words.ref(c)} expired on {words.when(c.not_after)}" for c in expired
                )
        if category in ("weak-signature", "weak-key"):
            weak = [f for f in run.findings if f.code == category]
            if weak:
                return weak[0].detail.split(". ")[0]
        return text

    def _gap_problem(self) -> bool:
        """Whether filling a gap could help (not when the chain ends at an untrusted root)."""
        tops = [t for t in self.walk.tops if t is not self.leaf]
        untrusted = not self.walk.anchors and (tops or self.run.trust.store is None)
        return bool(self.gaps) and not untrusted

    def _aia_reason(self, aia: list[CertRecord] | None, problem: str) -> tuple[bool, str]:
        run = self.run
        if aia is not None:
            got = "; ".join(f"{words.ref(r.info)} from {url}" for r, url in run.aia_used)
            return True, f"Accepts: it downloads {got} (the AIA address in the certificates)."
        if run.aia_unfetched and self._gap_problem():
            child, url = run.aia_unfetched[0]
            why = "offline check" if run.fetcher is None else "fetch limit reached"
            return False, (
                f"May accept if it can fetch {url} (the issuer of {words.ref(child)}); "
                f"chainscan did not fetch it ({why})."
            )
        if run.aia_failures and self._gap_problem():
            child, url, reason = run.aia_failures[0]
            return False, (
                f"Rejects unless it has {words.issuer_label(child)} cached: downloading {url} failed "
                f"({reason})."
            )
        if run.aia_no_url and self._gap_problem():
            child = run.aia_no_url[0]
            return False, (
                f"Rejects unless it has {words.issuer_label(child)} cached: {words.ref(child)} has no AIA "
                "address to download its issuer from."
            )
        return False, f"Rejects: {problem}."

    def _preload_reason(self, preload: list[CertRecord] | None, problem: str) -> tuple[bool, str]:
        if preload is not None:
            added = [r for r in preload[1:-1] if SERVED not in r.origins]
            return True, (
                f"Accepts: {words.refs(r.info for r in added) or 'the missing issuer'} is a known "
                "CA certificate (chainscan's list of CA certificates it has seen stands in for "
                "Firefox's preloaded intermediates)."
            )
        if not self._gap_problem():
            return False, f"Rejects: {problem}."
        return False, (
            f"Rejects: {problem}; it is not among the CA certificates chainscan knows (standing "
            "in for Firefox's preloaded intermediates)."
        )

    # -- findings -----------------------------------------------------------------

    def chain_findings(self, clients: tuple[ClientVerdict, ...]) -> None:
        run, add = self.run, self.run.findings.append
        broken = tuple(c.family for c in clients if not c.accepts)
        store_empty = run.trust.store is None
        for gap, wrong in self.same_key:
            right = self._right_issuer(gap)
            add(
                words.same_key(
                    gap.info,
                    wrong.info,
                    right.info if right else None,
                    self.expected,
                    gap.info.aia_issuers,
                    broken or (STRICT,),
                )
            )
        explained = {gap.sha for gap, _ in self.same_key}
        rest = [g for g in self.gaps if g.sha not in explained]
        leftovers = [
            r for r in self.unreachable if r.sha not in self.consumed and not r.self_issued
        ]
        if rest and leftovers and not store_empty:
            right = self._right_issuer(rest[0])
            add(
                words.wrong_intermediate(
                    rest[0].info,
                    [r.info for r in leftovers],
                    right.info if right else None,
                    self.expected,
                    broken or (STRICT,),
                )
            )
            self.consumed.update(r.sha for r in leftovers)
        elif rest and not store_empty:
            self._incomplete(rest, broken)
        self._order()
        self._trust_findings(store_empty)
        extra = [r for r in self.unreachable if r.sha not in self.consumed]
        if extra:
            add(words.extra_certs([r.info for r in extra], self.expected))
        for rec in self.served:
            if self._is_anchor_copy(rec):
                add(
                    words.contains_anchor(
                        rec.info, run.trust.name, on_path=rec.sha in self.walk.reached
                    )
                )
        if len(run.raw) > run.limits.max_chain_certs:
            add(words.too_many_certs(len(run.raw), run.limits.max_chain_certs, self.expected))

    def _incomplete(self, gaps: list[CertRecord], broken: tuple[str, ...]) -> None:
        # A gap whose known issuers all end at an untrusted root is not fixed by
        # serving them: untrusted-root says what is wrong instead. A gap with no
        # known issuer at all is still a missing intermediate.
        gaps = [g for g in gaps if g.sha in self.walk.to_anchor or not self.walk.issuers.get(g.sha)]
        if not gaps:
            return
        missing = self._missing()
        run = self.run
        if run.aia_used:
            aia_note = "Chrome, Windows and Apple download it from the AIA address and cope."
        elif run.aia_unfetched:
            aia_note = (
                "Chrome, Windows and Apple may cope if they can download it from "
                f"{run.aia_unfetched[0][1]}, or if they have it cached."
            )
        elif run.aia_failures:
            aia_note = "Downloading it from the AIA address failed, so only browsers that have it cached cope."
        else:
            aia_note = "No AIA address says where to download it, so only browsers that have it cached cope."
        run.findings.append(
            words.incomplete_chain(
                gaps[0].info,
                [r.info for r in missing],
                self.expected,
                aia_note=aia_note,
                clients=broken or (STRICT,),
            )
        )

    def _order(self) -> None:
        if not self._out_of_order():
            return
        suggested = self.expected or self._topological()
        self.run.findings.append(
            words.wrong_order(
                suggested,
                [r.info for r in self.served],
                leaf_not_first=self.leaf is not self.leaf0,
            )
        )

    def _topological(self) -> list[CertificateInfo]:
        order: list[CertificateInfo] = []
        cur: CertRecord | None = self.leaf
        while cur is not None and cur.info not in order:
            if self.run.trust.contains(cur.sha):
                break
            order.append(cur.info)
            parents = [p for p in self.walk.issuers.get(cur.sha, []) if SERVED in p.origins]
            cur = parents[0] if parents else None
        return order

    def _is_anchor_copy(self, rec: CertRecord) -> bool:
        trust = self.run.trust
        if trust.contains(rec.sha):
            return True
        if not rec.self_issued:
            return False
        return any(
            trust.describe(a).spki_sha256 == rec.info.spki_sha256
            for a in trust.anchors_for_issuer(rec.subject)
        )

    def _trust_findings(self, store_empty: bool) -> None:
        run, walk = self.run, self.walk
        if run.self_signed:
            return
        if not walk.anchors:
            tops = [t for t in walk.tops if t is not self.leaf]
            if store_empty and not tops:
                tops = walk.open_ends
            if tops:
                run.findings.append(
                    words.untrusted_root(
                        [t.info for t in tops], run.trust.name, store_empty=store_empty
                    )
                )
        elif not self.valid and all(not a.info.is_valid_at(run.at) for a in walk.anchors):
            run.findings.append(
                words.root_expired([a.info for a in walk.anchors], run.at, run.trust.name)
            )

    def validity_findings(
        self, preload: list[CertRecord] | None = None, aia: list[CertRecord] | None = None
    ) -> None:
        run = self.run
        on_path = [r for r in self.served if r.sha in self.walk.reached and r is not self.leaf]
        expired = [
            r.info
            for r in on_path
            if not r.self_issued
            and not run.trust.contains(r.sha)
            and not r.info.is_valid_at(run.at)
        ]
        if expired:
            run.findings.append(
                words.intermediate_expired(
                    expired, run.at, valid_path=self.strict is not None, expected=self.expected
                )
            )
        path = dict.fromkeys([self.leaf, *on_path, *self.chain])
        # Weakness follows the paths clients build, like expiry above: when
        # some client has a valid path, a weak certificate on none of those
        # paths (a served cross-sign for other roots) is only sent along.
        valid = [p for p in (self.strict, preload, aia) if p is not None]
        used = set(path) if not valid else {self.leaf, *(r for p in valid for r in p)}
        weak_sig = [
            r
            for r in path
            if not r.self_issued and (r.info.signature_hash or "").lower() in WEAK_HASHES
        ]
        if weak_sig:
            run.findings.append(
                words.weak_signature(
                    [r.info for r in weak_sig if r in used],
                    [r.info for r in weak_sig if r not in used],
                )
            )
        weak_keys = [r for r in path if weak_key(r.info)]
        if weak_keys:
            run.findings.append(
                words.weak_key(
                    [r.info for r in weak_keys if r in used],
                    [r.info for r in weak_keys if r not in used],
                )
            )

    # -- roles -----------------------------------------------------------------------

    def served_roles(self) -> tuple[str, ...]:
        """One ``Role`` per served certificate, from the paths and findings above.

        Called after ``chain_findings``: the certificates it names as sent in
        place of the real issuer (``consumed``) are ``wrong-issuer``.
        """
        run = self.run
        on_expected = {r.sha for r in self.chain[:-1]} if len(self.chain) > 1 else set()
        out_of_order = self._out_of_order()
        roles: list[str] = []
        seen: set[str] = set()
        for rec in run.recs:
            if rec is None:
                roles.append(Role.UNREADABLE)
                continue
            if rec.sha in seen:
                roles.append(Role.DUPLICATE)
                continue
            seen.add(rec.sha)
            if rec.sha in out_of_order:
                role = Role.MISPLACED
            elif rec is self.leaf:
                role = Role.LEAF
            elif self._is_anchor_copy(rec):
                role = Role.ANCHOR_SENT
            elif rec.sha in self.consumed:
                role = Role.WRONG_ISSUER
            elif rec.sha in on_expected:
                role = Role.IN_PLACE
            elif rec.sha in self.walk.reached:
                # On a path from the leaf that the expected chain does not
                # take: a cross-sign for clients with other roots.
                role = Role.ALTERNATE_PATH if on_expected else Role.IN_PLACE
            else:
                role = Role.EXTRA
            roles.append(role)
        return tuple(roles)

    def _out_of_order(self) -> set[str]:
        """Served certificates sent before a certificate they issue (what
        ``wrong-order`` reports), and both ends when the leaf is not first."""
        out: set[str] = set()
        if self.leaf is not self.leaf0:
            out.update((self.leaf.sha, self.leaf0.sha))
        for rec in self.served:
            for parent in self.walk.issuers.get(rec.sha, []):
                if SERVED in parent.origins and self.position[parent.sha] < self.position[rec.sha]:
                    out.update((rec.sha, parent.sha))
        return out

    def invalid_path(self, strict_err: str, expected_err: str) -> None:
        run = self.run
        codes = {f.code for f in run.findings if f.severity is Severity.ERROR}
        if not self.valid:
            category, text = explain_verifier_error(expected_err)
            if not codes & EXPLAINED_BY.get(category, frozenset()):
                run.findings.append(words.invalid_path(text, served_only=False, expected=()))
        elif self.strict is None and self.leaf is self.leaf0:
            category, text = explain_verifier_error(strict_err)
            if not codes & EXPLAINED_BY.get(category, frozenset()):
                run.findings.append(
                    words.invalid_path(text, served_only=True, expected=self.expected)
                )


def weak_key(info: CertificateInfo) -> bool:
    if info.key_type == "RSA" or info.key_type == "DSA":
        return 0 < info.key_size < 2048
    if info.key_type.startswith("EC"):
        return 0 < info.key_size < 256
    return False


__all__ = [
    "ALL_ORIGINS",
    "ANCHOR",
    "FETCHED",
    "SERVED",
    "SOURCE",
    "CertRecord",
    "Diagnosis",
    "Walk",
    "hostname_matches",
    "normalise_host",
    "signature_verifies",
    "weak_key",
]
