"""Address policy: which IP addresses the scanner may connect to.

A dashboard that connects wherever a web form says is an SSRF tool unless it
checks every address it connects to. The check runs on the *resolved* address,
right before connecting, and the caller connects to that very address (no
second lookup), so DNS rebinding gets nowhere.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges that are "global" to Python but must never be scanned from a server
# that sits inside someone's network.
_EXTRA_BLOCKED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("100.64.0.0/10"),  # CGNAT (is_global is False, but be explicit)
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")

_METADATA = (
    "the cloud metadata service (AWS, Azure, Google Cloud, Oracle, DigitalOcean, Hetzner, "
    "OpenStack…), which hands out the machine's credentials"
)
# Cloud platform and metadata endpoints: where a machine asks its provider for
# credentials, configuration or health. Refused whatever the operator allows
# (private scanning, allowed networks): no scan, issuer fetch or notification
# has any business there, and 168.63.129.16 is even a "global" address to
# Python. The one list every outgoing connection is checked against.
PLATFORM_ADDRESSES: dict[IPNetwork, str] = {
    ipaddress.ip_network(net): what
    for net, what in (
        ("169.254.169.254/32", _METADATA),
        ("169.254.170.2/32", "the AWS ECS task metadata and credentials endpoint"),
        ("169.254.169.253/32", "the AWS VPC DNS resolver"),
        ("169.254.169.123/32", "the AWS time sync service"),
        ("fd00:ec2::254/128", "the AWS instance metadata service (IPv6)"),
        ("fd00:ec2::253/128", "the AWS VPC DNS resolver (IPv6)"),
        ("fd00:ec2::123/128", "the AWS time sync service (IPv6)"),
        ("fd20:ce::254/128", "the Google Cloud metadata server (IPv6)"),
        ("168.63.129.16/32", "Azure's platform endpoint (WireServer: VM agent, DNS, health)"),
        ("100.100.100.200/32", "the Alibaba Cloud metadata service"),
        ("192.0.0.192/32", "the Oracle Cloud metadata service"),
        ("169.254.0.23/32", "the Tencent Cloud metadata service"),
        ("169.254.42.42/32", "the Scaleway metadata service"),
        ("fd00:42::42/128", "the Scaleway metadata service (IPv6)"),
    )
}


class AddressBlocked(Exception):
    """The address is not one the scanner may connect to; the message says why."""


def parse_ip(text: str) -> IPAddress | None:
    """Parse a literal address (with optional brackets and zone), else ``None``."""
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    value = value.split("%", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries: mapped, 6to4, NAT64 or Teredo."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # IPv4-compatible (deprecated ::a.b.c.d) addresses.
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def platform_address(ip: IPAddress | None) -> str | None:
    """Name the cloud platform service at ``ip`` (or the IPv4 address it embeds), else ``None``."""
    if ip is None:
        return None
    for net, what in PLATFORM_ADDRESSES.items():
        if net.version == ip.version and ip in net:
            return what
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        what_inner = platform_address(inner)
        if what_inner is not None:
            return f"{what_inner} (embedded in the IPv6 address {ip} as {inner})"
    return None


def why_not_public(ip: IPAddress) -> str | None:
    """Say why an address is not a public unicast address, or ``None`` if it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = why_not_public(inner)
            if reason:
                return f"{reason} (embedded in the IPv6 address {ip} as {inner})"
            if ip.ipv4_mapped is not None or ip in _NAT64:
                # Packets go to the public IPv4 address inside. DNS64 hands
                # out 64:ff9b::a.b.c.d for every IPv4-only host on IPv6-only
                # networks; Python calls the prefix "reserved" (::/8).
                return None
        if ip.is_site_local:
            return "a site-local address (fec0::/10, a deprecated private range)"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata services live here)"
    if ip.is_multicast:
        return "a multicast address"
    if ip == _BROADCAST:
        return "the broadcast address"
    # Reserved before private: Python counts 240/4 as private too.
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private-network address"
    if any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version):
        return "a shared or special-purpose address (CGNAT, benchmarking, NAT64)"
    if not ip.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses may be contacted.

    Attributes:
        allow_private: lift the block entirely (self-hosters scanning their own
            network; the test suite on loopback).
        allowed_networks: networks allowed even though they are not public,
            e.g. ``("10.20.0.0/16",)`` for one internal segment.
    """

    allow_private: bool = False
    allowed_networks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for net in self.allowed_networks:
            ipaddress.ip_network(net, strict=False)  # fail loudly on a typo

    def check(self, address: str) -> IPAddress:
        """Return the parsed address if it may be contacted.

        Raises:
            AddressBlocked: with a sentence a person can act on.
        """
        ip = parse_ip(address)
        if ip is None:
            raise AddressBlocked(f"{address!r} is not an IP address")
        platform = platform_address(ip)
        if platform is not None:
            raise AddressBlocked(
                f"{ip} is {platform}; chainscan never connects to cloud platform or metadata "
                "addresses, whatever the operator allows"
            )
        if self.allow_private:
            return ip
        reason = why_not_public(ip)
        if reason is None:
            return ip
        for net in self.allowed_networks:
            network = ipaddress.ip_network(net, strict=False)
            if ip.version == network.version and ip in network:
                return ip
        raise AddressBlocked(
            f"{ip} is {reason}; chainscan does not connect to such addresses unless the "
            "operator allows it (CHAINSCAN_ALLOW_PRIVATE_ADDRESSES or "
            "CHAINSCAN_ALLOWED_NETWORKS)"
        )

    def allows(self, address: str) -> bool:
        try:
            self.check(address)
        except AddressBlocked:
            return False
        return True
