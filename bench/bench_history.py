"""How long a host's history takes to serve when the host has 10,000 scans.

Run it from the project root::

    .venv/bin/python bench/bench_history.py [--scans 10000] [--repeat 30]

It creates a Postgres database of its own (``chainscan_bench`` on the server of
``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/``),
migrates it, fills it with one host of N finished scans (half requested by a
teammate, each marked against the scan before, as recorded scans are) among
40,000 scans of 400 other hosts, then times the host page and the API history,
first and a deep page, through Django's test client with a signed-in user.
It prints the median and 95th percentile and the number of SQL queries per
request, and drops the database at the end. It measures; it asserts nothing.

Django runs with DEBUG on (static files need no collected manifest that way);
the debug query log and template debug information make each request a little
slower than in production, so the figures are an upper bound.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/"
DB_NAME = "chainscan_bench"
OTHER_HOSTS = 400
OTHER_SCANS_PER_HOST = 100


def database_urls(db_name: str = DB_NAME) -> tuple[str, str]:
    """(the maintenance database URL, the bench database URL) on the same server."""
    parts = urlsplit(os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    return (
        urlunsplit(parts._replace(path="/postgres")),
        urlunsplit(parts._replace(path=f"/{db_name}")),
    )


def recreate_database(
    maintenance_url: str, *, db_name: str = DB_NAME, drop_only: bool = False
) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{db_name}"')


def setup_django(bench_url: str) -> None:
    # Only what the bench needs; a developer's CHAINSCAN_* settings stay out.
    for name in list(os.environ):
        if name.startswith("CHAINSCAN_"):
            del os.environ[name]
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "chainscan.settings",
            "DATABASE_URL": bench_url,
            "DEBUG": "true",
            "ALLOWED_HOSTS": "testserver",
            "CHAINSCAN_REQUIRE_LOGIN": "true",
            "CHAINSCAN_VAR_DIR": "/tmp/chainscan-bench",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate(scans: int) -> tuple[object, str]:
    """The bench host with ``scans`` scans among other hosts' scans; returns (user, slug)."""
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.utils import timezone

    from scans.models import Host, Scan

    alice = User.objects.create_user("alice", password="bench-only-pw-1")
    bob = User.objects.create_user("bob", password="bench-only-pw-2")
    Group.objects.create(name="ops").user_set.add(alice, bob)
    host = Host.objects.create(hostname="bench.example.com", port=443)
    others = Host.objects.bulk_create(
        [Host(hostname=f"other-{i}.example.com", port=443) for i in range(OTHER_HOSTS)]
    )
    now = timezone.now()

    def row(host_id: int, i: int, user: object) -> Scan:
        return Scan(
            host_id=host_id,
            requested_by=user,
            status=Scan.Status.DONE,
            verdict=Scan.Verdict.OK if i % 10 else Scan.Verdict.BROKEN,
            finished_at=now,
            trust_store="mozilla",
            served_digest=f"{i // 10:064x}",
            expected_digest=f"{i // 10:064x}",
            findings_digest=f"{i % 10 == 0:064x}",
            change=Scan.Change.MATERIAL if i % 10 == 0 else Scan.Change.SAME,
            change_summary="Material change: 192.0.2.10: position 1 changed from "
            "Example Authority X1 to Example Authority X3 — wrong-intermediate-same-key resolved."
            if i % 10 == 0
            else "No change since the previous scan.",
        )

    Scan.objects.bulk_create(
        [row(host.pk, i, alice if i % 2 else bob) for i in range(scans)], batch_size=5000
    )
    Scan.objects.bulk_create(
        [row(h.pk, i, alice) for h in others for i in range(OTHER_SCANS_PER_HOST)],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        # Spread the request times (auto_now_add gave every row "now") and link
        # each scan to the one before it, as scan_record does.
        cursor.execute(
            """
            UPDATE scans_scan s
               SET requested_at = now() - make_interval(mins => o.age::int),
                   previous_id = o.prev
              FROM (SELECT id,
                           row_number() OVER w_desc AS age,
                           lag(id) OVER w_asc AS prev
                      FROM scans_scan
                    WINDOW w_asc AS (PARTITION BY host_id ORDER BY id),
                           w_desc AS (PARTITION BY host_id ORDER BY id DESC)) o
             WHERE s.id = o.id
            """
        )
        cursor.execute("ANALYZE")
    return alice, str(host)


def measure(client: object, url: str, repeat: int) -> tuple[float, float, int, int]:
    """(median ms, p95 ms, queries, bytes) for GET ``url``."""
    from django.db import connection

    get = client.get  # type: ignore[attr-defined]
    response = get(url)  # warm-up: templates, URL resolver, connection
    assert response.status_code == 200, (url, response.status_code)
    # Counted with an execute wrapper: CaptureQueriesContext reads the debug
    # query log, which every request start clears.
    queries: list[str] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        get(url)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = get(url)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, len(queries), len(response.content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=10_000, help="scans of the bench host")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per URL")
    args = parser.parse_args()

    maintenance_url, bench_url = database_urls()
    recreate_database(maintenance_url)
    try:
        setup_django(bench_url)
        from django.conf import settings
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        started = time.perf_counter()
        user, slug = populate(args.scans)
        print(
            f"{args.scans:,} scans of {slug} among "
            f"{OTHER_HOSTS * OTHER_SCANS_PER_HOST:,} others, "
            f"created in {time.perf_counter() - started:.1f} s "
            f"(Postgres {connection.pg_version // 10000}, page size "
            f"{settings.CHAINSCAN_HISTORY_PAGE_SIZE})"
        )
        client = Client()
        client.force_login(user)
        deep = max(1, args.scans // settings.CHAINSCAN_HISTORY_PAGE_SIZE // 2)
        cases = [
            ("host page, page 1", reverse("host", args=[slug])),
            (f"host page, page {deep}", reverse("host", args=[slug]) + f"?page={deep}"),
            ("API history, page 1", reverse("api-host-scans", args=[slug])),
            (f"API history, page {deep}", reverse("api-host-scans", args=[slug]) + f"?page={deep}"),
        ]
        print(f"{'request':<26}{'median':>10}{'p95':>10}{'queries':>9}{'bytes':>9}")
        for label, url in cases:
            median, p95, queries, size = measure(client, url, args.repeat)
            print(f"{label:<26}{median:>8.1f}ms{p95:>8.1f}ms{queries:>9}{size:>9,}")
        connection.close()
    finally:
        recreate_database(maintenance_url, drop_only=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
