"""Running the project's own commands in a child process, as an operator would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
