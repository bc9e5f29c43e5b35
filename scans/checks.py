"""System checks for chainscan's own configuration, with stable ids and hints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def chainscan_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    anchors = settings.CHAINSCAN_TRUST_ANCHORS
    if anchors and not Path(anchors).is_file():
        problems.append(
            Error(
                f"CHAINSCAN_TRUST_ANCHORS={anchors!r} is not a readable file",
                hint="Point it at a PEM file holding your private roots, or unset it.",
                id="chainscan.E001",
            )
        )
    if settings.CHAINSCAN_ALLOW_PRIVATE_ADDRESSES and not settings.DEBUG:
        problems.append(
            Warning(
                "CHAINSCAN_ALLOW_PRIVATE_ADDRESSES is on in production: anyone who can submit a "
                "scan can make the worker connect to internal addresses.",
                hint="Prefer CHAINSCAN_ALLOWED_NETWORKS with just the networks you need.",
                id="chainscan.W001",
            )
        )
    if not settings.CHAINSCAN_REQUIRE_LOGIN and not settings.DEBUG:
        problems.append(
            Warning(
                "CHAINSCAN_REQUIRE_LOGIN is off: anyone who reaches the dashboard can scan.",
                hint="Leave it on unless the dashboard sits behind your own authentication.",
                id="chainscan.W002",
            )
        )
    if settings.BEHIND_TLS_PROXY and not settings.CHAINSCAN_TRUSTED_PROXIES:
        problems.append(
            Warning(
                "BEHIND_TLS_PROXY is on but CHAINSCAN_TRUSTED_PROXIES is empty: X-Forwarded-Proto "
                "and X-Forwarded-For are ignored, so every request looks like plain HTTP from "
                "the proxy's address.",
                hint="Set CHAINSCAN_TRUSTED_PROXIES to the address(es) your proxy connects from, "
                "e.g. 172.16.0.0/12 for a proxy reaching a Docker container.",
                id="chainscan.W004",
            )
        )
    problems += _alert_settings()
    return problems


def _alert_settings() -> list[Any]:
    base = settings.CHAINSCAN_BASE_URL
    if base and not base.lower().startswith(("https://", "http://")):
        return [
            Error(
                f"CHAINSCAN_BASE_URL={base!r} is not an http(s) URL",
                hint="Set it to the address people open chainscan at, e.g. "
                "https://chainscan.example.com",
                id="chainscan.E002",
            )
        ]
    if not base and not settings.DEBUG:
        return [
            Warning(
                "CHAINSCAN_BASE_URL is not set: links in alert messages (report, diff) cannot "
                "be absolute, so they will not open from an email or a chat.",
                hint="Set it to the address people open chainscan at, e.g. "
                "https://chainscan.example.com",
                id="chainscan.W003",
            )
        ]
    return []
