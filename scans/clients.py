"""Who is asking: the client's address, as seen through the operator's own proxies."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest

from .engine.policy import parse_ip

# Headers only a reverse proxy may write. From any other peer they are dropped
# (scans.middleware.TrustedProxyMiddleware) before Django or a view reads them.
FORWARDED_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_FORWARDED",
)


@functools.lru_cache(maxsize=8)
def _networks(cidrs: Sequence[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def from_trusted_proxy(request: HttpRequest) -> bool:
    """Whether the immediate peer (REMOTE_ADDR) is one of CHAINSCAN_TRUSTED_PROXIES."""
    peer = parse_ip(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return any(peer in net for net in _networks(tuple(settings.CHAINSCAN_TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address, or ``None`` if there is no believable one.

    Behind ``CHAINSCAN_PROXY_HOPS`` reverse proxies, each appends the address
    it saw to X-Forwarded-For, so the client is that many entries from the
    right. Entries further left came from the client and could say anything,
    and so does the whole header when the peer is not a trusted proxy: someone
    reaching the app's port directly is the client, whatever it writes.
    """
    hops = settings.CHAINSCAN_PROXY_HOPS
    address = request.META.get("REMOTE_ADDR") or ""
    if hops and from_trusted_proxy(request):
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    ip = parse_ip(address)
    return str(ip) if ip is not None else None
