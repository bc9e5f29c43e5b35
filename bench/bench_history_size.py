"""Bytes on disk per unchanged rescan of a 2-address host.

Run it from the project root (or from any checkout, to compare versions)::

    .venv/bin/python bench/bench_history_size.py [--rescans 1000]

It creates a Postgres database of its own (``chainscan_bench_size`` on the
server of ``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/``),
migrates it, records one scan of a host whose two addresses (plus the no-SNI
probe) serve the same healthy chain, then N unchanged rescans of it, each
through ``services.scan_record`` exactly as the worker records one, with a
VACUUM every 50 rescans standing in for autovacuum. It prints
the growth of the scan tables (``pg_total_relation_size``: rows, TOAST and
indexes) divided by N, per table and in total, and drops the database. It
measures; it asserts nothing.

The report is the real engine's (``tests.factories.engine_report``: the test
PKI served by a fake prober), so chains, findings and client verdicts have
their real sizes.
"""

from __future__ import annotations

import argparse

# The bench database's setup is bench_history's (this script sits beside it).
from bench_history import ROOT, database_urls, recreate_database, setup_django

DB_NAME = "chainscan_bench_size"
ADDRESSES = ("192.0.2.10", "192.0.2.11")
VACUUM_EVERY = 50


def scan_tables() -> list[str]:
    """Every table of the scans app that a recorded scan writes to (or may)."""
    from django.apps import apps

    skip = {"Host", "TrustAnchor", "ApiToken", "Watch", "Certificate"}
    return sorted(
        m._meta.db_table
        for m in apps.get_app_config("scans").get_models()
        if m.__name__ not in skip
    )


def sizes(tables: list[str]) -> dict[str, tuple[int, int]]:
    """Per table: (total bytes with TOAST and indexes, bytes of its indexes)."""
    from django.db import connection

    with connection.cursor() as cursor:
        out = {}
        for table in tables:
            cursor.execute("SELECT pg_total_relation_size(%s), pg_indexes_size(%s)", [table, table])
            total, indexes = cursor.fetchone()
            out[table] = (int(total), int(indexes))
    return out


def vacuum(tables: list[str]) -> None:
    """What autovacuum does in production: make the space of the row versions
    that claiming and recording a scan leave behind (each UPDATE writes a new
    version of the scan row) reusable. Without it the figure would count them
    as growth, which a running server never accumulates."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'VACUUM "{table}"')


def record(report: object, host: object) -> None:
    """One scan, claimed as a worker claims it and recorded by the real service."""
    from django.utils import timezone

    from scans import services
    from scans.models import Scan

    scan = Scan.objects.create(
        host=host, status=Scan.Status.RUNNING, attempts=1, started_at=timezone.now()
    )
    services.scan_record(scan=scan, report=report)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rescans", type=int, default=1000)
    args = parser.parse_args()
    maintenance_url, bench_url = database_urls(DB_NAME)
    recreate_database(maintenance_url, db_name=DB_NAME)
    try:
        setup_django(bench_url)
        from django.db import connection

        from scans.models import Host
        from tests import factories

        chain = factories.chains().served_x3()
        report = factories.engine_report({a: chain for a in ADDRESSES})
        host = Host.objects.create(hostname=report.host, port=report.port)
        record(report, host)  # the first scan stores the certificates and what is new
        tables = scan_tables()
        before = sizes(tables)
        for i in range(args.rescans):
            record(report, host)
            if i % VACUUM_EVERY == VACUUM_EVERY - 1:
                vacuum(tables)
        vacuum(tables)
        after = sizes(tables)
        print(f"{args.rescans} unchanged rescans of a host with {len(ADDRESSES)} addresses")
        print(f"(+ the no-SNI probe: {len(report.endpoints)} endpoints per scan), from {ROOT}")
        total = 0
        n = args.rescans
        for table in tables:
            grown = after[table][0] - before[table][0]
            in_indexes = after[table][1] - before[table][1]
            total += grown
            print(
                f"  {table:<24} {grown / n:8.0f} bytes per rescan ({in_indexes / n:.0f} in indexes)"
            )
        print(f"  {'total':<24} {total / n:8.0f} bytes per rescan")
        connection.close()
    finally:
        recreate_database(maintenance_url, db_name=DB_NAME, drop_only=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
