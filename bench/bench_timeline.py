"""How long the history page takes once its timeline draws a page of recorded scans.

Run it from the project root::

    .venv/bin/python bench/bench_timeline.py [--scans 50] [--addresses 4] [--repeat 20]

The history page reads the report of every finished scan on the page (its
served chains) to draw the timeline, so its cost grows with the page size and
the addresses per scan, not with the history's length (bench_history.py
measures that). This bench creates a database of its own
(``chainscan_bench_timeline`` on the server of ``BENCH_DATABASE_URL``),
records N scans of one host through the real services (the engine's own
reports of the test PKI: the X1/X3 incident, its fix and renewals, on
``--addresses`` addresses plus the no-SNI probe), then times the host page
and the diff between the first and last scan, and drops the database. It
prints median, 95th percentile, SQL queries and bytes; it asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.bench_history as base  # noqa: E402

base.DB_NAME = "chainscan_bench_timeline"


def populate(scans: int, addresses: int) -> tuple[object, list[object]]:
    from django.contrib.auth.models import User

    from tests import factories

    alice = User.objects.create_user("alice", password="bench-only-pw-1")
    c = factories.chains()
    shapes = [c.served_x1(), c.served_x3(), [c.renewed_leaf, c.x3]]
    recorded = []
    for i in range(scans):
        served = {f"192.0.2.{10 + n}": shapes[(i + n) % 3] for n in range(addresses)}
        recorded.append(factories.record_scan(served, user=alice))
    return alice, recorded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=50, help="recorded scans of the host")
    parser.add_argument("--addresses", type=int, default=4, help="addresses per scan")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per URL")
    args = parser.parse_args()

    maintenance_url, bench_url = base.database_urls()
    base.recreate_database(maintenance_url)
    try:
        base.setup_django(bench_url)
        from django.conf import settings
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        started = time.perf_counter()
        user, scans = populate(args.scans, args.addresses)
        first, last = scans[0], scans[-1]
        print(
            f"{args.scans} recorded scans of {first.host} on {args.addresses} addresses "  # type: ignore[attr-defined]
            f"(+ no SNI), created in {time.perf_counter() - started:.1f} s "
            f"(page size {settings.CHAINSCAN_HISTORY_PAGE_SIZE})"
        )
        client = Client()
        client.force_login(user)
        cases = [
            ("host page with timeline", reverse("host", args=[str(first.host)])),  # type: ignore[attr-defined]
            ("diff first → last", reverse("diff", args=[last.token, first.token])),  # type: ignore[attr-defined]
        ]
        print(f"{'request':<26}{'median':>10}{'p95':>10}{'queries':>9}{'bytes':>9}")
        for label, url in cases:
            median, p95, queries, size = base.measure(client, url, args.repeat)
            print(f"{label:<26}{median:>8.1f}ms{p95:>8.1f}ms{queries:>9}{size:>9,}")
        connection.close()
    finally:
        base.recreate_database(maintenance_url, drop_only=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
