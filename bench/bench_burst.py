"""A burst of API submissions through `make run` on Postgres: accepted, 503s, 500s, wall time.

Run: ``.venv/bin/python bench/bench_burst.py [--submissions 1000] [--threads 16] [--max-connections 40]``

Everything is real and local: a private Postgres cluster (``initdb`` in a
temporary folder, ``max_connections`` as given, so running out never touches
the machine's shared server), Redis (``CELERY_BROKER_URL``, default db 14,
on a queue of its own), and ``make run`` exactly as a developer starts it
(runserver: a thread per request, plus a worker with 16 threads). The client
is ``--threads`` threads posting ``/api/scans`` for distinct hosts; a 503 is
retried after its Retry-After (a submission still refused after 20 is
counted as "gave up"). Every host resolves to loopback on a closed
port, so the worker's scans end quickly and also use the database.

Three configurations, each from a fresh cluster:

- ``no pool``: DATABASE_POOL=false, the alternative for PgBouncer set-ups;
  under runserver the settings then open a connection per request and close
  it (CONN_MAX_AGE=0). Before this change runserver kept a persistent
  connection per request thread: 455 of 1,000 answers were 500 "too many
  clients" on this 40-connection Postgres (tests/test_db_burst.py before the
  fix);
- ``pool``: the default, a psycopg pool per process (max 16 connections);
- ``tight pool``: DATABASE_POOL_MAX_SIZE=1, DATABASE_POOL_TIMEOUT=0.2 — the
  overload path: 503s with Retry-After, retried, nothing lost.

Prints per configuration: accepted, 503 answers (retried), other statuses
(500s), scans in the database (must equal accepted), peak client connections
seen by Postgres, and wall time. A measurement, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.burst import api_token, burst, make_run, private_postgres, scans_in_database  # noqa: E402

CONFIGURATIONS = {
    "no pool": {"DATABASE_POOL": "false"},
    "pool": {},
    "tight pool": {"DATABASE_POOL_MAX_SIZE": "1", "DATABASE_POOL_TIMEOUT": "0.2"},
}


def peak_connections(database_url: str, stop: threading.Event, peak: list[int]) -> None:
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    query = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
    while not stop.is_set():
        out = subprocess.run(["psql", admin, "-Atc", query], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            peak[0] = max(peak[0], int(out.stdout.strip()) - 1)  # minus this query's own
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--max-connections", type=int, default=40)
    parser.add_argument(
        "--broker", default=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    )
    parser.add_argument("--only", choices=list(CONFIGURATIONS), action="append")
    args = parser.parse_args()

    print(
        f"{args.submissions} POST /api/scans from {args.threads} client threads through make run; "
        f"Postgres max_connections={args.max_connections}"
    )
    print(
        f"{'configuration':<12} {'accepted':>8} {'503s':>6} {'other':>12} {'in DB':>6} {'peak conns':>10} {'wall s':>7}"
    )
    for name in args.only or list(CONFIGURATIONS):
        with (
            tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp,
            private_postgres(args.max_connections) as database,
            make_run(database, args.broker, Path(tmp), **CONFIGURATIONS[name]) as run,
        ):
            token = api_token(run)
            stop, peak = threading.Event(), [0]
            sampler = threading.Thread(target=peak_connections, args=(database, stop, peak))
            sampler.start()
            result = burst(
                run.base, token, submissions=args.submissions, threads=args.threads, give_up=20
            )
            stop.set()
            sampler.join()
            other = ",".join(f"{k}:{v}" for k, v in sorted(result.other.items())) or "-"
            print(
                f"{name:<12} {len(result.accepted):>8} {result.overloaded:>6} {other:>12} "
                f"{scans_in_database(database):>6} {peak[0]:>10} {result.wall:>7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
