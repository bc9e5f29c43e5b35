"""One scan, measured two ways.

1. The engine alone: a full `run_scan` of a loopback TLS server that sends
   only its leaf, so the issuer is fetched over HTTP (AIA) from a local server
   on every scan (a fresh fetcher each time, as the worker does). Also the
   same scan when the server sends the whole chain (no fetch), for contrast.
2. The whole stack: a scan submitted through the dashboard's service (row in
   Postgres, message through Redis) to a real `celery worker`, until the row
   says finished — the latency a person waits for after pressing "Scan".

    .venv/bin/python bench/bench_scan.py [--rounds 50]

Uses Postgres at DATABASE_URL's server (default 127.0.0.1, database
`chainscan_bench_scan`, created and dropped) and Redis db 13.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "chainscan_bench_scan"
BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit(
    "/", 1
)[0]
BROKER = "redis://127.0.0.1:6379/13"
HOST = "bench-scan.chainscan.test"


def engine_rounds(rounds: int) -> dict[str, float]:
    from scans.engine.aia import HttpIssuerFetcher
    from scans.engine.network import StaticResolver
    from scans.engine.policy import AddressPolicy
    from scans.engine.scan import ScanConfig, Seams, run_scan
    from scans.engine.targets import Target
    from scans.engine.trust import load_trust_store, store_with_extra
    from tests import pki
    from tests.httpserver import CertHTTPServer
    from tests.tlsserver import TLSServer

    now = dt.datetime.now(dt.UTC)
    window = {"not_before": now - dt.timedelta(days=1), "not_after": now + dt.timedelta(days=90)}
    root = pki.root("Bench Root", **window)
    inter = pki.intermediate("Bench Issuing CA", root, **window)
    http = CertHTTPServer({"/issuer.der": inter.der})
    url = http.url("/issuer.der")
    leaf = pki.leaf(HOST, inter, aia=url, **window)
    from scans.engine.certs import describe, pem_bundle

    trust = store_with_extra(
        load_trust_store("mozilla"), pem_bundle([describe(root.der)]).encode(), "bench root"
    )
    policy = AddressPolicy(allow_private=True)
    config = ScanConfig(policy=policy)
    results: dict[str, float] = {}
    for label, chain in (
        ("leaf only, issuer fetched via AIA", [leaf.der]),
        ("full chain served, no fetch", [leaf.der, inter.der]),
    ):
        times = []
        with TLSServer(chain, leaf.key) as server:
            resolver = StaticResolver({HOST: [server.address]})
            for _ in range(rounds):
                seams = Seams(
                    resolver=resolver,
                    fetcher=HttpIssuerFetcher(policy, resolver, allowed_ports=None),
                )
                started = time.perf_counter()
                report = run_scan(
                    Target(HOST, server.port), trust=trust, config=config, seams=seams
                )
                times.append((time.perf_counter() - started) * 1000)
                assert report.endpoints[0].expected, "no expected chain was built"
        results[label] = statistics.median(times)
    http.close()
    return results


def stack_rounds(rounds: int) -> list[float]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"{BASE_URL}/{DB_NAME}",
            "CELERY_BROKER_URL": BROKER,
            "CHAINSCAN_ALLOW_PRIVATE_ADDRESSES": "true",
            "CHAINSCAN_SUBMIT_RATE": "0",
            "CHAINSCAN_DEDUP_SECONDS": "0",
            "CHAINSCAN_QUEUE": "bench-scan",
            "DEBUG": "true",  # a laptop benchmark; settings default to off
            "CHAINSCAN_RESOLVE_OVERRIDES": f"{HOST}=127.0.0.1",
            "DJANGO_SETTINGS_MODULE": "chainscan.settings",
            "PYTHONPATH": str(ROOT),
        }
    )
    subprocess.run(
        ["psql", f"{BASE_URL}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"], check=True
    )
    subprocess.run(
        ["psql", f"{BASE_URL}/postgres", "-qc", f"CREATE DATABASE {DB_NAME}"], check=True
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from chainscan.celery import app
    from scans import services
    from scans.engine.targets import Target
    from scans.models import Scan
    from tests.tlsserver import TLSServer, mini_pki

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("bench-scan")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "chainscan",
            "worker",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    times: list[float] = []
    try:
        chain = mini_pki(HOST)
        with TLSServer([chain.leaf, chain.intermediate], chain.leaf_key) as server:
            target = Target(HOST, server.port)
            warm = services.scan_request(targets=[target])[0]  # wait for the worker to be up
            deadline = time.monotonic() + 60
            while not Scan.objects.get(pk=warm.pk).is_finished and time.monotonic() < deadline:
                time.sleep(0.05)
            for _ in range(rounds):
                started = time.perf_counter()
                scan = services.scan_request(targets=[target])[0]
                while not Scan.objects.filter(pk=scan.pk, status__in=["done", "failed"]).exists():
                    time.sleep(0.002)
                times.append((time.perf_counter() - started) * 1000)
    finally:
        worker.terminate()
        worker.wait(30)
        from django.db import connections

        connections.close_all()
        subprocess.run(
            ["psql", f"{BASE_URL}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"]
        )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    print(
        f"engine run_scan of one loopback host (incl. the no-SNI probe), median of {args.rounds}:"
    )
    for label, ms in engine_rounds(args.rounds).items():
        print(f"  {label:40s} {ms:7.1f} ms")
    times = stack_rounds(args.rounds)
    print(
        f"submit → finished report through Postgres, Redis and a real worker ({args.rounds} scans):"
    )
    print(
        f"  median {statistics.median(times):7.1f} ms   p95 {sorted(times)[int(len(times) * 0.95) - 1]:7.1f} ms"
        f"   max {max(times):7.1f} ms"
    )


if __name__ == "__main__":
    main()
