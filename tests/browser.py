"""Headless Chromium for the page tests (Debian's chromium, driven by Playwright).

Without Chromium the browser tests are skipped with a visible reason; CI sets
REQUIRE_BROWSER_TESTS=1 so that a skip there is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Chromium must not phone home: this machine's network is closed, and the
# connections it tries would be refused at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        message = "Chromium is not installed (apt-get install chromium); browser tests skipped"
        if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API refuses to run inside a running asyncio loop and
    # Django refuses sync DB calls inside one: keep them apart.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        # Playwright gives every context a fresh, empty profile of its own.
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def sign_in(page, live_server, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/login")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    # Home, or the overview for a team that watches hosts.
    page.wait_for_url(lambda url: url.startswith(live_server.url) and "/login" not in url)


# --- Accessibility and layout audit -----------------------------------------------
# axe-core comes from the npm registry, pinned, installed once into the venv
# (never committed). Every page test runs it with every <details> open, at a
# desktop and a phone width, and in the dark theme: no violation of any impact.

AXE_VERSION = "4.10.3"
AXE_DIR = Path(__file__).resolve().parent.parent / ".venv" / f"axe-core-{AXE_VERSION}"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1280, 390)


def axe_source() -> str:
    """axe-core's script, installing the pinned version with npm on first use."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            message = "npm is not installed (apt-get install npm); accessibility audit impossible"
            if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
                pytest.fail(message)
            pytest.skip(message)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(AXE_DIR),
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                f"axe-core@{AXE_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return AXE_JS.read_text()


@dataclass
class Audit:
    """What the audit found on one page at one width and colour scheme."""

    where: str
    violations: list[dict[str, object]]
    overflow: int


def audit(page, url: str, *, ready: str = "main") -> list[Audit]:  # type: ignore[no-untyped-def]
    """Open ``url`` at each width (and once in the dark theme); run axe-core with
    every <details> expanded; measure horizontal overflow."""
    source = axe_source()
    results: list[Audit] = []
    for width, scheme in [*((w, "light") for w in WIDTHS), (WIDTHS[-1], "dark")]:
        page.set_viewport_size({"width": width, "height": 900})
        page.emulate_media(color_scheme=scheme)
        page.goto(url)
        page.wait_for_selector(ready)
        page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(source)
        violations = page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations.map((v) => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' :: ' + n.failureSummary),
                }));
            }"""
        )
        results.append(Audit(f"{url} at {width} px, {scheme}", violations, overflow))
    return results


def assert_clean(results: list[Audit]) -> None:
    problems = [
        f"{a.where}: {v['id']} ({v['impact']}): {v['help']} {v['nodes']}"
        for a in results
        for v in a.violations
    ] + [f"{a.where}: scrolls sideways by {a.overflow} px" for a in results if a.overflow > 0]
    assert problems == [], "\n".join(problems)
