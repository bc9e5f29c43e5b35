"""A burst of API submissions against `make run` on a Postgres of its own.

Shared by tests/test_db_burst.py (asserts nothing is lost and nothing is a
500) and bench/bench_burst.py (prints the figures).

The Postgres is a private cluster (``initdb`` in a temporary folder, on a free
loopback port) with a small ``max_connections``: running out of connections
must never be tried on the machine's shared server, where it would fail every
other client's queries too.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import make_run as run_make_run
from tests.processes import manage, newcomer_env
from tests.tlsserver import free_port

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def postgres_available() -> bool:
    return PG_BIN is not None and (os.geteuid() != 0 or shutil.which("runuser") is not None)


def _as_postgres(argv: list[str]) -> list[str]:
    # Postgres refuses to run as root; the Debian package's user runs it.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def private_postgres(max_connections: int) -> Iterator[str]:
    """A throwaway Postgres cluster; yields the URL of its ``chainscan`` database."""
    assert PG_BIN is not None
    folder = Path(tempfile.mkdtemp(prefix="chainscan-pg-"))
    os.chmod(folder, 0o777)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    subprocess.run(
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder} -c max_connections={max_connections} -c fsync=off"
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "log"),
                "-o",
                options,
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [
                "psql",
                f"postgres://postgres@127.0.0.1:{port}/postgres",
                "-qc",
                "CREATE DATABASE chainscan",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgres://postgres@127.0.0.1:{port}/chainscan"
    finally:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class MakeRun:
    base: str
    env: dict[str, str]
    log: Path


@contextlib.contextmanager
def make_run(database_url: str, broker_url: str, workdir: Path, **extra: str) -> Iterator[MakeRun]:
    """`make run` as a developer starts it, on the given Postgres and Redis."""
    env = newcomer_env(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        CHAINSCAN_QUEUE=f"burst-{os.getpid()}-{time.monotonic_ns()}",
        CHAINSCAN_VAR_DIR=str(workdir / "var"),
        CHAINSCAN_SUBMIT_RATE="0",
        CHAINSCAN_DEDUP_SECONDS="0",
        # One user submits the whole burst: no per-team cap here.
        CHAINSCAN_TEAM_MAX_UNFINISHED="0",
        CHAINSCAN_ALLOW_PRIVATE_ADDRESSES="true",
        # Every burst host is loopback on a closed port: a quick connect-failed.
        CHAINSCAN_RESOLVE_OVERRIDES="*.burst.test=127.0.0.1",
        LOG_LEVEL="WARNING",
        **extra,
    )
    log = workdir / "make-run.log"
    with run_make_run(env, log) as base:
        yield MakeRun(base=base, env={**env, "DEBUG": "true"}, log=log)


def api_token(run: MakeRun, username: str = "burst") -> str:
    # The operator's shell, not the pool settings under test.
    env = {k: v for k, v in run.env.items() if not k.startswith("DATABASE_POOL")}
    manage(
        env,
        "shell",
        "-c",
        f"from django.contrib.auth.models import User; User.objects.create_user({username!r})",
    )
    return manage(env, "api_token", username).strip().splitlines()[-1]


@dataclass
class BurstResult:
    accepted: list[str] = field(default_factory=list)  # scan tokens
    overloaded: int = 0  # 503 answers (each retried after its Retry-After)
    retry_after_missing: int = 0
    # Anything else: "500" would be here, and "connection error" if the server dropped one.
    other: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0


def burst(
    base: str, token: str, *, submissions: int = 1000, threads: int = 16, give_up: int = 0
) -> BurstResult:
    """``submissions`` POST /api/scans from ``threads`` client threads, each on its
    own keep-alive-less connection per request; a 503 is retried after its Retry-After
    (``give_up`` times at most, then counted under "gave up"; 0: forever)."""
    result = BurstResult()
    lock = threading.Lock()
    numbers = iter(range(submissions))
    host, port = base.removeprefix("http://").split(":")

    def client() -> None:
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            body = json.dumps({"host": f"h{number:05d}.burst.test", "port": 9})
            attempts = 0
            while True:
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                try:
                    conn.request(
                        "POST",
                        "/api/scans",
                        body=body,
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Type": "application/json",
                        },
                    )
                    response = conn.getresponse()
                    payload = response.read()
                    retry_after = response.getheader("Retry-After")
                except (OSError, http.client.HTTPException):
                    with lock:
                        result.other["connection error"] = (
                            result.other.get("connection error", 0) + 1
                        )
                    break
                finally:
                    conn.close()
                if response.status in (200, 201, 202):
                    with lock:
                        result.accepted.append(json.loads(payload)["token"])
                    break
                if response.status == 503:
                    with lock:
                        result.overloaded += 1
                        result.retry_after_missing += retry_after is None
                    attempts += 1
                    if give_up and attempts > give_up:
                        with lock:
                            result.other["gave up"] = result.other.get("gave up", 0) + 1
                        break
                    time.sleep(float(retry_after or 1))
                    continue
                with lock:
                    key = str(response.status)
                    result.other[key] = result.other.get(key, 0) + 1
                break

    start = time.monotonic()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    result.wall = time.monotonic() - start
    return result


def scans_in_database(database_url: str) -> int:
    out = subprocess.run(
        ["psql", database_url, "-Atc", "SELECT count(*) FROM scans_scan"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip())
