"""How many scans per second does the whole pipeline finish, and is any lost or run twice?

Run: ``.venv/bin/python bench/bench_load.py [--scans 1000] [--servers 4] [--workers 2]``

Everything is real and local:

- a Postgres database of its own (``chainscan_bench_load``, dropped and
  migrated at the start, dropped at the end unless ``--keep``), on the server
  of ``--postgres`` (default ``postgres://postgres@127.0.0.1:5432``);
- a Redis database of its own (``--redis``, default db 9), flushed first;
- N TLS servers on 127.0.0.2, 127.0.0.3, … that each wait 100 ms before
  answering a connection (``tests/tlsserver.py``), serving a leaf for
  ``*.sK.bench.test`` and its intermediate; the root is given to the workers
  as a custom trust anchor, so each scan does the normal "trusted chain"
  analysis and ends "ok";
- K plain ``celery -A chainscan worker`` processes: pool and concurrency come
  from the settings (threads, 16), nothing on the command line but a node name;
- the web app under gunicorn, and 1,000 ``POST /api/scans`` with an API token
  made by ``manage.py api_token``, from a pool of client threads.

Host names are distinct (``h0001.s1.bench.test``) so the dedup window does not
fold them together; ``CHAINSCAN_RESOLVE_OVERRIDES`` maps ``*.sK.bench.test`` to
server K (one wildcard entry per server). Each scan does one SNI handshake and
one no-SNI probe.

In the same run, a bare client loop (``OpenSSLProber`` in a thread pool as
large as all workers' threads together, in a process of its own) measures the
raw handshake rate against the same servers: the ceiling the pipeline is
compared with.

Prints: wall time, scans/s, lost (accepted but never finished: must be 0),
duplicated (attempts > 1 or a second set of endpoints: must be 0), failed,
submission latency, the raw handshake rate and the ratio, each worker's peak
RSS (VmHWM), and where the CPU went during the run: workers, gunicorn, this
process (the TLS servers), this database's Postgres backends, and the rest of
the machine (Redis, Postgres' own processes, anything else running). On a
2-core machine the pipeline is CPU-bound, so ms of CPU per scan is the number
to optimise. This is a measurement, not a test: nothing here asserts.

``--repeat N`` runs it all N times, each from scratch in a process of its
own, and ends with the spread of the wall times: a shared 2-core machine is
not equally fast all day, so one run is a sample rather than a figure.

``--worker-env NAME=VALUE`` passes settings to the workers only, to compare
(e.g. ``CHAINSCAN_WORKER_CONCURRENCY=8``); the default run passes none.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import manage  # noqa: E402 - importable once ROOT is on the path

BIN = Path(sys.executable).parent
DOMAIN = "bench.test"
SERVER_DELAY = 0.1  # seconds each TLS server waits before answering
HANDSHAKES_PER_SCAN = 2  # one address with SNI, plus the no-SNI probe
DEFAULT_CONCURRENCY = 16  # the settings' CELERY_WORKER_CONCURRENCY default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=4, help="TLS servers (127.0.0.2…)")
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=8, help="submitting client threads")
    parser.add_argument("--database", default="chainscan_bench_load")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up waiting after")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the workers, e.g. CHAINSCAN_WORKER_CONCURRENCY=16",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the whole benchmark N times (each from scratch) and summarise the wall times",
    )
    # Internal: the raw handshake loop runs in a process of its own.
    parser.add_argument("--raw", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- Helpers ---------------------------------------------------------------------------


def free_port(hosts: list[str]) -> int:
    """A port free on every one of ``hosts`` (all servers listen on the same port)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = int(probe.getsockname()[1])
        try:
            for host in hosts[1:]:
                with socket.socket() as other:
                    other.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on every server address")


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a process, in MiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the name.
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def family_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its live children (gunicorn's workers)."""
    total = cpu_seconds(pid)
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            total += cpu_seconds(int(child))
    return total


def postgres_backends(database: str) -> dict[int, float]:
    """CPU seconds of each Postgres backend serving ``database`` (pg_stat_activity)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )
        return {pid: cpu_seconds(pid) for (pid,) in cursor.fetchall()}


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, every process)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


@dataclass
class Processes:
    """Every child process started, stopped in reverse order whatever happens."""

    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> int:
        handle = log.open("wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        self.children.append((name, proc))
        return proc.pid

    def stop_all(self) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _name, proc in reversed(self.children):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- Set-up ----------------------------------------------------------------------------


def bench_env(
    args: argparse.Namespace, *, overrides: str, anchors: Path, var: Path
) -> dict[str, str]:
    base = urlsplit(args.postgres)
    database_url = urlunsplit(base._replace(path="/" + args.database))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAINSCAN_", "CELERY_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "chainscan.settings",
            "PYTHONPATH": str(ROOT),
            # Production-like: no query log, no debug pages.
            "DEBUG": "false",
            "SECRET_KEY": "bench-load-secret-key-not-for-production-0123456789abcdef",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": args.redis,
            "CHAINSCAN_QUEUE": "bench-load",
            "CHAINSCAN_VAR_DIR": str(var),
            "CHAINSCAN_ALLOW_PRIVATE_ADDRESSES": "true",
            "CHAINSCAN_SUBMIT_RATE": "0",
            "CHAINSCAN_TEAM_MAX_UNFINISHED": "0",  # one user submits them all
            "CHAINSCAN_RESOLVE_OVERRIDES": overrides,
            "CHAINSCAN_TRUST_ANCHORS": str(anchors),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def recreate_database(args: argparse.Namespace) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(args.postgres)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')


def drop_database(args: argparse.Namespace) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(args.postgres)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


def bench_pki(servers: int) -> tuple[list[bytes], object, bytes]:
    """root → intermediate → one leaf for ``*.s0.bench.test`` … ``*.sN.bench.test``.

    Returns the chain to serve (leaf, intermediate), the leaf's key and the
    root as PEM (the workers' custom trust anchor), valid from yesterday.
    """
    import datetime as dt

    from scans.engine.certs import describe, pem_bundle
    from tests import pki

    now = dt.datetime.now(dt.UTC)
    window = {"not_before": now - dt.timedelta(days=1), "not_after": now + dt.timedelta(days=90)}
    root = pki.root("chainscan bench root", **window)
    ca = pki.intermediate("chainscan bench intermediate", root, **window)
    names = [f"*.s{i}.{DOMAIN}" for i in range(servers)]
    leaf = pki.leaf(names[0], ca, san=names, **window)
    return [leaf.der, ca.der], leaf.key, pem_bundle([describe(root.der)]).encode()


@contextlib.contextmanager
def tls_servers(count: int) -> Iterator[tuple[list[str], int, bytes]]:
    """``count`` delayed TLS servers on one port; yields addresses, port, root (PEM)."""
    from tests.tlsserver import TLSServer

    chain, key, root = bench_pki(count)
    addresses = [f"127.0.0.{2 + i}" for i in range(count)]
    port = free_port(addresses)
    servers = [
        TLSServer(chain, key, host=address, port=port, delay=SERVER_DELAY).start()  # type: ignore[arg-type]
        for address in addresses
    ]
    try:
        yield addresses, port, root
    finally:
        for server in servers:
            server.stop()


def host_name(i: int, servers: int) -> str:
    return f"h{i:04d}.s{i % servers}.{DOMAIN}"


# --- The raw handshake loop (a process of its own) -----------------------------------------


def raw_handshakes(spec: str) -> None:
    """``addresses|port|concurrency|count``: handshake ``count`` times, print the rate."""
    from scans.engine.network import OpenSSLProber, ProbeLimits

    addresses_text, port_text, concurrency_text, count_text = spec.split("|")
    addresses = addresses_text.split(",")
    port, concurrency, count = int(port_text), int(concurrency_text), int(count_text)
    prober, limits = OpenSSLProber(), ProbeLimits()

    def one(i: int) -> bool:
        address = addresses[i % len(addresses)]
        # Alternate SNI and no SNI, as a scan does.
        sni = host_name(i, len(addresses)) if i % 2 == 0 else None
        return prober.probe(address, port, sni, limits).error is None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(min(concurrency, count))))  # warm up: threads, imports
        started = time.monotonic()
        ok = sum(pool.map(one, range(count)))
        elapsed = time.monotonic() - started
    print(json.dumps({"handshakes": count, "ok": ok, "seconds": elapsed}))


def measure_raw(addresses: list[str], port: int, concurrency: int, count: int) -> dict[str, float]:
    spec = f"{','.join(addresses)}|{port}|{concurrency}|{count}"
    result = subprocess.run(
        [sys.executable, __file__, "--raw", spec],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Submitting and waiting ------------------------------------------------------------


@dataclass
class Submission:
    status: int
    token: str | None
    seconds: float


def submit_all(
    web_port: int, key: str, hosts: list[str], port: int, clients: int
) -> list[Submission]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def submit(host: str) -> Submission:
        body = json.dumps({"host": host, "port": port})
        started = time.monotonic()
        for attempt in range(3):
            conn = http.client.HTTPConnection("127.0.0.1", web_port, timeout=60)
            try:
                conn.request("POST", "/api/scans", body=body, headers=headers)
                response = conn.getresponse()
                data = json.loads(response.read() or b"{}")
                return Submission(response.status, data.get("token"), time.monotonic() - started)
            except (OSError, http.client.HTTPException, ValueError):
                if attempt == 2:
                    return Submission(0, None, time.monotonic() - started)
                time.sleep(0.1)
            finally:
                conn.close()
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(submit, hosts))


def count_finished() -> int:
    from scans.models import Scan

    return Scan.objects.filter(status__in=[Scan.Status.DONE, Scan.Status.FAILED]).count()


@dataclass
class Outcome:
    finished: int = 0
    done: int = 0
    failed: int = 0
    lost: int = 0
    duplicated: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    last_finished: float = 0.0
    errors: list[str] = field(default_factory=list)


def outcome(tokens: list[str]) -> Outcome:
    from django.db.models import Count, Max, Q

    from scans.models import Scan

    rows = Scan.objects.filter(token__in=tokens).annotate(
        n_endpoints=Count("endpoint_set__endpoints"),
        n_sni=Count("endpoint_set__endpoints", filter=Q(endpoint_set__endpoints__no_sni=False)),
    )
    result = Outcome()
    seen = set()
    for scan in rows:
        seen.add(scan.token)
        if scan.status in (Scan.Status.DONE, Scan.Status.FAILED):
            result.finished += 1
        else:
            result.lost += 1
        if scan.status == Scan.Status.DONE:
            result.done += 1
        if scan.status == Scan.Status.FAILED:
            result.failed += 1
            if len(result.errors) < 3:
                result.errors.append(scan.error)
        # Run twice: claimed twice, or two sets of endpoints recorded.
        if scan.attempts > 1 or scan.n_endpoints > HANDSHAKES_PER_SCAN or scan.n_sni > 1:
            result.duplicated += 1
        result.verdicts[scan.verdict or "-"] = result.verdicts.get(scan.verdict or "-", 0) + 1
    result.lost += len(set(tokens) - seen)
    last = Scan.objects.filter(token__in=tokens).aggregate(last=Max("finished_at"))["last"]
    result.last_finished = last.timestamp() if last else 0.0
    return result


# --- Main ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.raw:
        raw_handshakes(args.raw)
        return 0
    if args.repeat > 1:
        return repeat(args.repeat, sys.argv[1:] if argv is None else argv)

    processes = Processes()
    var = Path(tempfile.mkdtemp(prefix="chainscan-bench-load-"))
    print(
        f"chainscan load benchmark: {args.scans} scans, {args.servers} servers, "
        f"{args.workers} workers; logs in {var}",
        flush=True,
    )
    with tls_servers(args.servers) as (addresses, tls_port, roots):
        anchors = var / "bench-roots.pem"
        anchors.write_bytes(roots)
        overrides = ";".join(f"*.s{i}.{DOMAIN}={a}" for i, a in enumerate(addresses))
        env = bench_env(args, overrides=overrides, anchors=anchors, var=var)
        os.environ.update(env)  # this process reads results through the ORM
        try:
            return run(args, env, processes, var, addresses, tls_port)
        finally:
            processes.stop_all()
            from django.db import connections

            connections.close_all()
            if not args.keep:
                drop_database(args)


def repeat(times: int, argv: list[str]) -> int:
    """The whole benchmark ``times`` times, each in a fresh process, then the spread.

    A shared 2-core machine is not equally fast all day: one run is a sample,
    not a figure.
    """
    once = [*argv, "--repeat", "1"]  # argparse keeps the last value given
    walls: list[float] = []
    failed = 0
    for i in range(times):
        print(f"--- run {i + 1} of {times}", flush=True)
        done = subprocess.run(
            [sys.executable, __file__, *once], capture_output=True, text=True, check=False
        )
        print(done.stdout, end="", flush=True)
        failed += done.returncode != 0
        for line in done.stdout.splitlines():
            if line.strip().startswith("wall time"):
                walls.append(float(line.split()[-2]))
    if walls:
        print(
            f"\nwall time over {len(walls)} runs: min {min(walls):.2f} s, "
            f"median {statistics.median(walls):.2f} s, max {max(walls):.2f} s; "
            f"runs that lost or duplicated scans: {failed}"
        )
    return 1 if failed or not walls else 0


def run(
    args: argparse.Namespace,
    env: dict[str, str],
    processes: Processes,
    var: Path,
    addresses: list[str],
    tls_port: int,
) -> int:
    import django
    import redis

    recreate_database(args)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.create_user('bench', password='bench-not-a-secret')",
    )
    key = manage(env, "api_token", "bench", "--name", "bench").strip().splitlines()[-1]
    redis.Redis.from_url(args.redis).flushdb()
    django.setup()

    from chainscan.celery import app

    # The ceiling: bare handshakes, as many in flight as all workers' threads.
    per_worker = dict(item.split("=", 1) for item in args.worker_env).get(
        "CHAINSCAN_WORKER_CONCURRENCY", DEFAULT_CONCURRENCY
    )
    concurrency = args.workers * int(per_worker)
    raw = measure_raw(addresses, tls_port, concurrency, args.scans * HANDSHAKES_PER_SCAN)
    raw_rate = raw["ok"] / raw["seconds"]

    worker_env = {**env, **dict(item.split("=", 1) for item in args.worker_env)}
    worker_pids = [
        processes.start(
            f"worker{i}",
            [str(BIN / "celery"), "-A", "chainscan", "worker", "-n", f"bench{i}@%h"],
            worker_env,
            var / f"worker{i}.log",
        )
        for i in range(args.workers)
    ]
    web_port = free_port(["127.0.0.1"])
    web_pid = processes.start(
        "web",
        [
            str(BIN / "gunicorn"),
            "chainscan.wsgi:application",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            str(args.web_workers),
            "--log-level",
            "warning",
        ],
        env,
        var / "web.log",
    )

    def web_ready() -> bool:
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", web_port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        return False

    wait_until(web_ready, 60, "gunicorn")
    wait_until(lambda: len(app.control.ping(timeout=0.5) or []) >= args.workers, 90, "the workers")
    pool = app.control.inspect(timeout=2).stats() or {}
    pools = {
        # "celery.concurrency.thread:TaskPool" -> "thread"
        name: f"{s['pool']['implementation'].split(':')[0].rsplit('.', 1)[-1]} pool, "
        f"concurrency {s['pool']['max-concurrency']}"
        for name, s in pool.items()
    }

    hosts = [host_name(i, args.servers) for i in range(args.scans)]
    cpu_before = {
        "workers": sum(cpu_seconds(pid) for pid in worker_pids),
        "web (gunicorn)": family_cpu_seconds(web_pid),
        "TLS servers + client (this process)": cpu_seconds(os.getpid()),
        "machine": machine_busy_seconds(),
    }
    backends_before = postgres_backends(args.database)
    started_wall, started = time.time(), time.monotonic()
    submissions = submit_all(web_port, key, hosts, tls_port, args.clients)
    submitted = time.monotonic() - started
    tokens = [s.token for s in submissions if s.status == 202 and s.token]
    with contextlib.suppress(RuntimeError):
        wait_until(lambda: count_finished() >= len(tokens), args.timeout, "the scans", 0.1)
    waited = time.monotonic() - started
    cpu = {
        "workers": sum(cpu_seconds(pid) for pid in worker_pids),
        "web (gunicorn)": family_cpu_seconds(web_pid),
        "TLS servers + client (this process)": cpu_seconds(os.getpid()),
        "machine": machine_busy_seconds(),
    }
    cpu = {k: v - cpu_before[k] for k, v in cpu.items()}
    # Backends that closed during the run are missed; workers and gunicorn
    # keep theirs open, so these are nearly all of them.
    cpu["Postgres (this database's backends)"] = sum(
        seconds - backends_before.get(pid, 0.0)
        for pid, seconds in postgres_backends(args.database).items()
    )
    cpu["rest (Redis, Postgres' own processes, other users)"] = cpu.pop("machine") - sum(
        cpu.values()
    )
    result = outcome(tokens)
    wall = (result.last_finished - started_wall) if result.last_finished else waited
    rss = {f"worker{i}": peak_rss_mib(pid) for i, pid in enumerate(worker_pids)}
    rss["web (gunicorn master)"] = peak_rss_mib(web_pid)
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{web_pid}/task/{web_pid}/children").read_text().split()
        rss["web (largest gunicorn worker)"] = max(peak_rss_mib(int(c)) for c in children)

    scans_per_s = result.finished / wall if wall > 0 else 0.0
    pipeline_handshakes = scans_per_s * HANDSHAKES_PER_SCAN
    latencies = sorted(s.seconds * 1000 for s in submissions)
    rows = [
        (
            "scans submitted",
            f"{len(submissions)} ({len(tokens)} accepted, "
            f"{len(submissions) - len(tokens)} refused)",
        ),
        ("workers", ", ".join(f"{n}: {p}" for n, p in sorted(pools.items())) or "?"),
        (
            "submission time",
            f"{submitted:.2f} s (p50 {statistics.median(latencies):.0f} ms, "
            f"p95 {latencies[int(len(latencies) * 0.95) - 1]:.0f} ms per POST)",
        ),
        ("wall time (first POST → last scan finished)", f"{wall:.2f} s"),
        ("scans/s", f"{scans_per_s:.1f}"),
        ("finished", f"{result.finished} (done {result.done}, failed {result.failed})"),
        ("verdicts", ", ".join(f"{k} {v}" for k, v in sorted(result.verdicts.items()))),
        ("lost (must be 0)", str(result.lost)),
        ("duplicated (must be 0)", str(result.duplicated)),
        (
            f"raw handshakes/s (bare prober loop, {concurrency} threads)",
            f"{raw_rate:.0f} ({raw['ok']}/{raw['handshakes']} ok)",
        ),
        ("pipeline handshakes/s", f"{pipeline_handshakes:.0f}"),
        ("pipeline / raw", f"{pipeline_handshakes / raw_rate:.2f}" if raw_rate else "-"),
        *((f"peak RSS {name}", f"{mib:.0f} MiB") for name, mib in rss.items()),
        *(
            (f"CPU {name}", f"{sec:.1f} s ({sec * 1000 / max(len(tokens), 1):.1f} ms/scan)")
            for name, sec in cpu.items()
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    if result.errors:
        print("\n  first failures:", *result.errors, sep="\n    ")
    return 0 if result.lost == 0 and result.duplicated == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
