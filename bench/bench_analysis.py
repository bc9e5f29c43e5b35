"""How much does ``analyse`` cost on top of the verifier it wraps?

Run: ``.venv/bin/python bench/bench_analysis.py [iterations]``

Builds a private PKI (RSA-2048 root and intermediate, as most public CAs
still use, and an EC P-256 leaf), adds its root to the Mozilla store with
``store_with_extra`` so the store is realistic in size, and prints medians:

- the bare verifier call (``PolicyBuilder…build_server_verifier().verify``),
  which ``analyse`` cannot go below;
- ``analyse`` of the served leaf + intermediate (a 3-certificate chain with
  the root), warm (intermediates already parsed, as in a worker that has seen
  them before) and cold (every certificate parsed from scratch);
- ``analyse`` of a leaf served alone, with the intermediate in the issuer
  source: the slower diagnosis path (several verifier calls and a graph walk).

Every analysis includes the per-platform verdicts (Android 4.4 … 13, Apple,
Windows, Firefox, OpenSSL 1.0/1.1 from the shipped root stores). Two real
chains show their cost where it is highest, and "platforms off" the same
analysis without them:

- the long Let's Encrypt chain of December 2021 (tests/data), judged as of
  2021-12-01: RSA-4096 signatures, and Android accepting through the expired
  DST Root CA X3 (a second verifier call);
- gnu.org's 2017 chain serving Authority X1 for an X3 certificate (every
  strict platform rejects, so each explains why).

Target: warm analysis within 5x of the verifier alone; with all platforms,
under 5 ms per endpoint. This is a measurement, not a test: nothing here
asserts a time.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder

from scans.engine import analysis
from scans.engine.analysis import MemoryIssuerSource, analyse
from scans.engine.certs import read_bundle
from scans.engine.rootstores import dated_store
from scans.engine.trust import mozilla_store, store_with_extra

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"

HOST = "bench.example.com"
NOW = dt.datetime.now(dt.UTC)


def _cert(
    cn: str,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None,
    *,
    ca: bool,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_name, signer = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=30))
        .not_valid_after(NOW + dt.timedelta(days=60 if not ca else 3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, not ca, False, False, ca, ca, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False
        )
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def medians_us(
    variants: dict[str, tuple[Callable[[], object], Callable[[], object] | None]], iterations: int
) -> dict[str, float]:
    """Median time of each variant, in microseconds.

    The variants run interleaved (one of each per round) so that a busy
    machine slows them all alike and the ratios stay meaningful.
    """
    for fn, _ in variants.values():  # warm up caches and the allocator
        for _ in range(min(50, iterations)):
            fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(iterations):
        for name, (fn, before) in variants.items():
            if before is not None:
                before()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e6 for name, t in times.items()}


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("Bench Root CA", root_key, None, ca=True)
    inter = _cert("Bench Issuing CA", inter_key, (root.subject, root_key), ca=True)
    leaf = _cert(HOST, leaf_key, (inter.subject, inter_key), ca=False)
    der = [c.public_bytes(serialization.Encoding.DER) for c in (leaf, inter)]

    load_start = time.perf_counter()
    mozilla = mozilla_store()
    load_ms = (time.perf_counter() - load_start) * 1e3
    store = store_with_extra(
        mozilla, root.public_bytes(serialization.Encoding.PEM), "bench private root"
    )
    roots = store.store
    assert roots is not None

    def bare() -> object:
        builder = PolicyBuilder().store(roots).time(NOW)
        return builder.build_server_verifier(x509.DNSName(HOST)).verify(leaf, [inter])

    def full() -> object:
        return analyse(der, hostname=HOST, trust=store, at=NOW)

    source = MemoryIssuerSource([der[1]])

    def gap() -> object:
        return analyse(der[:1], hostname=HOST, trust=store, at=NOW, issuers=source)

    result = full()
    assert result.verdict.value == "ok", [f.code for f in result.findings]  # type: ignore[attr-defined]

    long_chain = read_bundle((DATA / "le-2021-long-chain.pem").read_bytes())
    december = dt.datetime(2021, 12, 1, tzinfo=dt.UTC)
    store_2021 = dated_store("mozilla", december)
    gnu, _x3, x1 = read_bundle((DATA / "le-2017-x1-x3.pem").read_bytes())
    october = dt.datetime(2017, 10, 15, tzinfo=dt.UTC)
    store_2017 = dated_store("mozilla", october)

    def long_2021() -> object:
        return analyse(long_chain, hostname="dot.ouestline.xyz", trust=store_2021, at=december)

    def x1_x3() -> object:
        return analyse([gnu, x1], hostname="gnu.org", trust=store_2017, at=october)

    real_judge = analysis.platform_judge.judge

    def without_platforms(fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            analysis.platform_judge.judge = lambda *a, **k: ()  # type: ignore[assignment]
            try:
                return fn()
            finally:
                analysis.platform_judge.judge = real_judge

        return run

    platforms = len(long_2021().platforms)  # type: ignore[attr-defined]

    medians = medians_us(
        {
            "verifier": (bare, None),
            "warm": (full, None),
            "cold": (full, analysis._parse.cache_clear),
            "gap": (gap, None),
            "long": (long_2021, None),
            "long-off": (without_platforms(long_2021), None),
            "x1x3": (x1_x3, None),
            "x1x3-off": (without_platforms(x1_x3), None),
        },
        iterations,
    )
    verifier_us, warm_us, cold_us, gap_us = (
        medians[k] for k in ("verifier", "warm", "cold", "gap")
    )

    print(
        f"trust store: {store.name}, {len(store)} anchors (Mozilla store loaded in {load_ms:.1f} ms, once)"
    )
    print(f"iterations: {iterations}, medians in microseconds")
    print(f"  verifier alone (build + verify, 3-cert chain) {verifier_us:8.1f}")
    print(
        f"  analyse, warm (intermediate parsed before)    {warm_us:8.1f}  {warm_us / verifier_us:4.2f}x"
    )
    print(
        f"  analyse, cold (every certificate parsed)      {cold_us:8.1f}  {cold_us / verifier_us:4.2f}x"
    )
    print(
        f"  analyse, leaf alone + issuer source (broken)  {gap_us:8.1f}  {gap_us / verifier_us:4.2f}x"
    )
    print(f"  analysis overhead beyond the verifier (warm)  {warm_us - verifier_us:8.1f}")
    verdict = "within" if warm_us <= 5 * verifier_us else "OVER"
    print(f"target: warm analysis within 5x of the verifier: {verdict}")
    print(f"with all {platforms} platforms (real chains, judged as of their date):")
    worst = 0.0
    for key, label in (("long", "2021 long LE chain"), ("x1x3", "2017 X1 served for X3")):
        on, off = medians[key], medians[key + "-off"]
        worst = max(worst, on)
        print(f"  {label:<24} {on:8.1f} (platforms off {off:8.1f}, platforms {on - off:7.1f})")
    verdict = "within" if worst <= 5000 else "OVER"
    print(f"target: under 5 ms per endpoint with all platforms: {verdict}")


if __name__ == "__main__":
    main()
