"""Running the project's own commands in a child process, as an operator would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.tlsserver import free_port

ROOT = Path(__file__).resolve().parent.parent


def manage(env: dict[str, str], *argv: str) -> str:
    """``manage.py argv…`` with exactly ``env``; its stdout, or an error with its stderr."""
    result = subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(argv)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def newcomer_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any chainscan, Django or service setting,
    as on a newcomer's laptop, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHAINSCAN_", "DATABASE_", "CELERY_", "DJANGO_"))
        and k not in ("DEBUG", "SECRET_KEY")
    }
    env.update(extra)
    return env


@contextlib.contextmanager
def make_run(
    env: dict[str, str], log: Path, *, timeout: float = 180, args: tuple[str, ...] = ()
) -> Iterator[str]:
    """`make run` with exactly ``env`` (and make ``args``) on a free port; yields its
    base URL once it answers."""
    port = free_port()
    handle = log.open("wb")
    run = subprocess.Popen(
        ["make", "--no-print-directory", "run", "HOST=127.0.0.1", f"PORT={port}", *args],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
                break
            except OSError:
                if run.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "make run never came up:\n" + log.read_text()[-3000:]
                    ) from None
                time.sleep(0.5)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        handle.close()


@contextlib.contextmanager
def celery_beat(env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """A real `celery beat` with a one-second tick (due watches become scans
    within a second); yields the path of its log."""
    log = tmp_path / "beat.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "chainscan",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(tmp_path / "beat-schedule"),
            ],
            cwd=ROOT,
            env={**env, "CHAINSCAN_SCHEDULER_TICK": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield log
        finally:
            process.terminate()
            process.wait(timeout=20)
