"""Shared fixtures: the cast of users, a real Celery worker, Django-side helpers.

Engine fixtures (PKI, TLS servers) live in tests/engine/conftest.py and the
helper modules tests/pki.py and tests/tlsserver.py; they are plain Python and
need no database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The headless-browser fixtures (browser, page) live in tests/browser.py.
pytest_plugins = ["tests.browser"]


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- The cast ----------------------------------------------------------------
# alice asks for scans, bob is her teammate, charlie must see nothing of hers
# unless she shares a permalink.


@pytest.fixture
def alice(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("alice", password="alice-pw-123")


@pytest.fixture
def bob(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("bob", password="bob-pw-123")


@pytest.fixture
def charlie(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("charlie", password="charlie-pw-123")


@pytest.fixture
def alice_client(client, alice):  # type: ignore[no-untyped-def]
    client.force_login(alice)
    return client


# --- A real Celery worker ----------------------------------------------------


def test_database_url() -> str:
    """DATABASE_URL with the database name pytest-django created for this run."""
    from django.db import connection

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class Worker:
    """A `celery worker` subprocess consuming this run's queue."""

    def __init__(self, env: dict[str, str], log: Path, args: tuple[str, ...] = ()) -> None:
        self.env = env
        self.log = log
        self.args = args  # e.g. ("-Q", queue) for the notification worker
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.log.write_text("")
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "chainscan",
                "worker",
                "--loglevel=INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--concurrency=8",
                *self.args,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"the Celery worker did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self, sig: int = 15) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _purge_queue() -> None:
    from chainscan.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker, tmp_path_factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        url = test_database_url()
    env = dict(os.environ)
    env["DATABASE_URL"] = url
    env["PYTHONPATH"] = str(ROOT)
    env["CHAINSCAN_RESOLVE_OVERRIDES"] = (
        "multi.chainscan.test=127.0.0.2|127.0.0.3;single.chainscan.test=127.0.0.1"
    )
    return env


@pytest.fixture(scope="session")
def celery_worker(worker_env, tmp_path_factory) -> Iterator[Worker]:  # type: ignore[no-untyped-def]
    """One real worker for the session, on Redis, writing to the test database."""
    try:
        _purge_queue()
    except Exception:
        pass
    worker = Worker(worker_env, tmp_path_factory.mktemp("worker") / "worker.log")
    worker.start()
    yield worker
    worker.stop()


def wait_for_scan(token: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """Poll the database until the scan is finished; return it."""
    from scans.models import Scan

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scan = Scan.objects.select_related("host").get(token=token)
        if scan.is_finished:
            return scan
        time.sleep(0.05)
    raise AssertionError(f"scan {token} did not finish within {timeout} s")
