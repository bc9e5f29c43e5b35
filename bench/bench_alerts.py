"""Alerts at scale: one grouped message for a shared intermediate, and scans unaffected
by a slow receiver.

Run: ``.venv/bin/python bench/bench_alerts.py [--hosts 1000] [--servers 4] [--workers 2]``

Everything is real and local, as in bench_load.py: a Postgres database of its
own (``chainscan_bench_alerts``, recreated per phase, dropped at the end), a
Redis database of its own (default db 10), delayed TLS servers on 127.0.0.2…
(100 ms per connection), ``--workers`` plain scan workers, one notification
worker (``-Q chainscan-notify``, concurrency 8, as compose's ``notifier``) and
a real ``celery beat`` (tick 1 s) whose scheduler turns the due watches into
scans. Receivers are HTTP servers on loopback (tests/httpserver.py).

Every host serves a leaf under one intermediate that expires in 6.5 days: each
scan opens an "expiry" incident at the 7-day threshold for that intermediate.

Phase "grouping": one team watches all the hosts and has two channels (a
webhook and a Slack-compatible one). Printed: scan time (beat dispatch to the
last finished scan), messages per channel (1 each is the goal) with how many
hosts each lists, and the delay from the last scan to each delivery
(CHAINSCAN_NOTIFY_GROUP_SECONDS of quiet, 10 s by default, is most of it).

Phase "throughput": each host is watched by a team of its own with its own
webhook channel, so every scan makes one message. Run once with a receiver
that answers at once and once with one that takes 10 s to answer. Printed:
scans/s for each, and how many messages had arrived when the scans were done.
Equal scans/s is the claim: notifications run on their own queue and worker.

This is a measurement, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_load import (  # noqa: E402 - importable once ROOT is on the path
    Processes,
    bench_env,
    drop_database,
    free_port,
    recreate_database,
    wait_until,
)

from tests.processes import manage  # noqa: E402

DOMAIN = "alerts.bench.test"
SERVER_DELAY = 0.1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slow", type=float, default=10.0, help="the slow receiver's delay")
    parser.add_argument("--database", default="chainscan_bench_alerts")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--phase", choices=["all", "grouping", "throughput"], default="all")
    return parser.parse_args()


def pki_files(servers: int, var: Path) -> tuple[list[bytes], object, Path, str]:
    """root → intermediate (6.5 days left) → one leaf for every server's names."""
    from scans.engine.certs import describe, pem_bundle
    from tests import pki

    now = dt.datetime.now(dt.UTC)
    root = pki.root(
        "bench alerts root", not_before=now - 400 * pki.DAY, not_after=now + 3650 * pki.DAY
    )
    ca = pki.intermediate(
        "bench alerts shared intermediate",
        root,
        not_before=now - 400 * pki.DAY,
        not_after=now + dt.timedelta(days=6, hours=12),
    )
    names = [f"*.s{i}.{DOMAIN}" for i in range(servers)]
    leaf = pki.leaf(names[0], ca, san=names, not_before=now - pki.DAY, not_after=now + 80 * pki.DAY)
    anchors = var / "anchors.pem"
    anchors.write_text(pem_bundle([describe(root.der)]))
    return [leaf.der, ca.der], leaf.key, anchors, describe(ca.der).sha256


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def populate(hosts: int, servers: int, port: int, channel_urls: list[str], teams: str) -> None:
    """Users, channels and watches (due far in the future until the clock starts)."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from scans.models import Channel, Host, Watch

    later = timezone.now() + dt.timedelta(days=1)
    names = [f"h{i:04d}.s{i % servers}.{DOMAIN}" for i in range(hosts)]
    Host.objects.bulk_create([Host(hostname=n, port=port) for n in names])
    rows = list(Host.objects.order_by("pk"))
    if teams == "one":
        owner = User.objects.create_user("ops")
        owners = [owner] * hosts
        Channel.objects.bulk_create(
            [
                Channel(
                    created_by=owner,
                    kind=kind,
                    name=kind,
                    url=url,
                    secret="bench-secret-0123456789",
                )
                for kind, url in zip(("webhook", "slack"), channel_urls, strict=True)
            ]
        )
    else:
        User.objects.bulk_create([User(username=f"team{i:04d}") for i in range(hosts)])
        owners = list(User.objects.order_by("pk"))
        Channel.objects.bulk_create(
            [
                Channel(
                    created_by=u, kind="webhook", name="hook", url=channel_urls[0], secret="s" * 20
                )
                for u in owners
            ]
        )
    Watch.objects.bulk_create(
        [
            Watch(host=h, created_by=u, interval=86400, next_run_at=later)
            for h, u in zip(rows, owners, strict=True)
        ]
    )


def start_processes(procs: Processes, env: dict[str, str], var: Path, workers: int) -> None:
    bin_ = Path(sys.executable).parent
    logs = []
    for i in range(workers):
        log = var / f"scan-worker-{i}.log"
        procs.start(
            "worker",
            [
                str(bin_ / "celery"),
                "-A",
                "chainscan",
                "worker",
                "-n",
                f"scan{i}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            env,
            log,
        )
        logs.append(log)
    log = var / "notify-worker.log"
    procs.start(
        "notifier",
        [
            str(bin_ / "celery"),
            "-A",
            "chainscan",
            "worker",
            "-n",
            "notify@%h",
            "-Q",
            env["CHAINSCAN_NOTIFY_QUEUE"],
            "--concurrency",
            "8",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        env,
        log,
    )
    logs.append(log)
    for log in logs:
        wait_until(lambda log=log: "ready." in log.read_text(errors="replace"), 90, f"{log.name}")
    procs.start(
        "beat",
        [
            str(bin_ / "celery"),
            "-A",
            "chainscan",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(var / "beat-schedule"),
        ],
        env,
        var / "beat.log",
    )


def phase(args: argparse.Namespace, name: str, *, teams: str, delay: float) -> dict[str, object]:
    """One run from an empty database: returns its figures."""
    from django.db import connections

    from tests.httpserver import HookReceiver
    from tests.tlsserver import TLSServer

    connections.close_all()
    recreate_database(args)
    var = Path(tempfile.mkdtemp(prefix=f"bench-alerts-{name}-"))
    chain, key, anchors, ca_sha = pki_files(args.servers, var)
    addresses = [f"127.0.0.{2 + i}" for i in range(args.servers)]
    port = free_port(addresses)
    overrides = ";".join(f"*.s{i}.{DOMAIN}={a}" for i, a in enumerate(addresses))
    env = bench_env(args, overrides=overrides, anchors=anchors, var=var)
    env.update(
        {
            "CHAINSCAN_QUEUE": "bench-alerts",
            "CHAINSCAN_NOTIFY_QUEUE": "bench-alerts-notify",
            "CHAINSCAN_NOTIFY_ALLOWED_NETWORKS": "127.0.0.0/8",
            "CHAINSCAN_BASE_URL": "https://chainscan.example.com",
            "CHAINSCAN_SCHEDULER_TICK": "1",
            "CHAINSCAN_NOTIFY_TIMEOUT": str(max(delay * 2, 10)),
            "CHAINSCAN_DEDUP_SECONDS": "0",
        }
    )
    manage(env, "migrate", "--noinput")
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    with ExitStack() as stack:
        receiver = stack.enter_context(HookReceiver())
        receiver.delay = delay
        for address in addresses:
            stack.enter_context(TLSServer(chain, key, host=address, port=port, delay=SERVER_DELAY))
        urls = [receiver.url("/webhook"), receiver.url("/slack")]
        populate(args.hosts, args.servers, port, urls, teams)
        procs = Processes()
        stack.callback(procs.stop_all)
        start_processes(procs, env, var, args.workers)

        from django.db.models import Max, Min
        from django.utils import timezone

        from scans.models import Scan, Watch

        started = timezone.now()
        Watch.objects.update(next_run_at=started)
        done = Scan.objects.filter(status__in=["done", "failed"])
        wait_until(lambda: done.count() >= args.hosts, args.timeout, "every scan", interval=0.5)
        span = done.aggregate(first=Min("finished_at"), last=Max("finished_at"))
        scan_seconds = (span["last"] - started).total_seconds()
        arrived_at_scans_end = len(receiver.received)
        figures: dict[str, object] = {
            "scans": done.count(),
            "failed": done.filter(status="failed").count(),
            "scan_seconds": scan_seconds,
            "scans_per_second": args.hosts / scan_seconds,
            "messages_when_scans_done": arrived_at_scans_end,
        }
        if teams == "one":
            expected = 2
            wait_until(lambda: len(receiver.received) >= expected, args.timeout, "the messages")
            first_arrival = time.time()
            time.sleep(15)  # anything more would arrive now
            import json

            per_channel: dict[str, list[int]] = {}
            for path, _headers, body in receiver.received:
                data = json.loads(body)
                if path == "/webhook":
                    hosts = len(data["targets"])
                else:  # Slack: "… — on 1000 hosts" in the text
                    found = re.search(r"on (\d+) hosts", data["text"])
                    hosts = int(found.group(1)) if found else 1
                per_channel.setdefault(path, []).append(hosts)
            last_scan = span["last"].timestamp()
            figures.update(
                {
                    "messages": {p: len(v) for p, v in per_channel.items()},
                    "hosts_per_message": per_channel,
                    "delivery_after_last_scan_s": first_arrival - last_scan,
                    "intermediate": ca_sha[:16],
                }
            )
        return figures


def main() -> int:
    args = parse_args()
    var = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    anchors = var / "none.pem"
    anchors.write_text("")
    base_env = bench_env(args, overrides="", anchors=anchors, var=var)
    base_env.pop("CHAINSCAN_TRUST_ANCHORS")
    recreate_database(args)
    setup_django(base_env)
    try:
        if args.phase in ("all", "grouping"):
            g = phase(args, "grouping", teams="one", delay=0)
            print(f"grouping: {args.hosts} watched hosts, one intermediate at 6.5 days left")
            print(f"  scans: {g['scans']} ({g['failed']} failed) in {g['scan_seconds']:.1f} s")
            print(
                f"  messages per channel: {g['messages']}; hosts listed: {g['hosts_per_message']}"
            )
            print(
                f"  delivered {g['delivery_after_last_scan_s']:.1f} s after the last scan finished"
            )
        if args.phase in ("all", "throughput"):
            fast = phase(args, "fast", teams="many", delay=0)
            slow = phase(args, "slow", teams="many", delay=args.slow)
            print(f"throughput: {args.hosts} hosts, one team and one webhook channel each")
            for label, f in (("instant receiver", fast), (f"{args.slow:g} s receiver", slow)):
                print(
                    f"  {label:>16}: {f['scans_per_second']:.1f} scans/s "
                    f"({f['scan_seconds']:.1f} s, {f['failed']} failed); messages delivered "
                    f"by then: {f['messages_when_scans_done']}"
                )
            ratio = float(slow["scans_per_second"]) / float(fast["scans_per_second"])  # type: ignore[arg-type]
            print(f"  slow/instant scan throughput: {ratio:.2f}")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
