"""The engine is a library of its own: importing all of it must not import Django."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import scans.engine

ROOT = Path(__file__).resolve().parent.parent


def test_the_engine_imports_no_django() -> None:
    modules = [f"scans.engine.{m.name}" for m in pkgutil.iter_modules(scans.engine.__path__)]
    assert "scans.engine.analysis" in modules and "scans.engine.scan" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(leaked)\n"
        "sys.exit(1 if leaked else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"engine imported Django: {result.stdout}{result.stderr}"
