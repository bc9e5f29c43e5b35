"""The bridge from Django to the engine: settings → engine config, database → issuer source.

The engine knows nothing of Django; this module reads settings and the
learned-certificate table and hands the engine plain objects.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from django.conf import settings
from django.db.models import Count, F, Max, Q

from .engine.aia import HttpIssuerFetcher
from .engine.analysis import AnalysisLimits
from .engine.network import ProbeLimits, Resolver, StaticResolver, SystemResolver
from .engine.policy import AddressPolicy
from .engine.report import CertificateInfo
from .engine.scan import ScanConfig, Seams
from .engine.trust import TrustStore, load_trust_store, store_with_extra

# How many learned CA certificates one issuer lookup may return: enough for
# re-issued intermediates and cross-signs (newest first).
MAX_LEARNED_ISSUERS = 20

_trust_lock = threading.Lock()
_trust_cache: dict[tuple[object, ...], TrustStore] = {}


def subject_hash(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def address_policy() -> AddressPolicy:
    return AddressPolicy(
        allow_private=settings.CHAINSCAN_ALLOW_PRIVATE_ADDRESSES,
        allowed_networks=tuple(settings.CHAINSCAN_ALLOWED_NETWORKS),
    )


def aia_policy() -> AddressPolicy:
    """Where issuer URLs may lead: public addresses, plus the networks allowed for AIA.

    Not the scan's policy: a certificate's URL is anyone's choice, so allowing
    scans of the internal network does not make it an internal GET tool.
    """
    return AddressPolicy(allowed_networks=tuple(settings.CHAINSCAN_AIA_ALLOWED_NETWORKS))


def scan_config() -> ScanConfig:
    return ScanConfig(
        policy=address_policy(),
        probe=ProbeLimits(
            connect_timeout=settings.CHAINSCAN_CONNECT_TIMEOUT,
            handshake_timeout=settings.CHAINSCAN_HANDSHAKE_TIMEOUT,
            max_chain_bytes=settings.CHAINSCAN_MAX_CHAIN_BYTES,
            detect_server=settings.CHAINSCAN_DETECT_SERVER,
            server_timeout=settings.CHAINSCAN_SERVER_TIMEOUT,
            max_header_bytes=settings.CHAINSCAN_SERVER_MAX_BYTES,
        ),
        analysis=AnalysisLimits(
            max_aia_fetches=settings.CHAINSCAN_AIA_FETCHES,
            expiry_warning_days=settings.CHAINSCAN_EXPIRY_WARNING_DAYS,
            max_chain_certs=settings.CHAINSCAN_MAX_CHAIN_CERTS,
        ),
        scan_timeout=settings.CHAINSCAN_SCAN_TIMEOUT,
        max_addresses=settings.CHAINSCAN_MAX_ADDRESSES,
        parallelism=settings.CHAINSCAN_SCAN_PARALLELISM,
        max_aia_fetches=settings.CHAINSCAN_AIA_MAX_FETCHES_PER_SCAN,
        max_served_certs=settings.CHAINSCAN_MAX_SERVED_CERTS,
    )


def issuer_fetcher() -> HttpIssuerFetcher:
    """A fetcher per scan: its cache lives as long as the scan."""
    ports = settings.CHAINSCAN_AIA_ALLOWED_PORTS
    return HttpIssuerFetcher(
        policy=aia_policy(),
        resolver=resolver(),
        timeout=settings.CHAINSCAN_AIA_TIMEOUT,
        max_bytes=settings.CHAINSCAN_AIA_MAX_BYTES,
        allowed_ports=frozenset(ports) if ports is not None else None,
    )


class LearnedIssuers:
    """CA certificates proven to issue a child on a verified path, as an issuer source.

    Only intermediates of expected chains are learned (``services`` marks them
    when a scan is recorded), so what a hostile server or issuer URL sends is
    never offered here. A lookup is by the child's issuer name and, when the
    child names its issuer's key (AKI), by that key identifier too; newest
    first, then by SHA-256, so the answer does not depend on table order.
    """

    def issuers_for(self, cert: CertificateInfo) -> list[bytes]:
        from .models import Certificate

        rows = Certificate.objects.filter(
            learned_at__isnull=False, is_ca=True, subject_hash=subject_hash(cert.issuer)
        )
        if cert.aki:
            # An issuer without a key identifier of its own still matches by name.
            rows = rows.filter(Q(ski=cert.aki) | Q(ski=""))
        ders = rows.order_by(F("not_after").desc(nulls_last=True), "sha256").values_list(
            "der", flat=True
        )[:MAX_LEARNED_ISSUERS]
        return [bytes(der) for der in ders]


def resolver() -> Resolver:
    overrides = settings.CHAINSCAN_RESOLVE_OVERRIDES
    system = SystemResolver(timeout=settings.CHAINSCAN_DNS_TIMEOUT)
    return StaticResolver(overrides, fallback=system) if overrides else system


def seams() -> Seams:
    return Seams(
        resolver=resolver(),
        issuers=LearnedIssuers(),
        fetcher=issuer_fetcher(),
    )


def _anchor_file() -> tuple[str, bytes] | None:
    """The anchor file's label and bytes. It is small and read whole for every
    scan, so a rewrite is seen even within one mtime tick."""
    path = settings.CHAINSCAN_TRUST_ANCHORS
    return (f"file {Path(path).name}", Path(path).read_bytes()) if path else None


def _anchor_rows_version() -> tuple[int, object]:
    """Moves whenever the admin's anchors change, for the price of one aggregate
    row instead of every PEM: saving a row moves ``updated_at``, deleting one
    lowers the count."""
    from .models import TrustAnchor

    rows = TrustAnchor.objects.aggregate(count=Count("pk"), latest=Max("updated_at"))
    return rows["count"], rows["latest"]


def _custom_anchor_pems(anchor_file: tuple[str, bytes] | None) -> list[tuple[str, bytes]]:
    from .models import TrustAnchor

    bundles = [anchor_file] if anchor_file else []
    for name, pem in (
        TrustAnchor.objects.filter(enabled=True).order_by("name").values_list("name", "pem")
    ):
        bundles.append((name, pem.encode("utf-8")))
    return bundles


def trust_store() -> TrustStore:
    """The configured store plus custom anchors, built once per process per version.

    Custom anchors live in the database (admin) and in a file. Each scan checks
    their version (one aggregate query, one small file read), so an edit takes
    effect on the next scan, without rebuilding Mozilla's 150 roots or reading
    every anchor for every scan.
    """
    anchor_file = _anchor_file()
    version = (settings.CHAINSCAN_TRUST_STORE, anchor_file, _anchor_rows_version())
    with _trust_lock:
        store = _trust_cache.get(version)
        if store is None:
            store = load_trust_store(settings.CHAINSCAN_TRUST_STORE)
            for label, pem in _custom_anchor_pems(anchor_file):
                # The engine labels these anchors "custom: <label>".
                store = store_with_extra(store, pem, label)
            _trust_cache.clear()
            _trust_cache[version] = store
        return store
