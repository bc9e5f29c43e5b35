"""What a worker runs with when nobody passes it flags, and the name overrides it resolves with."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scans.engine.network import ResolveError, StaticResolver
from tests.test_faults import RedisServer, broker_at

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.worker
def test_a_plain_celery_worker_runs_scans_in_16_threads(tmp_path):
    """`celery -A chainscan worker` with no flags takes pool and concurrency from the settings.

    It gets a Redis of its own, so its control replies cannot mix with the
    session's worker (both are called celery@<hostname>).
    """
    from chainscan.celery import app

    broker = RedisServer(tmp_path)
    broker.start()
    log = tmp_path / "worker.log"
    env = {**os.environ, "CELERY_BROKER_URL": broker.url, "PYTHONPATH": str(ROOT)}
    worker: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "chainscan", "worker"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        with broker_at(broker.url):
            stats: dict[str, dict[str, object]] = {}
            deadline = time.monotonic() + 60
            while not stats and time.monotonic() < deadline and worker.poll() is None:
                stats = app.control.inspect(timeout=1).stats() or {}
        assert stats, log.read_text()
        (pool,) = (s["pool"] for s in stats.values())
        assert pool["implementation"] == "celery.concurrency.thread:TaskPool"
        assert pool["max-concurrency"] == 16
        # The banner says the same to whoever reads the worker's output.
        assert "concurrency: 16 (thread)" in log.read_text()
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        broker.stop()


def _resolve_with(overrides: str, *names: str) -> subprocess.CompletedProcess[str]:
    """Resolve ``names`` in a fresh process configured with CHAINSCAN_RESOLVE_OVERRIDES."""
    code = (
        "from scans import scanning\n"
        "for name in " + repr(names) + ":\n"
        "    print(name, ','.join(scanning.resolver().resolve(name, 443)))\n"
    )
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**os.environ, "CHAINSCAN_RESOLVE_OVERRIDES": overrides},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_wildcard_override_pins_every_name_below_it_and_exact_names_win():
    result = _resolve_with(
        "*.bench.test=127.0.0.2;*.s1.bench.test=127.0.0.3|127.0.0.4;exact.bench.test=127.0.0.9",
        "h0001.bench.test",
        "h0002.s1.bench.test",
        "exact.bench.test",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-4:-1] == [
        "h0001.bench.test 127.0.0.2",
        "h0002.s1.bench.test 127.0.0.3,127.0.0.4",  # the longer wildcard wins
        "exact.bench.test 127.0.0.9",
    ]


def test_a_wildcard_anywhere_but_the_first_label_refuses_to_boot():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "CHAINSCAN_RESOLVE_OVERRIDES": "h*.bench.test=127.0.0.2"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "CHAINSCAN_RESOLVE_OVERRIDES" in result.stderr
    assert "wildcard is only allowed as the whole first label" in result.stderr


def test_a_wildcard_does_not_answer_for_the_name_it_sits_under():
    resolver = StaticResolver({"*.bench.test": ["127.0.0.2"]})

    assert resolver.resolve("A.Bench.Test", 443) == ["127.0.0.2"]
    with pytest.raises(ResolveError):
        resolver.resolve("bench.test", 443)
    with pytest.raises(ResolveError):
        resolver.resolve("notbench.test", 443)
