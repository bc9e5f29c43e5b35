#!/usr/bin/env python3
"""Regenerate chainscan's shipped root-store data from a ``truststores`` checkout.

    python scripts/build_truststores.py [TRUSTSTORES [OUT]]
      TRUSTSTORES: a truststores checkout (default: ../shared/truststores)
      OUT: where to write (default: scans/engine/data)

Writes two files under ``scans/engine/data/``:

- ``roots.pem.gz``: every certificate any chosen snapshot names (its roots,
  and for Apple the certificates it refuses), once, as gzip'd PEM, in the
  order of the index's ``roots`` list;
- ``stores.json``: the snapshots chosen, each naming its roots by position in
  that list (small integers instead of 64-character hashes keep it ~10x smaller).

Snapshots kept: every Android release (4.4 … 13 QPR3; not the GrapheneOS
build, which is not stock Android), Mozilla one per quarter (as the source
has them) and Apple's newest release per calendar quarter plus the newest
release (the source has ~150 tags, many a few weeks apart). Re-run after
updating the truststores checkout; the test ``tests/engine/test_rootstores.py``
proves the result is whole.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

OUT = Path(__file__).resolve().parent.parent / "scans" / "engine" / "data"


def android(snapshots: list[dict]) -> list[dict]:
    out = []
    for s in snapshots:
        name = s["name"]
        if not name.startswith("Android "):
            continue  # GrapheneOS: not stock Android
        version = name.removeprefix("Android ").replace(" QPR3", "-qpr3").lower()
        out.append(
            {
                "id": version,
                "name": name,
                "date": s["date"],
                "commit": s["commit"],
                "roots": s["roots"],
            }
        )
    return out


def mozilla(snapshots: list[dict]) -> list[dict]:
    out = []
    for s in snapshots:
        # In effect from the quarter start it was taken at (the newest: its own date).
        when = s.get("quarter_start") or s["date"]
        release = s.get("certifi_release", "")
        out.append(
            {
                "id": when,
                "name": f"Mozilla {when} (certifi {release})",
                "date": when,
                "commit": s["commit"],
                "roots": s["roots"],
            }
        )
    return out


def apple(snapshots: list[dict]) -> list[dict]:
    """Apple's newest release per quarter, with the certificates Apple refuses.

    ``revoked`` ("blocked": a non-recoverable trust failure) and ``distrusted``
    ("graylisted": a failure the user may override; both fail a connection by
    default) are the SHA-256 lists of the release's ``revoked`` and
    ``distrusted`` folders. Apple dropped those folders from the source
    (``distrusted`` after 55219.140.2, ``revoked`` after 55313.140.2) without
    announcing that it trusts those certificates again (DigiNotar, the
    mis-issued TURKTRUST and CNNIC/MCS intermediates, WoSign's free SSL CA), so a
    later release carries the last lists any earlier release (of any train) had.
    """
    last: dict[str, list[str]] = {"revoked": [], "distrusted": []}
    for s in sorted(snapshots, key=lambda s: s["date"]):
        for kind in last:
            if s.get(kind) is not None:
                last[kind] = sorted(s[kind])
            s[kind + "_in_effect"] = last[kind]
    by_quarter: dict[str, dict] = {}
    for s in sorted(snapshots, key=lambda s: s["date"]):
        year, month = s["date"][:4], int(s["date"][5:7])
        by_quarter[f"{year}-Q{(month - 1) // 3 + 1}"] = s  # newest release of the quarter wins
    chosen = list(by_quarter.values())
    newest = max(snapshots, key=lambda s: s["date"])
    if newest not in chosen:
        chosen.append(newest)
    out = []
    for s in sorted(chosen, key=lambda s: s["date"]):
        tag = s["name"].removeprefix("security_certificates-")
        out.append(
            {
                "id": tag,
                "name": f"Apple {tag} ({s['date']})",
                "date": s["date"],
                "commit": s["commit"],
                "roots": s["roots"],
                "revoked": s["revoked_in_effect"],
                "distrusted": s["distrusted_in_effect"],
            }
        )
    return out


def main(argv: list[str]) -> int:
    source = (
        Path(argv[1])
        if len(argv) > 1
        else Path(__file__).resolve().parents[3] / "shared" / "truststores"
    )
    out = Path(argv[2]) if len(argv) > 2 else OUT
    platforms = {
        "android": android(json.loads((source / "android.json").read_text())["snapshots"]),
        "apple": apple(json.loads((source / "apple.json").read_text())["snapshots"]),
        "mozilla": mozilla(json.loads((source / "mozilla.json").read_text())["snapshots"]),
    }
    # Every certificate a snapshot names: its roots, and (Apple) those it refuses.
    lists = ("roots", "revoked", "distrusted")
    needed = sorted(
        {sha for snaps in platforms.values() for s in snaps for k in lists for sha in s.get(k, ())}
    )
    position = {sha: i for i, sha in enumerate(needed)}
    pem = bytearray()
    for sha in needed:
        data = (source / "certs" / f"{sha}.pem").read_bytes()
        cert = x509.load_pem_x509_certificate(data)
        if hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest() != sha:
            raise SystemExit(f"{sha}.pem does not hold the certificate its name says")
        pem += cert.public_bytes(Encoding.PEM)
    index = {
        "source": "shared/truststores (see its README): AOSP system/ca-certificates, Apple "
        "security_certificates, certifi's cacert.pem",
        "roots": needed,
        "platforms": {
            name: [
                {**s, **{k: sorted(position[h] for h in s[k]) for k in lists if k in s}}
                for s in snaps
            ]
            for name, snaps in platforms.items()
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same input gives byte-identical output (clean diffs).
    (out / "roots.pem.gz").write_bytes(gzip.compress(bytes(pem), compresslevel=9, mtime=0))
    text = json.dumps(index, separators=(",", ":"))
    (out / "stores.json").write_text(text + "\n")
    counts = {k: len(v) for k, v in platforms.items()}
    done = f"{len(needed)} certificates, snapshots {counts}; wrote {out}/roots.pem.gz, stores.json"
    print(done)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
