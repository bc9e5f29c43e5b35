"""How long does splitting hostile PEM take? (``read_bundle``, used by /check and AIA bodies)

Run: ``.venv/bin/python bench/bench_pem.py [KiB] [runs]``  (default 512 KiB per input, 3 runs)

Each input is built to hurt a parser that, for every BEGIN line, looks ahead
to the end of the text for its END line (quadratic time):

- many BEGIN lines and no END at all;
- nested BEGIN lines closed by one END at the very end;
- one BEGIN followed by a huge base64 blob that never ends;
- many BEGIN PKCS7 lines without END;
- a real 10-certificate bundle, repeated up to the size (the honest case).

The parser must stay linear: time per KiB roughly constant as the size grows.
Prints the median of a few runs per input and the per-KiB cost; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scans.engine.certs import BundleError, pem_bundle, read_bundle

BEGIN = b"-----BEGIN CERTIFICATE-----\n"
END = b"-----END CERTIFICATE-----\n"


def _fill(unit: bytes, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


def _real_bundle() -> bytes:
    from tests import pki

    root = pki.root("Bench PEM Root")
    chain = [root]
    for i in range(8):
        chain.append(pki.intermediate(f"Bench PEM CA {i}", chain[-1]))
    leaf = pki.leaf("pem.bench.test", chain[-1])
    from scans.engine.certs import describe

    return pem_bundle([describe(c.der) for c in [leaf, *reversed(chain)]]).encode()


def inputs(size: int) -> dict[str, bytes]:
    line = b"QUJDRA" * 10 + b"\n"
    return {
        "BEGIN lines, no END": _fill(BEGIN, size),
        "nested BEGINs, one END": _fill(BEGIN + line, size - len(END)) + END,
        "one BEGIN, huge base64, no END": BEGIN + _fill(line, size - len(BEGIN)),
        "BEGIN PKCS7 lines, no END": _fill(b"-----BEGIN PKCS7-----\n", size),
        "real 10-cert bundles, repeated": _fill(_real_bundle(), size),
    }


def _time(data: bytes) -> float:
    started = time.perf_counter()
    try:
        read_bundle(data)
    except BundleError:
        pass
    return time.perf_counter() - started


def main() -> None:
    kib = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"read_bundle on hostile PEM, {kib} KiB per input (median of {count} runs)")
    for name, data in inputs(kib * 1024).items():
        runs = [_time(data) for _ in range(count)]
        median = statistics.median(runs)
        per_kib = median / (len(data) / 1024) * 1e6
        print(
            f"  {name:34} {len(data) / 1024:7.0f} KiB  {median * 1000:10.1f} ms  {per_kib:8.1f} µs/KiB"
        )


if __name__ == "__main__":
    main()
