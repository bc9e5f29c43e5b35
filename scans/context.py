"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def chainscan(request: HttpRequest) -> dict[str, object]:
    return {
        "require_login": settings.CHAINSCAN_REQUIRE_LOGIN,
        "allow_private": settings.CHAINSCAN_ALLOW_PRIVATE_ADDRESSES,
    }
