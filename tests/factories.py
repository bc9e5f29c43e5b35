"""Finished scans without the network, recorded through the real services.

``record_scan`` runs the real engine (``scans.engine.scan.run_scan``) with two
seams swapped: a resolver that maps the host to chosen addresses and a prober
that "serves" chosen DER chains instead of doing a handshake. The report it
produces is exactly what the worker would produce for those chains, and it is
stored the way the worker stores it: ``scan_request`` → ``scan_claim`` →
``scan_record``. Nothing in the Django app is mocked.

The certificates come from ``tests.pki`` (the X1/X3 pair shares one key), and
the trust store holds only that PKI's root, so results do not depend on the
Mozilla bundle or on the clock (analysis runs at ``pki.NOW``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from scans import services
from scans.engine.analysis import MemoryIssuerSource
from scans.engine.certs import pem_bundle
from scans.engine.network import ProbeLimits, ProbeResult, StaticResolver
from scans.engine.policy import AddressPolicy
from scans.engine.report import Report
from scans.engine.scan import ScanConfig, Seams, run_scan
from scans.engine.targets import Target
from scans.engine.trust import TrustStore, empty_store, store_with_extra
from scans.models import Scan
from tests import pki


@dataclass(frozen=True)
class Chains:
    """Named DER chains built from the shared PKI cast (see tests/pki.py)."""

    x1: bytes
    x3: bytes
    root: bytes
    leaf: bytes  # x3.example.com, issued by X3
    renewed_leaf: bytes  # x3.example.com again, new key and validity, same names and issuer
    other_names_leaf: bytes  # issued by X3 for another set of names

    def served_x1(self) -> list[bytes]:
        """The 2016 incident: the X3-issued leaf served with X1 (same key, other name)."""
        return [self.leaf, self.x1]

    def served_x3(self) -> list[bytes]:
        """The fix: the leaf with the intermediate that issued it."""
        return [self.leaf, self.x3]


HOST = "x3.example.com"


@functools.cache
def chains() -> Chains:
    c = pki.cast()
    renewed = pki.leaf(
        HOST,
        c.x3,
        key=pki.key_for("leaf:x3.example.com renewed"),
        not_before=pki.NOW - 2 * pki.DAY,
        not_after=pki.NOW + 88 * pki.DAY,
    )
    other = pki.leaf(HOST, c.x3, san=[HOST, "api.x3.example.com"], key=pki.key_for("leaf:other"))
    return Chains(
        x1=c.x1.der,
        x3=c.x3.der,
        root=c.root.der,
        leaf=c.leaf_x3.der,
        renewed_leaf=renewed.der,
        other_names_leaf=other.der,
    )


@functools.cache
def trust() -> TrustStore:
    """Only the test PKI's root, added to an empty store as an operator would add theirs."""
    from scans.engine.certs import describe

    return store_with_extra(
        empty_store(), pem_bundle([describe(pki.cast().root.der)]).encode(), "test root"
    )


class ChainProber:
    """A ``Prober`` that serves fixed chains per address, the same with and without SNI.

    An address mapped to an empty chain refuses the connection, like a server
    that is down.
    """

    def __init__(self, served: Mapping[str, Sequence[bytes]]) -> None:
        self.served = {address: list(chain) for address, chain in served.items()}

    def probe(self, address: str, port: int, sni: str | None, limits: ProbeLimits) -> ProbeResult:
        chain = self.served.get(address) or []
        if not chain:
            return ProbeResult(
                connect_ms=0.4,
                error="connect-failed",
                error_detail=f"{address} port {port} refused the connection",
            )
        return ProbeResult(
            chain=chain,
            tls_version="TLSv1.3",
            cipher="TLS_AES_128_GCM_SHA256",
            connect_ms=0.4,
            handshake_ms=1.2,
        )


def engine_report(
    served: Mapping[str, Sequence[bytes]],
    *,
    host: str = HOST,
    port: int = 443,
    at: dt.datetime = pki.NOW,
) -> Report:
    """What the engine reports for a host whose addresses serve ``served`` (address → DER chain)."""
    c = chains()
    return run_scan(
        Target(host=host, port=port),
        trust=trust(),
        config=ScanConfig(policy=AddressPolicy(allow_private=True)),
        seams=Seams(
            resolver=StaticResolver({host: list(served)}),
            prober=ChainProber(served),
            # The learned-intermediate cache of a server that has seen both X1 and X3.
            issuers=MemoryIssuerSource([c.x1, c.x3]),
            fetcher=None,
        ),
        at=at,
    )


def record_scan(
    served: Mapping[str, Sequence[bytes]] | Sequence[bytes],
    *,
    user: Any = None,
    host: str = HOST,
    port: int = 443,
    at: dt.datetime = pki.NOW,
    watch: Any = None,
) -> Scan:
    """Request, claim and record one scan through the services; return the finished row.

    ``served`` maps addresses to chains; a bare chain means one address, 192.0.2.10.
    """
    if not isinstance(served, Mapping):
        served = {"192.0.2.10": list(served)}
    report = engine_report(served, host=host, port=port, at=at)
    return record_report(report, user=user, watch=watch)


def record_report(report: Report, *, user: Any = None, watch: Any = None) -> Scan:
    """Store an engine report as a finished scan of its host, requested by ``user``.

    One transaction: the request's message goes to the broker only on commit,
    when the scan is already recorded, so a worker running in the same test
    session (live-server tests commit) finds it finished and leaves it alone.
    """
    with transaction.atomic():
        claimed = claimed_scan(user=user, host=report.host, port=report.port, watch=watch)
        return services.scan_record(scan=claimed, report=report)


def claimed_scan(*, user: Any = None, host: str = HOST, port: int = 443, watch: Any = None) -> Scan:
    """A scan requested and claimed as a worker claims it, ready for ``scan_record``."""
    queued = queued_scan(user=user, host=host, port=port, watch=watch)
    claimed = services.scan_claim(scan_id=queued.pk)
    assert claimed is not None, "the scan was not claimable"
    return claimed


def queued_scan(*, user: Any = None, host: str = HOST, port: int = 443, watch: Any = None) -> Scan:
    """A scan that is requested and not yet picked up by a worker."""
    (scan,) = services.scan_request(targets=[Target(host=host, port=port)], user=user, watch=watch)
    return scan


def watch_for(user: Any, host: str = HOST, port: int = 443, **fields: Any) -> Any:
    """A watch of ``host:port`` owned by ``user``'s team, due now."""
    from django.utils import timezone

    from scans.models import Host, Watch

    row, _ = Host.objects.get_or_create(hostname=host, port=port)
    fields.setdefault("interval", 3600)
    fields.setdefault("next_run_at", timezone.now())
    return Watch.objects.create(host=row, created_by=user, **fields)


def team(name: str, *members: Any) -> Any:
    """Put ``members`` in one auth group: a team that browses each other's scans."""
    from django.contrib.auth.models import Group

    group, _ = Group.objects.get_or_create(name=name)
    group.user_set.add(*members)
    return group


def bulk_history(scan: Scan, count: int) -> None:
    """Add ``count`` finished scans to ``scan``'s host in one INSERT (scale tests).

    Each is marked as a material change against ``scan``, so history pages read
    the change and the previous scan's digests exactly as for recorded scans.
    """
    from django.utils import timezone

    now = timezone.now()
    Scan.objects.bulk_create(
        [
            Scan(
                host_id=scan.host_id,
                requested_by_id=scan.requested_by_id,
                status=Scan.Status.DONE,
                verdict=Scan.Verdict.OK,
                finished_at=now,
                trust_store=scan.trust_store,
                served_digest=f"{i:064x}",
                expected_digest=scan.expected_digest,
                findings_digest=scan.findings_digest,
                change=Scan.Change.MATERIAL,
                change_summary=f"Material change number {i}.",
                previous_id=scan.pk,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )


def history_row(scan: Scan) -> Any:
    """``scan``'s history row as its own team reads it."""
    from scans import history

    (row,) = history.rows([scan.pk], None)
    return row
