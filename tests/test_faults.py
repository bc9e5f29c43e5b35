"""Fault tolerance with the real services: a killed worker, Redis down, Postgres
restarted, a scan stuck in ``running``, duplicate submissions.

Most tests here run a Redis of their own (``redis-server`` on a free port) as
the broker of both sides — this test process, which is the web app submitting
scans, and the worker subprocesses. Two reasons: a test may stop it (the
machine's Redis is shared and must never go down), and nothing else consumes
its queue (the session's worker would otherwise grab the messages a test
wants its own worker to get, or redeliver them). The web side is pointed at it
in-process (``broker_at``): Celery reads CELERY_BROKER_URL from the
environment before its own configuration, so both are switched, and the app's
connection and producer pools are dropped so the next message goes to the new
broker; everything is restored afterwards. Running the submissions in a
subprocess instead would lose the Django test client, the test database's
transaction handling and the cast of users.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scans import services
from scans.engine.targets import Target
from scans.models import ApiToken, Host, Scan
from scans.tasks import fail_stuck_scans, flush_outbox
from tests.conftest import Worker, wait_for_scan
from tests.tlsserver import TLSServer, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

HOST = "single.chainscan.test"  # workers resolve it to 127.0.0.1 (conftest.worker_env)

# Limits short enough for redelivery in seconds. The engine's budget (3 s)
# fits in the soft limit (5 s) < hard limit (6 s) < visibility timeout (8 s),
# the order the settings enforce.
SHORT_LIMITS = {
    "CHAINSCAN_SCAN_TIMEOUT": "3",
    "CHAINSCAN_TASK_SOFT_TIME_LIMIT": "5",
    "CHAINSCAN_TASK_TIME_LIMIT": "6",
    "CHAINSCAN_VISIBILITY_TIMEOUT": "8",
}


# --- A Redis of the test's own ------------------------------------------------------


class RedisServer:
    """``redis-server`` on a free loopback port, without persistence."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("ab")
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"redis-server did not start: {(self.workdir / 'redis.log').read_text()}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _drop_pools(*, forget: bool = False) -> None:
    """Make the app build its connection and producer pools again on next use.

    kombu keeps pools in global registries keyed by the broker's address, so
    the default broker's pools are only dropped, never closed (the app gets
    them back afterwards); ``forget`` also closes and unregisters the pools of
    the broker in use (a private one, gone after the test).
    """
    from kombu import pools
    from kombu.utils.collections import eqhash

    from chainscan.celery import app

    if forget:
        key = eqhash(app.connection_for_write())
        for group in (pools.producers, pools.connections):
            pool = dict.pop(group, key, None)  # the registry's own key, not its lookup
            if pool is not None:
                pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Send this process's Celery messages to ``url`` for the duration."""
    from chainscan.celery import app

    saved_env, saved_conf = os.environ.get("CELERY_BROKER_URL"), app.conf.broker_url
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url = url
    _drop_pools()
    try:
        yield
    finally:
        _drop_pools(forget=True)
        app.conf.broker_url = saved_conf
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:  # type: ignore[no-untyped-def]
    """A private broker for this test, used by the web side (this process) and its workers."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        with broker_at(server.url):
            yield server
    finally:
        server.stop()


@pytest.fixture
def workers(worker_env, own_redis, tmp_path) -> Iterator[Callable[..., Worker]]:  # type: ignore[no-untyped-def]
    """Start workers on the private broker; every one is stopped at the end, whatever happens."""
    started: list[Worker] = []

    def start(**env: str) -> Worker:
        worker = Worker(
            {**worker_env, "CELERY_BROKER_URL": own_redis.url, **env},
            tmp_path / f"worker{len(started)}.log",
        )
        started.append(worker)
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.stop(signal.SIGKILL)


# --- Helpers -------------------------------------------------------------------------


def submit(client, text: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("home"), {"targets": text})


def report_html(client, scan: Scan) -> str:  # type: ignore[no-untyped-def]
    return client.get(reverse("report", args=[scan.token])).content.decode()


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def sleep_until(moment: dt.datetime) -> None:
    time.sleep(max(0.0, (moment - timezone.now()).total_seconds()))


def endpoint_sets(scan: Scan) -> list[tuple[str, bool]]:
    """(address, no_sni) of every endpoint row: one per address and one no-SNI probe."""
    return sorted(scan.endpoints.values_list("address", "no_sni"))


# --- A worker killed in the middle of a scan -------------------------------------------


def test_a_scan_whose_worker_is_killed_mid_scan_finishes_once_on_another_worker(
    alice_client, workers
):
    first = workers(**SHORT_LIMITS)
    # Each connection waits 1.5 s before the server answers: the scan is mid-flight.
    with TLSServer(delay=1.5) as server:
        submit(alice_client, f"{HOST}:{server.port}")
        scan = Scan.objects.get()
        wait_until(
            lambda: (
                server.connections >= 1
                and Scan.objects.get(pk=scan.pk).status == Scan.Status.RUNNING
            ),
            "the first worker is handshaking",
        )
        first.stop(signal.SIGKILL)
        scan.refresh_from_db()
        assert scan.status == Scan.Status.RUNNING and not scan.endpoints.exists()

        # The killed worker never acknowledged the message. Kombu's Redis
        # transport restores an unacknowledged message once it is older than
        # the visibility timeout (8 s), when a worker starts and on its
        # periodic sweep. So start the second worker once that time has come:
        # it restores the message as it starts. The claim then accepts the
        # RUNNING row because its lease (the hard time limit, 6 s) has run
        # out — it always has, the visibility timeout being longer.
        sleep_until(scan.started_at + dt.timedelta(seconds=8.5))
        workers(**SHORT_LIMITS)
        scan = wait_for_scan(scan.token, timeout=30)

    assert scan.status == Scan.Status.DONE, scan.error
    assert scan.attempts == 2
    assert endpoint_sets(scan) == [("127.0.0.1", False), ("127.0.0.1", True)]
    assert "hx-trigger" not in report_html(alice_client, scan)


# --- Redis down when a scan is submitted ---------------------------------------------


def test_a_scan_submitted_while_redis_is_down_is_kept_and_runs_once_redis_is_back(
    alice_client, own_redis, workers
):
    own_redis.stop()
    with TLSServer() as server:
        response = submit(alice_client, f"{HOST}:{server.port}")

        scan = Scan.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("report", args=[scan.token])
        assert scan.status == Scan.Status.QUEUED and scan.dispatched_at is None
        html = alice_client.get(response["Location"]).content.decode()
        assert "Queued" in html and 'hx-trigger="every 1s"' in html

        own_redis.start()
        workers()
        # Beat sends flush_outbox every 30 s; send it now, as beat would. It
        # leaves scans younger than 5 s alone (their on-commit send may still
        # be under way), so wait until this one is that old.
        assert settings.CELERY_BEAT_SCHEDULE["flush-outbox"]["task"] == flush_outbox.name
        sleep_until(scan.requested_at + dt.timedelta(seconds=5.2))
        flush_outbox.delay()
        scan = wait_for_scan(scan.token)

    assert scan.status == Scan.Status.DONE, scan.error
    assert scan.dispatched_at is not None and scan.attempts == 1
    assert "hx-trigger" not in report_html(alice_client, scan)


# --- A scan stuck in running -----------------------------------------------------------


def test_the_sweeper_fails_a_scan_stuck_running_and_leaves_scans_that_can_still_finish(
    alice_client, alice, celery_worker
):
    host = Host.objects.create(hostname="stuck.chainscan.test")
    now = timezone.now()
    visibility = dt.timedelta(
        seconds=int(settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])
    )

    def running(started_at: dt.datetime) -> Scan:
        return Scan.objects.create(
            host=host, requested_by=alice, status=Scan.Status.RUNNING, started_at=started_at
        )

    # Started long ago and never redelivered: its message is gone.
    stuck = running(now - services.stuck_after() - dt.timedelta(minutes=1))
    # Long past its hard time limit, but if its worker died the message is
    # being redelivered just now (the visibility timeout has passed): failing
    # it would pre-empt the redelivery that lets a killed scan finish.
    awaiting_redelivery = running(now - visibility)
    live = running(now)
    never_picked_up = Scan.objects.create(host=host, requested_by=alice)
    Scan.objects.filter(pk=never_picked_up.pk).update(requested_at=now - dt.timedelta(hours=7))

    fail_stuck_scans.delay()  # what beat sends every minute
    stuck = wait_for_scan(stuck.token)

    assert stuck.status == Scan.Status.FAILED
    assert "did not finish within its time limit" in stuck.error
    html = report_html(alice_client, stuck)
    assert "did not finish within its time limit" in html and "hx-trigger" not in html
    never_picked_up.refresh_from_db()
    assert never_picked_up.status == Scan.Status.FAILED
    assert "no worker picked this scan up" in never_picked_up.error
    for scan in (awaiting_redelivery, live):
        scan.refresh_from_db()
        assert scan.status == Scan.Status.RUNNING


# --- Duplicate submissions -------------------------------------------------------------
# No worker consumes the private broker here, so the scans stay queued or
# running for as long as the test needs.


@pytest.fixture
def alice_key(alice) -> str:  # type: ignore[no-untyped-def]
    return ApiToken.issue(user=alice)[1]


def post_scan(client, key: str, body: dict[str, object]):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("api-scans"),
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )


def test_submitting_a_host_while_its_scan_runs_returns_that_scan_by_form_and_api(
    alice_client, alice_key, own_redis
):
    first = submit(alice_client, HOST)
    scan = Scan.objects.get()
    assert services.scan_claim(scan_id=scan.pk) is not None  # a worker has it now

    again = submit(alice_client, HOST)
    api = post_scan(alice_client, alice_key, {"host": HOST})

    assert again["Location"] == first["Location"] == reverse("report", args=[scan.token])
    assert api.status_code == 202
    assert api.json()["token"] == scan.token and api.json()["status"] == "running"
    assert Scan.objects.count() == 1


def test_simultaneous_api_submissions_of_a_known_host_make_one_scan(alice_key, own_redis):
    Host.objects.create(hostname=HOST, port=443)  # scanned before
    barrier = threading.Barrier(8)

    def post() -> str:
        try:
            barrier.wait()
            response = post_scan(Client(), alice_key, {"host": HOST})
            assert response.status_code == 202, response.content
            return str(response.json()["token"])
        finally:
            connection.close()  # this thread's own connection

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(post())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8 and len(set(results)) == 1
    assert list(Scan.objects.values_list("token", flat=True)) == results[:1]


def test_a_host_is_scanned_again_once_its_scan_finished_or_the_window_passed(
    alice_client, alice, own_redis
):
    first = Scan.objects.get(pk=services.scan_request(targets=[Target(HOST)], user=alice)[0].pk)
    services.scan_fail(scan_id=first.pk, error="the host was down")
    second_response = submit(alice_client, HOST)
    second = Scan.objects.exclude(pk=first.pk).get()
    assert second_response["Location"] == reverse("report", args=[second.token])

    # Still queued, but requested before the dedup window.
    Scan.objects.filter(pk=second.pk).update(
        requested_at=timezone.now() - dt.timedelta(seconds=settings.CHAINSCAN_DEDUP_SECONDS + 1)
    )
    submit(alice_client, HOST)
    assert Scan.objects.count() == 3


# --- Postgres restarted while a worker runs ----------------------------------------------


def test_a_task_retrying_after_a_database_error_takes_its_running_scan_back(alice, own_redis):
    # The database failed mid-scan and was still down when the task tried to
    # put its scan back in the queue: the row stays RUNNING with a fresh lease.
    (scan,) = services.scan_request(targets=[Target(HOST)], user=alice)
    assert services.scan_claim(scan_id=scan.pk) is not None

    assert services.scan_claim(scan_id=scan.pk) is None  # another message: not while leased
    retried = services.scan_claim(scan_id=scan.pk, retry=True)  # the task's own retry

    assert retried is not None and retried.status == Scan.Status.RUNNING
    assert retried.attempts == 2


def _restart_postgres() -> None:
    versions = os.listdir("/etc/postgresql")
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    wait_until(
        lambda: (
            subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False).returncode == 0
        ),
        "Postgres accepts connections",
        timeout=60,
    )


def _postgres_is_local_cluster() -> bool:
    host = urlsplit(os.environ.get("DATABASE_URL", "")).hostname
    return (
        host in ("127.0.0.1", "localhost")
        and shutil.which("pg_ctlcluster") is not None
        and Path("/etc/postgresql").is_dir()
        and len(os.listdir("/etc/postgresql")) == 1
    )


@pytest.mark.disruptive
@pytest.mark.skipif(not _postgres_is_local_cluster(), reason="needs the local Postgres cluster")
def test_scans_finish_when_postgres_restarts_under_a_running_worker(alice_client, workers):
    # Slow handshakes, so one scan is in flight while Postgres goes down.
    workers(CHAINSCAN_HANDSHAKE_TIMEOUT="10", CHAINSCAN_SCAN_TIMEOUT="20")
    with contextlib.ExitStack() as stack:
        before, slow, *after = (
            stack.enter_context(TLSServer(delay=3 if i == 1 else 0)) for i in range(5)
        )
        submit(alice_client, f"{HOST}:{before.port}")
        assert wait_for_scan(Scan.objects.get().token).status == Scan.Status.DONE

        submit(alice_client, f"{HOST}:{slow.port}")
        in_flight = Scan.objects.get(host__port=slow.port)
        wait_until(lambda: slow.connections >= 1, "the slow scan is handshaking")
        _restart_postgres()
        connection.close()  # this test process's connection died with the restart

        for server in after:
            submit(alice_client, f"{HOST}:{server.port}")
        scans = [in_flight, *Scan.objects.filter(host__port__in=[s.port for s in after])]
        finished = [wait_for_scan(s.token, timeout=60) for s in scans]

    assert [s.status for s in finished] == [Scan.Status.DONE] * 4, [s.error for s in finished]
    for scan in finished:
        assert endpoint_sets(scan) == [("127.0.0.1", False), ("127.0.0.1", True)]
