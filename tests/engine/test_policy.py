"""The address policy: chainscan connects to public addresses only, unless the operator says so.

Public addresses here are only strings; no test connects to them.
"""

from __future__ import annotations

import pytest

from scans.engine.network import ProbeLimits, ProbeResult, StaticResolver
from scans.engine.policy import (
    AddressBlocked,
    AddressPolicy,
    parse_ip,
    platform_address,
    why_not_public,
)
from scans.engine.scan import ScanConfig, Seams, run_scan
from scans.engine.targets import Target
from scans.engine.trust import empty_store

# (address, words the reason must contain: one string or several)
BLOCKED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("[::1]", "loopback"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.0.1", "private"),
    ("192.168.255.255", "private"),
    ("169.254.169.254", "metadata"),
    ("169.254.0.1", "link-local"),
    ("100.64.0.1", "cgnat"),
    ("100.127.255.254", "cgnat"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("254.1.2.3", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("0.1.2.3", "private"),
    ("192.0.0.8", "special-purpose"),
    # Benchmarking, documentation and discard-only ranges: blocked, whatever
    # Python's tables call them ("" checks only that they are blocked).
    ("198.18.0.1", ""),
    ("192.0.2.1", ""),
    ("2001:db8::1", ""),
    (
        "::ffff:127.0.0.1",
        ("loopback address", "embedded in the ipv6 address", "as 127.0.0.1)"),
    ),
    (
        "::ffff:10.0.0.1",
        ("private-network address", "embedded in the ipv6 address", "as 10.0.0.1)"),
    ),
    (
        "::ffff:169.254.169.254",
        ("metadata service", "embedded in the ipv6 address", "as 169.254.169.254)"),
    ),
    ("::127.0.0.1", ("loopback address", "embedded in the ipv6 address", "as 127.0.0.1)")),
    ("2002:7f00:1::", ("loopback address", "embedded in the ipv6 address", "as 127.0.0.1)")),
    (
        "2002:a9fe:a9fe::1",
        ("metadata service", "embedded in the ipv6 address", "as 169.254.169.254)"),
    ),
    (
        "64:ff9b::a00:1",
        ("private-network address", "embedded in the ipv6 address", "as 10.0.0.1)"),
    ),
    (
        "64:ff9b::7f00:1",
        ("loopback address", "embedded in the ipv6 address", "as 127.0.0.1)"),
    ),
    ("64:ff9b:1::808:808", ""),  # local-use NAT64
    # Teredo: server 65.54.227.120, client 127.0.0.1 (stored inverted).
    (
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        ("loopback address", "embedded in the ipv6 address", "as 127.0.0.1)"),
    ),
    # Teredo to a public client: the 2001::/32 prefix itself is not global.
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", ""),
    ("fc00::1", "private"),
    ("fd12:3456:789a::1", "private"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fec0::1", "site-local"),
    ("100::1", ""),
]


@pytest.mark.parametrize(("address", "words"), BLOCKED, ids=[b[0] for b in BLOCKED])
def test_it_blocks_an_address_that_is_not_public_and_says_what_it_is(
    address: str, words: str | tuple[str, ...]
) -> None:
    with pytest.raises(AddressBlocked) as blocked:
        AddressPolicy().check(address)
    message = str(blocked.value).lower()
    for word in (words,) if isinstance(words, str) else words:
        assert word in message
    platform = platform_address(parse_ip(address)) is not None
    assert ("chainscan_allow_private_addresses" in message) is not platform


PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",  # just past 172.16/12
    "100.128.0.1",  # just past 100.64/10
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "[2606:4700:4700::1111]",
    "64:ff9b::808:808",  # DNS64's form of 8.8.8.8 on an IPv6-only network
    "::ffff:8.8.8.8",
    "2002:808:808::1",  # 6to4 around 8.8.8.8
]


@pytest.mark.parametrize("address", PUBLIC)
def test_it_allows_a_public_address(address: str) -> None:
    ip = AddressPolicy().check(address)
    assert ip == parse_ip(address)
    assert why_not_public(ip) is None
    assert AddressPolicy().allows(address)


@pytest.mark.parametrize("address", ["example.com", "127.1", "2130706433", "", "::g"])
def test_it_refuses_anything_but_an_ip_address(address: str) -> None:
    with pytest.raises(AddressBlocked, match="is not an IP address"):
        AddressPolicy(allow_private=True).check(address)


@pytest.mark.parametrize(
    "address", [b[0] for b in BLOCKED if platform_address(parse_ip(b[0])) is None] + PUBLIC
)
def test_allow_private_lifts_every_block_but_the_cloud_platforms(address: str) -> None:
    policy = AddressPolicy(allow_private=True)
    assert policy.check(address) == parse_ip(address)


INTERNAL = AddressPolicy(allowed_networks=("10.20.0.0/16", "fd00:1::/32"))


@pytest.mark.parametrize(
    "address", ["10.20.0.1", "10.20.255.254", "fd00:1::5", "8.8.8.8", "2606:4700:4700::1111"]
)
def test_allowed_networks_let_their_own_addresses_through(address: str) -> None:
    assert INTERNAL.allows(address)


@pytest.mark.parametrize(
    "address",
    [
        "10.21.0.1",
        "10.0.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "fd00:2::5",
        "::1",
        "::ffff:10.20.0.1",  # the mapped form is not the allowed IPv4 network
    ],
)
def test_allowed_networks_let_nothing_else_through(address: str) -> None:
    assert not INTERNAL.allows(address)
    with pytest.raises(AddressBlocked):
        INTERNAL.check(address)


def test_a_typo_in_allowed_networks_fails_when_the_policy_is_made() -> None:
    with pytest.raises(ValueError, match=r"10\.20\.0\.0/33"):
        AddressPolicy(allowed_networks=("10.20.0.0/33",))


def test_a_host_route_in_allowed_networks_allows_that_one_address() -> None:
    policy = AddressPolicy(allowed_networks=("10.1.2.3",))
    assert policy.allows("10.1.2.3")
    assert not policy.allows("10.1.2.4")


def test_the_metadata_address_is_explained_in_words_a_person_can_act_on() -> None:
    with pytest.raises(AddressBlocked) as blocked:
        AddressPolicy().check("169.254.169.254")
    assert str(blocked.value).startswith("169.254.169.254 is the cloud metadata service")
    assert "credentials" in str(blocked.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        (" 10.0.0.1 ", "10.0.0.1"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25en0]", "fe80::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("example.com", None),
        ("127.1", None),
        ("", None),
    ],
)
def test_parse_ip_reads_literal_addresses_only(text: str, expected: str | None) -> None:
    ip = parse_ip(text)
    assert (str(ip) if ip is not None else None) == expected


# Cloud platform and metadata endpoints: (address, words naming the platform).
PLATFORM = [
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "aws"),
    ("169.254.170.2", "aws"),
    ("fd20:ce::254", "google"),
    ("168.63.129.16", "azure"),
    ("100.100.100.200", "alibaba"),
    ("192.0.0.192", "oracle"),
    ("169.254.0.23", "tencent"),
    # Embedded forms reach the same service.
    ("::ffff:168.63.129.16", "azure"),
    ("::ffff:169.254.169.254", "metadata"),
    ("64:ff9b::a83f:8110", "azure"),  # NAT64 of 168.63.129.16
]
OPEN_POLICIES = [
    AddressPolicy(),
    AddressPolicy(allow_private=True),
    AddressPolicy(allowed_networks=("0.0.0.0/0", "::/0")),
]


@pytest.mark.parametrize(("address", "words"), PLATFORM, ids=[p[0] for p in PLATFORM])
@pytest.mark.parametrize("policy", OPEN_POLICIES, ids=["default", "private", "everything"])
def test_cloud_platform_addresses_are_refused_whatever_the_operator_allows(
    address: str, words: str, policy: AddressPolicy
) -> None:
    with pytest.raises(AddressBlocked) as blocked:
        policy.check(address)
    message = str(blocked.value).lower()
    assert words in message
    assert "never" in message
    assert not policy.allows(address)


def test_azure_wireserver_is_refused_though_python_calls_it_global() -> None:
    ip = parse_ip("168.63.129.16")
    assert ip is not None and ip.is_global
    assert not AddressPolicy().allows("168.63.129.16")


@pytest.mark.parametrize("address", ["168.63.129.17", "100.100.100.201", "8.8.8.8"])
def test_neighbours_of_platform_addresses_are_not_platform_addresses(address: str) -> None:
    assert platform_address(parse_ip(address)) is None


class RecordingProber:
    """A prober that notes every address it is asked to connect to."""

    def __init__(self) -> None:
        self.addresses: list[str] = []

    def probe(self, address: str, port: int, sni: str | None, limits: ProbeLimits) -> ProbeResult:
        self.addresses.append(address)
        return ProbeResult(error="connect-failed", error_detail="refused")


def test_a_scan_never_connects_to_a_platform_address_even_with_private_scanning_allowed() -> None:
    prober = RecordingProber()
    seams = Seams(
        resolver=StaticResolver({"wire.test": ["168.63.129.16", "127.0.0.1"]}), prober=prober
    )

    report = run_scan(
        Target("wire.test", 443),
        trust=empty_store(),
        config=ScanConfig(policy=AddressPolicy(allow_private=True)),
        seams=seams,
    )

    assert "168.63.129.16" not in prober.addresses
    blocked = [e for e in report.endpoints if e.address == "168.63.129.16"]
    assert [f.code for f in blocked[0].findings] == ["address-blocked"]
    assert "azure" in blocked[0].findings[0].detail.lower()
