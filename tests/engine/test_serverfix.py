"""The fix written for the admin's own server, from the real 2017 X1/X3 chain of gnu.org."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from scans.engine.analysis import MemoryIssuerSource, analyse
from scans.engine.certs import describe, read_bundle
from scans.engine.report import EndpointReport
from scans.engine.rootstores import dated_store
from scans.engine.serverfix import SERVERS, detect, fix_for, needs_fix
from scans.engine.trust import build_store
from tests import pki

DATA = Path(__file__).resolve().parents[1] / "data"
GNU_2017, LE_X3, LE_X1 = read_bundle((DATA / "le-2017-x1-x3.pem").read_bytes())
OCT_2017 = dt.datetime(2017, 10, 15, tzinfo=dt.UTC)


def thumb(der: bytes) -> str:
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def endpoint(
    served: list[bytes],
    *,
    known: list[bytes],
    host: str = "gnu.org",
    server: str | None = None,
    trust=None,
    at=OCT_2017,
) -> EndpointReport:  # type: ignore[no-untyped-def]
    result = analyse(
        served,
        hostname=host,
        trust=trust or dated_store("mozilla", at),
        at=at,
        issuers=MemoryIssuerSource(known),
    )
    return result.apply(EndpointReport(address="192.0.2.7", port=443, sni=host, server=server))


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("Microsoft-IIS/10.0", "iis"),
        ("Microsoft-HTTPAPI/2.0", "iis"),
        ("nginx/1.18.0 (Ubuntu)", "nginx"),
        ("Apache/2.4.7 (Ubuntu)", "apache"),
        ("Apache-Coyote/1.1", "java"),
        ("cloudflare", "cloudflare"),
        ("awselb/2.0", "aws"),
        ("", None),
        (None, None),
        ("<script>", None),
    ],
)
def test_the_server_header_names_the_server(header: str | None, kind: str | None) -> None:
    assert detect(header) == kind


def test_the_iis_fix_names_the_wrong_and_the_right_intermediate_by_thumbprint() -> None:
    ep = endpoint([GNU_2017, LE_X1], known=[LE_X3], server="Microsoft-IIS/8.5")
    assert needs_fix(ep)
    fix = fix_for("iis", ep, detected=True)
    text = fix.summary + "\n".join(s.text + "\n" + s.code for s in fix.steps)
    assert thumb(LE_X1) in text and thumb(LE_X3) in text
    assert describe(LE_X1).sha256 in text and describe(LE_X3).sha256 in text
    assert "same key" in fix.summary and "Let's Encrypt Authority X1" in fix.summary
    for needle in (
        "Cert:\\LocalMachine, Cert:\\CurrentUser",
        "Remove-Item",
        "Cert:\\LocalMachine\\CA",
        "certutil -urlcache * delete",
        "net stop http /y",
        "-----BEGIN CERTIFICATE-----",
        "service account",
    ):
        assert needle in text, needle


def test_the_iis_advice_stays_when_chainscan_does_not_know_the_right_intermediate() -> None:
    ep = endpoint([GNU_2017, LE_X1], known=[])
    fix = fix_for("iis", ep)
    text = "\n".join(s.text + "\n" + s.code for s in fix.steps)
    assert thumb(LE_X1) in text and "net stop http /y" in text and "Import-Certificate" in text


def test_every_server_gets_a_fix_with_the_intermediate_to_serve() -> None:
    ep = endpoint([GNU_2017, LE_X1], known=[LE_X3])
    for kind, label in SERVERS:
        fix = fix_for(kind, ep)
        assert fix.label == label and fix.steps, kind
    nginx = fix_for("nginx", ep)
    assert "ssl_certificate" in "\n".join(s.code for s in nginx.steps)
    assert any(thumb(LE_X3) in s.text for s in nginx.steps)


def test_apache_before_2_4_8_is_told_to_use_the_chain_file() -> None:
    ep = endpoint([GNU_2017, LE_X1], known=[LE_X3], server="Apache/2.4.7 (Ubuntu)")
    steps = fix_for("apache", ep, detected=True).steps
    assert any(
        "before 2.4.8 (yours)" in s.text and "SSLCertificateChainFile" in s.code for s in steps
    )


def test_a_correct_chain_needs_no_server_fix() -> None:
    assert not needs_fix(endpoint([GNU_2017, LE_X3], known=[]))


def test_a_hostile_certificate_name_cannot_break_out_of_the_powershell_string() -> None:
    evil = "X1'; Remove-Item -Recurse C:\\ ; '\u2019"
    root = pki.root("Hostile Root", not_before=pki.NOW - 900 * pki.DAY)
    shared = pki.key_for("hostile shared key")
    wrong = pki.intermediate(evil, root, key=shared)
    right = pki.intermediate("Hostile Right CA", root, key=shared)
    leaf = pki.leaf("www.hostile.test", right)
    trust = build_store("test roots", [(root.cert, "test roots")])
    ep = endpoint(
        [leaf.der, wrong.der], known=[right.der], host="www.hostile.test", trust=trust, at=pki.NOW
    )
    code = "\n".join(s.code for s in fix_for("iis", ep).steps)
    assert "'CN=X1''; Remove-Item -Recurse C:\\ ; ''\u2019\u2019'" in code
