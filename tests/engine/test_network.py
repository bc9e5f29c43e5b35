"""Real handshakes through OpenSSLProber against real TLS servers on loopback.

Every server here is a ``tests.tlsserver.TLSServer`` on 127.0.0.1 or ::1; no
test connects anywhere else. Hostile servers must end in a finding code and a
sentence, within the deadline, and never in an exception.
"""

from __future__ import annotations

import os
import resource
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

from scans.engine.network import (
    OpenSSLProber,
    ProbeLimits,
    ProbeResult,
    ResolveError,
    SystemResolver,
)
from scans.engine.scan import Seams, run_scan
from scans.engine.targets import Target
from scans.engine.trust import empty_store
from tests.tlsserver import (
    HTML_NAME,
    HTML_ORG,
    SSL_MODE_NO_AUTO_CHAIN,
    TLSServer,
    free_port,
    huge_cert_chain,
    ipv6_loopback_available,
    many_certs_chain,
    mini_pki,
    self_signed,
)

LIMITS = ProbeLimits(connect_timeout=2.0, handshake_timeout=2.0)
# A failure must be reported within its timeout plus this much slack.
SLACK = 2.0

PKI = mini_pki("localhost")
OTHER = mini_pki("other.test")


def probe(
    server: TLSServer, sni: str | None = "localhost", limits: ProbeLimits = LIMITS
) -> ProbeResult:
    return OpenSSLProber().probe(server.address, server.port, sni, limits)


def names(chain: list[bytes]) -> list[str]:
    """The chain as short labels, so a failure shows the order at a glance."""
    labels = {
        PKI.leaf: "leaf",
        PKI.intermediate: "intermediate",
        PKI.root: "root",
        PKI.unrelated: "unrelated",
        OTHER.leaf: "other-leaf",
        OTHER.intermediate: "other-intermediate",
    }
    return [labels.get(der, f"?{len(der)}") for der in chain]


# -- the chain as served -------------------------------------------------------

SERVED = {
    "leaf-and-intermediate": [PKI.leaf, PKI.intermediate],
    "leaf-only": [PKI.leaf],
    "with-the-root": [PKI.leaf, PKI.intermediate, PKI.root],
    "wrong-order": [PKI.leaf, PKI.root, PKI.intermediate],
    "duplicate-intermediate": [PKI.leaf, PKI.intermediate, PKI.intermediate],
    "leaf-sent-twice": [PKI.leaf, PKI.leaf, PKI.intermediate],
    "unrelated-extra-cert": [PKI.leaf, PKI.unrelated, PKI.intermediate],
    "everything-at-once": [PKI.leaf, PKI.root, PKI.unrelated, PKI.root, PKI.intermediate],
}


@pytest.mark.parametrize("chain", SERVED.values(), ids=SERVED.keys())
def test_the_chain_comes_back_exactly_as_the_server_sent_it(chain: list[bytes]) -> None:
    with TLSServer(chain, PKI.leaf_key) as server:
        result = probe(server)
    assert result.error is None, result.error_detail
    assert names(result.chain) == names(chain)
    assert result.chain == chain


def test_openssl_would_complete_a_short_chain_unless_no_auto_chain_is_set() -> None:
    # The proof that TLSServer controls every certificate on the wire: with
    # the issuers in the server's store, OpenSSL adds them to a leaf-only
    # chain by itself once SSL_MODE_NO_AUTO_CHAIN is cleared.
    def serve_leaf_with_issuers_in_store(no_auto_chain: bool) -> list[str]:
        server = TLSServer([PKI.leaf], PKI.leaf_key)
        store = server.context.get_cert_store()
        assert store is not None
        for der in (PKI.intermediate, PKI.root):
            store.add_cert(crypto.X509.from_cryptography(x509.load_der_x509_certificate(der)))
        if not no_auto_chain:
            server.context.clear_mode(SSL_MODE_NO_AUTO_CHAIN)
        with server:
            return names(probe(server).chain)

    assert serve_leaf_with_issuers_in_store(no_auto_chain=True) == ["leaf"]
    assert serve_leaf_with_issuers_in_store(no_auto_chain=False) == [
        "leaf",
        "intermediate",
        "root",
    ]


@pytest.mark.parametrize(
    ("max_version", "expected"),
    [(None, "TLSv1.3"), (SSL.TLS1_2_VERSION, "TLSv1.2")],
    ids=["tls1.3", "tls1.2"],
)
def test_it_records_the_protocol_version_cipher_and_timings(
    max_version: int | None, expected: str
) -> None:
    with TLSServer(PKI.chain, PKI.leaf_key, max_version=max_version) as server:
        result = probe(server)
    assert result.error is None, result.error_detail
    assert result.tls_version == expected
    assert result.cipher
    assert result.connect_ms is not None and result.connect_ms >= 0
    assert result.handshake_ms is not None and result.handshake_ms > 0
    assert result.chain == PKI.chain


def test_the_server_sleeps_before_answering_when_asked_to() -> None:
    with TLSServer(PKI.chain, PKI.leaf_key, delay=0.1) as server:
        result = probe(server)
    assert result.error is None
    assert result.handshake_ms is not None and result.handshake_ms >= 90


@pytest.fixture
def sni_server() -> Iterator[TLSServer]:
    with TLSServer(
        PKI.chain, PKI.leaf_key, sni_chains={"other.test": (OTHER.chain, OTHER.leaf_key)}
    ) as server:
        yield server


def test_the_sni_name_selects_the_chain_for_that_name(sni_server: TLSServer) -> None:
    result = probe(sni_server, sni="other.test")
    assert names(result.chain) == ["other-leaf", "other-intermediate"]
    assert sni_server.wait_for_handshakes(1)
    assert sni_server.server_names[-1] == "other.test"


def test_sni_names_are_matched_without_regard_to_case(sni_server: TLSServer) -> None:
    assert probe(sni_server, sni="OTHER.test").chain == OTHER.chain


def test_a_client_without_sni_gets_the_default_chain(sni_server: TLSServer) -> None:
    result = probe(sni_server, sni=None)
    assert names(result.chain) == ["leaf", "intermediate"]
    assert sni_server.wait_for_handshakes(1)
    assert sni_server.server_names[-1] is None


def test_an_unknown_sni_name_gets_the_default_chain(sni_server: TLSServer) -> None:
    assert names(probe(sni_server, sni="unknown.test").chain) == ["leaf", "intermediate"]


@pytest.mark.skipif(not ipv6_loopback_available(), reason="this machine cannot listen on ::1")
def test_it_handshakes_over_ipv6_loopback() -> None:
    with TLSServer(PKI.chain, PKI.leaf_key, host="::1") as server:
        result = probe(server)
    assert result.error is None, result.error_detail
    assert result.chain == PKI.chain


def test_certificates_named_with_html_come_back_untouched() -> None:
    with TLSServer(mode="html-names") as server:
        result = probe(server)
    assert result.error is None
    assert result.chain == server.chain
    leaf = x509.load_der_x509_certificate(result.chain[0])
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == HTML_NAME
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == HTML_ORG


def test_one_server_answers_many_handshakes_at_once() -> None:
    # 40 clients, each answered after 0.1 s: a server that served them one
    # by one would need 4 s and the later probes would time out at 2 s.
    with TLSServer(PKI.chain, PKI.leaf_key, delay=0.1) as server:
        with ThreadPoolExecutor(max_workers=40) as pool:
            results = list(pool.map(lambda _: probe(server), range(40)))
        assert server.wait_for_handshakes(40)
        assert server.connections == 40
    assert [r.error for r in results] == [None] * 40
    assert all(r.chain == PKI.chain for r in results)


# -- servers that misbehave ----------------------------------------------------

HOSTILE = [
    # mode, finding code, words the detail must contain
    ("garbage", "not-tls", "not with TLS"),
    ("http", "not-tls", "plain HTTP port"),
    ("close", "handshake-failed", "closed the connection in the middle of the TLS handshake"),
    ("reset", "handshake-failed", "reset the connection"),
    ("stall", "timeout", "did not complete a TLS handshake within 2 s"),
    ("trickle", "timeout", "did not complete a TLS handshake within 2 s"),
    ("malformed-der", "handshake-failed", "cannot parse (malformed DER)"),
    ("huge-cert", "too-many-certs", "excessive message size"),
]


@pytest.mark.parametrize(("mode", "code", "words"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_server_ends_in_a_finding_within_the_deadline(
    mode: str, code: str, words: str
) -> None:
    with TLSServer(mode=mode) as server:
        started = time.monotonic()
        result = probe(server)
        elapsed = time.monotonic() - started
    assert (result.error, result.chain) == (code, [])
    assert result.error_detail is not None
    assert words in result.error_detail
    assert f"127.0.0.1:{server.port}" in result.error_detail
    assert elapsed < LIMITS.handshake_timeout + SLACK
    assert result.tls_version is None


def test_a_closed_port_is_a_connection_failure() -> None:
    port = free_port()
    result = OpenSSLProber().probe("127.0.0.1", port, "localhost", LIMITS)
    assert result.error == "connect-failed"
    assert result.error_detail == (
        f"127.0.0.1:{port} refused the connection: nothing listens on port {port} there"
    )


@pytest.mark.skipif(not ipv6_loopback_available(), reason="this machine cannot listen on ::1")
def test_a_closed_ipv6_port_is_named_with_brackets() -> None:
    port = free_port("::1")
    result = OpenSSLProber().probe("::1", port, None, LIMITS)
    assert result.error == "connect-failed"
    assert result.error_detail is not None and result.error_detail.startswith(f"[::1]:{port} ")


def test_a_listener_that_never_accepts_is_a_connect_timeout() -> None:
    limits = ProbeLimits(connect_timeout=1.0, handshake_timeout=1.0)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        # Fill the accept queue; Linux then drops further SYNs.
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
        try:
            started = time.monotonic()
            result = OpenSSLProber().probe("127.0.0.1", port, None, limits)
            elapsed = time.monotonic() - started
        finally:
            for filler in fillers:
                filler.close()
    if result.error == "connect-failed":
        pytest.skip("this kernel resets connections to a full accept queue")
    assert result.error == "timeout"
    assert result.error_detail == (
        f"127.0.0.1:{port} did not accept a connection within 1 s "
        "(a firewall may be dropping packets)"
    )
    assert elapsed < limits.connect_timeout + SLACK


def test_a_host_name_is_refused_because_the_prober_connects_to_checked_addresses_only() -> None:
    result = OpenSSLProber().probe("localhost", 443, "localhost", LIMITS)
    assert (result.error, result.error_detail) == (
        "connect-failed",
        "localhost is not an address",
    )


def test_two_hundred_small_certificates_fit_in_openssls_limit_and_all_come_back() -> None:
    # About 75 KB: under OpenSSL's 100 KiB cap, so the handshake succeeds and
    # the count is for the analysis to judge (too-many-certs there).
    with TLSServer(mode="many-certs") as server:
        result = probe(server)
    assert result.error is None, result.error_detail
    assert len(result.chain) == 200
    assert result.chain == server.chain


def test_two_hundred_certificates_over_100_kib_are_too_many() -> None:
    chain, key = many_certs_chain(200, padding=400)
    assert sum(map(len, chain)) > 100 * 1024
    with TLSServer(chain, key) as server:
        result = probe(server)
    assert (result.error, result.chain) == ("too-many-certs", [])
    assert "excessive message size" in (result.error_detail or "")


def test_a_chain_above_max_chain_bytes_is_refused_even_under_openssls_cap() -> None:
    limits = ProbeLimits(connect_timeout=2.0, handshake_timeout=2.0, max_chain_bytes=2048)
    chain, key = many_certs_chain(10)
    with TLSServer(chain, key) as server:
        result = probe(server, limits=limits)
    assert (result.error, result.chain) == ("too-many-certs", [])
    total = sum(map(len, chain))
    assert result.error_detail == (
        f"127.0.0.1:{server.port} sent 10 certificates ({total:,} bytes), more than the "
        "2,048 bytes chainscan accepts from one server"
    )


def test_the_huge_certificate_is_about_a_megabyte() -> None:
    chain, _key = huge_cert_chain()
    assert len(chain) == 1
    assert 900_000 < len(chain[0]) < 1_100_000


def test_it_works_in_a_process_with_more_than_1024_open_descriptors() -> None:
    # select() refuses descriptors above 1023; a busy worker has them.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the descriptor limit ({hard}) is too low to test this")
    if soft != resource.RLIM_INFINITY and soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    ballast: list[int] = []
    try:
        while not ballast or ballast[-1] < 1100:
            ballast.append(os.open(os.devnull, os.O_RDONLY))
        chain, key = self_signed()
        with TLSServer(chain, key) as server:
            result = probe(server)
    finally:
        for fd in ballast:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert result.error is None, result.error_detail
    assert result.chain == chain


# --- name lookups -------------------------------------------------------------------------


def test_the_system_resolver_finds_localhost() -> None:
    assert {"127.0.0.1", "::1"} & set(SystemResolver().resolve("localhost", 443))


def test_a_lookup_that_never_answers_ends_at_the_dns_timeout() -> None:
    """A name whose nameservers are dead: the C library would keep retrying for tens of
    seconds. The system's DNS is the one boundary these tests cannot run, so the slow
    lookup stands in for it."""

    def dead_nameservers(*args: object, **kwargs: object) -> list[tuple[object, ...]]:
        time.sleep(3)
        return []

    resolver = SystemResolver(timeout=0.3, lookup=dead_nameservers)
    started = time.monotonic()
    with pytest.raises(ResolveError, match=r"DNS did not answer for slow\.example within 0\.3 s"):
        resolver.resolve("slow.example", 443)
    assert time.monotonic() - started < 1


def test_a_scan_of_a_name_whose_dns_never_answers_ends_with_dns_failed() -> None:
    def dead_nameservers(*args: object, **kwargs: object) -> list[tuple[object, ...]]:
        time.sleep(3)
        return []

    started = time.monotonic()
    report = run_scan(
        Target("slow.example", 443),
        trust=empty_store(),
        seams=Seams(resolver=SystemResolver(timeout=0.3, lookup=dead_nameservers)),
    )
    assert time.monotonic() - started < 1
    assert [f.code for f in report.findings] == ["dns-failed"]
    assert "did not answer" in (report.error or "")


def test_a_forked_child_can_still_look_names_up() -> None:
    """Celery's prefork pool forks after the parent may have resolved names: the parent's
    lookup threads do not exist in the child, which must get threads of its own."""
    SystemResolver().resolve("localhost", 443)  # the parent now has an idle lookup thread
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the lookup works there too
        try:
            ok = bool(SystemResolver(timeout=2).resolve("localhost", 443))
        except BaseException:  # any failure is the answer
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
