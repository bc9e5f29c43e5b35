"""Who is asking: the client's address, as seen through the operator's own proxies."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from .engine.policy import parse_ip


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address, or ``None`` if there is no believable one.

    Behind ``CHAINSCAN_PROXY_HOPS`` reverse proxies, each appends the address
    it saw to X-Forwarded-For, so the client is that many entries from the
    right. Entries further left came from the client and could say anything.
    """
    hops = settings.CHAINSCAN_PROXY_HOPS
    address = request.META.get("REMOTE_ADDR") or ""
    if hops:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    ip = parse_ip(address)
    return str(ip) if ip is not None else None
