"""The `chainscan` command: the engine in-process, no database, no broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scans.engine.certs import describe, pem_bundle
from scans.engine.cli import main
from tests.tlsserver import TLSServer, free_port, mini_pki, self_signed

HOST = "localhost"


@pytest.fixture(scope="module")
def pki():  # type: ignore[no-untyped-def]
    return mini_pki(HOST)


@pytest.fixture
def root_file(tmp_path: Path, pki) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "root.pem"
    path.write_text(pem_bundle([describe(pki.root)]))
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_good_chain_exits_zero_and_names_the_certificates(capsys, pki, root_file):
    with TLSServer(pki.chain, pki.leaf_key) as server:
        code, out, _ = run(
            capsys,
            "scan",
            f"{HOST}:{server.port}",
            "--ip",
            "127.0.0.1",
            "--allow-private",
            "--ca-file",
            str(root_file),
            "--no-aia",
        )
    assert code == 0, out
    assert "— OK" in out
    assert "chainscan test intermediate" in out
    assert "127.0.0.1" in out


def test_json_output_is_the_report_with_served_and_expected_chains(capsys, pki, root_file):
    with TLSServer([pki.leaf], pki.leaf_key) as server:
        code, out, _ = run(
            capsys,
            "scan",
            f"{HOST}:{server.port}",
            "--ip",
            "127.0.0.1",
            "--allow-private",
            "--ca-file",
            str(root_file),
            "--json",
            "--no-aia",
        )
    report = json.loads(out)
    assert code == 1  # the intermediate is missing: a problem
    assert report["host"] == HOST and report["port"] == server.port
    endpoint = report["endpoints"][0]
    assert endpoint["address"] == "127.0.0.1" and endpoint["sni"] == HOST
    assert [c["sha256"] for c in endpoint["served"]] == [describe(pki.leaf).sha256]
    assert {f["code"] for f in endpoint["findings"]} >= {"incomplete-chain"}
    for field in (
        "sha256",
        "subject",
        "issuer",
        "serial",
        "not_before",
        "not_after",
        "spki_sha256",
        "ski",
        "aki",
    ):
        assert field in endpoint["served"][0]


def test_ip_sends_the_host_name_as_sni_to_the_pinned_address(capsys, pki, root_file):
    other, other_key = self_signed("other.example")
    with TLSServer(
        other, other_key, host="127.0.0.2", sni_chains={HOST: (pki.chain, pki.leaf_key)}
    ) as server:
        _, out, _ = run(
            capsys,
            "scan",
            f"{HOST}:{server.port}",
            "--ip",
            "127.0.0.2",
            "--allow-private",
            "--ca-file",
            str(root_file),
            "--json",
            "--no-aia",
        )
    report = json.loads(out)
    with_sni = [e for e in report["endpoints"] if e["sni"] == HOST]
    assert with_sni[0]["address"] == "127.0.0.2"
    assert with_sni[0]["served"][0]["sha256"] == describe(pki.leaf).sha256


def test_loopback_is_refused_without_allow_private(capsys):
    code, out, _ = run(capsys, "scan", "127.0.0.1:443", "--json")
    report = json.loads(out)
    assert code == 2
    assert report["endpoints"][0]["findings"][0]["code"] == "address-blocked"
    assert "loopback" in report["error"]


def test_a_blocked_address_reads_could_not_scan_not_broken(capsys):
    code, out, _ = run(capsys, "scan", "127.0.0.1:443")
    assert code == 2
    assert out.splitlines()[0] == "chainscan report for 127.0.0.1 — COULD NOT SCAN"
    assert "— could not scan" in out
    assert "BROKEN" not in out and "— broken" not in out


def test_a_refused_connection_exits_two_with_the_reason(capsys):
    code, out, _ = run(
        capsys, "scan", f"{HOST}:{free_port()}", "--ip", "127.0.0.1", "--allow-private"
    )
    assert code == 2
    assert "refused the connection" in out


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "exa mple.com"],
        ["scan", "example.com:70000"],
        ["scan", "example.com", "--ip", "not-an-ip"],
        ["check", "/nonexistent/chain.pem"],
        ["frobnicate"],
    ],
)
def test_bad_usage_exits_two_with_a_message(capsys, args):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert err.strip()


def test_check_reads_a_pem_bundle_and_reports_like_a_scan(capsys, tmp_path, pki, root_file):
    bundle = tmp_path / "chain.pem"
    bundle.write_text(pem_bundle([describe(pki.leaf), describe(pki.intermediate)]))
    code, out, _ = run(
        capsys, "check", str(bundle), "--host", HOST, "--ca-file", str(root_file), "--json"
    )
    assert code == 0, out
    endpoint = json.loads(out)["endpoints"][0]
    assert [c["subject"] for c in endpoint["expected"]][1].endswith(
        "CN=chainscan test intermediate"
    )


def test_check_at_a_future_date_reports_the_expiry(capsys, tmp_path, pki, root_file):
    bundle = tmp_path / "chain.der"
    bundle.write_bytes(pki.leaf)  # DER works too
    code, out, _ = run(
        capsys,
        "check",
        str(bundle),
        "--host",
        HOST,
        "--ca-file",
        str(root_file),
        "--at",
        "2040-01-01",
        "--json",
    )
    codes = {f["code"] for f in json.loads(out)["endpoints"][0]["findings"]}
    assert code == 1
    assert "leaf-expired" in codes


def test_the_console_script_is_installed_and_runs():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "chainscan"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "scan" in result.stdout and "check" in result.stdout
