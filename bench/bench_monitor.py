"""Monitoring at 10,000 watches: the scheduler's tick and the overview page.

Run it from the project root (Postgres required; Redis used if CELERY_BROKER_URL is set)::

    .venv/bin/python bench/bench_monitor.py [--watches 10000] [--repeat 20]

It creates a Postgres database of its own (``chainscan_bench_monitor`` on the
server of ``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/``),
migrates it and fills it with N watched hosts of one team, each with a finished
last scan (one in ten broken, one in ten warning, some expiring soon, some
recently changed). Then:

1. Scheduler: every watch is due at once. One ``watches_dispatch_due()`` call
   (the beat task's body) claims them batch by batch (CHAINSCAN_SCHEDULER_BATCH)
   and queues a scan each, the broker messages included. It prints the wall
   time until all are dispatched, and per batch the SQL statements and time.
2. Overview: the signed-in team member's page 1, a deep page, a filtered page
   and the live fragment, through Django's test client: median and 95th
   percentile server time and SQL statements per request.

It measures; it asserts nothing. The broker messages go to a queue of its own
(``chainscan-bench-monitor``), purged at the end, and the database is dropped.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import bench_history  # noqa: E402 - the database and Django set-up are shared

# A database of its own, so this and bench_history can run side by side.
bench_history.DB_NAME = "chainscan_bench_monitor"
QUEUE = "chainscan-bench-monitor"


def populate(n: int) -> object:
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from scans.models import Host, Scan, Watch

    alice = User.objects.create_user("alice", password="bench-only-pw-1")
    bob = User.objects.create_user("bob", password="bench-only-pw-2")
    Group.objects.create(name="ops").user_set.add(alice, bob)
    now = timezone.now()
    hosts = Host.objects.bulk_create(
        [Host(hostname=f"host-{i}.example.com", port=443) for i in range(n)], batch_size=5000
    )

    def verdict(i: int) -> str:
        return "broken" if i % 10 == 0 else "warning" if i % 10 == 1 else "ok"

    scans = Scan.objects.bulk_create(
        [
            Scan(
                host=h,
                requested_by=alice,
                status=Scan.Status.FAILED if i % 50 == 7 else Scan.Status.DONE,
                verdict=verdict(i),
                finished_at=now - timezone.timedelta(hours=i % 24),
                trust_store="mozilla",
                valid_until=now + timezone.timedelta(days=3 + i % 400),
                expires_first="R11" if i % 3 else "ISRG Root X1",
                findings_counts={"error": int(i % 10 == 0), "warning": 0, "info": 1},
                change=Scan.Change.RENEWAL if i % 20 == 0 else Scan.Change.SAME,
            )
            for i, h in enumerate(hosts)
        ],
        # Postgres takes at most 65,535 parameters a statement: ~30 columns a scan.
        batch_size=2000,
    )
    Watch.objects.bulk_create(
        [
            Watch(
                host=h,
                interval=86400,
                tags=["prod" if i % 2 else "staging", f"team-{i % 7}"],
                created_by=alice if i % 2 else bob,
                next_run_at=now - timezone.timedelta(seconds=1 + i % 300),
                last_scan=s,
                last_change=s if i % 20 == 0 else None,
            )
            for i, (h, s) in enumerate(zip(hosts, scans, strict=True))
        ],
        batch_size=5000,
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return alice


def bench_scheduler() -> None:
    from django.conf import settings
    from django.db import connection

    from scans import monitoring
    from scans.models import Scan

    statements: list[str] = []
    sql_seconds = [0.0]
    marks: list[tuple[int, float]] = []  # (statements so far, time) as each claim starts

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements.append(sql)
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_seconds[0] += time.perf_counter() - t0

    claim = monitoring._claim_due

    def marked(now, batch):  # type: ignore[no-untyped-def]
        marks.append((len(statements), time.perf_counter()))
        return claim(now, batch)

    monitoring._claim_due = marked  # type: ignore[assignment]
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        total = monitoring.watches_dispatch_due()
    wall = time.perf_counter() - started
    marks.append((len(statements), time.perf_counter()))
    monitoring._claim_due = claim  # type: ignore[assignment]
    # Full batches only (the last claim finds the remainder or nothing).
    full = [(b[0] - a[0], (b[1] - a[1]) * 1000) for a, b in itertools.pairwise(marks)][
        : total // settings.CHAINSCAN_SCHEDULER_BATCH
    ]
    sent = Scan.objects.filter(watch__isnull=False, dispatched_at__isnull=False).count()
    print(
        f"scheduler, all {total:,} watches due: one tick dispatched them in {wall:.2f} s wall "
        f"({total / wall:,.0f}/s), {len(marks) - 1} claims, {sent:,} scans sent to the broker; "
        f"{sql_seconds[0]:.2f} s of it in SQL, the rest building and publishing messages"
    )
    print(
        f"  per batch of {settings.CHAINSCAN_SCHEDULER_BATCH}: "
        f"{sorted({q for q, _ in full})} SQL statements, "
        f"median {statistics.median(t for _, t in full):.0f} ms "
        f"(max {max(t for _, t in full):.0f} ms), broker messages included"
    )
    before, again = len(statements), time.perf_counter()
    with connection.execute_wrapper(count):
        monitoring.watches_dispatch_due()
    print(
        f"  the next tick (nothing due): {(time.perf_counter() - again) * 1000:.1f} ms, "
        f"{len(statements) - before} statement(s)"
    )


def bench_overview(user: object, repeat: int) -> None:
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(user)
    overview = reverse("overview")
    deep = 10_000 // settings.CHAINSCAN_OVERVIEW_PAGE_SIZE // 2
    for label, url in (
        ("overview, page 1", overview),
        (f"overview, page {deep}", f"{overview}?page={deep}"),
        ("overview, tag=prod&state=broken", f"{overview}?tag=prod&state=broken"),
        ("overview, search 'host-99'", f"{overview}?q=host-99"),
        ("live fragment, page 1", reverse("overview-live")),
        ("API list, page 1", reverse("api-watches")),
    ):
        median, p95, queries, size = bench_history.measure(client, url, repeat)
        print(
            f"{label:34} median {median:6.1f} ms  p95 {p95:6.1f} ms  "
            f"{queries} queries  {size / 1024:.0f} KiB"
        )


def purge_queue() -> None:
    from chainscan.celery import app

    with app.connection_for_write() as conn:
        purged = conn.default_channel.queue_purge(QUEUE)
    print(f"(purged {purged} bench messages from the broker)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watches", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    maintenance_url, bench_url = bench_history.database_urls()
    bench_history.recreate_database(maintenance_url)
    try:
        bench_history.setup_django(bench_url)
        from django.conf import settings
        from django.db import connection

        from chainscan.celery import app

        # The bench's messages go to a queue no worker reads, purged below.
        app.conf.task_default_queue = QUEUE
        started = time.perf_counter()
        user = populate(args.watches)
        print(
            f"{args.watches:,} watches with a finished last scan, created in "
            f"{time.perf_counter() - started:.1f} s (Postgres {connection.pg_version // 10000}, "
            f"broker {settings.CELERY_BROKER_URL.split('://')[0]}, overview page size "
            f"{settings.CHAINSCAN_OVERVIEW_PAGE_SIZE}, scheduler batch "
            f"{settings.CHAINSCAN_SCHEDULER_BATCH})"
        )
        # The overview first, while every watch still has its one finished scan.
        bench_overview(user, args.repeat)
        bench_scheduler()
        purge_queue()
        connection.close()
    finally:
        bench_history.recreate_database(maintenance_url, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
