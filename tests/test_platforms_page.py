"""'Who can connect' and the per-server fix in a real browser, on a report recorded from the
real long Let's Encrypt chain of December 2021 (tests/data), judged as of 2021-12-01."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from django.urls import reverse

from scans.engine.analysis import analyse
from scans.engine.certs import read_bundle
from scans.engine.report import EndpointReport, Report
from scans.engine.rootstores import dated_store
from tests.browser import sign_in
from tests.factories import record_report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

DATA = Path(__file__).resolve().parent / "data"
DECEMBER_2021 = dt.datetime(2021, 12, 1, tzinfo=dt.UTC)
HOST = "dot.ouestline.xyz"


def december_2021_report() -> Report:
    trust = dated_store("mozilla", DECEMBER_2021)
    served = read_bundle((DATA / "le-2021-long-chain.pem").read_bytes())
    analysis = analyse(served, hostname=HOST, trust=trust, at=DECEMBER_2021)
    base = EndpointReport(address="192.0.2.10", port=443, sni=HOST, server="nginx/1.18.0")
    endpoint = analysis.apply(base)
    return Report(
        host=HOST,
        port=443,
        trust_store=trust.name,
        evaluated_at=DECEMBER_2021,
        endpoints=(endpoint,),
        verdict=endpoint.verdict,
    )


def test_who_can_connect_lists_failures_first_and_the_fix_follows_the_chosen_server(
    page, live_server, alice
):
    scan = record_report(december_2021_report(), user=alice)
    sign_in(page, live_server, "alice", "alice-pw-123")
    page.goto(live_server.url + reverse("report", args=[scan.token]))
    rows = page.query_selector_all(".platforms-table tbody tr")
    first = rows[0].inner_text()
    assert rows[0].get_attribute("class") == "no" and "OpenSSL 1.0.x" in first
    assert "DST Root CA X3, which expired 2021-09-30" in first
    android = next(r.inner_text() for r in rows if "Android ≤ 7.0" in r.inner_text())
    assert (
        "ISRG Root X1 is not in its store; it accepts the long chain through DST Root CA X3"
        in android
    )
    assert "How to fix it on nginx" in page.inner_text(".server-fix")
    assert "The server says it is nginx/1.18.0" in page.inner_text(".server-fix")

    page.select_option(".server-pick select", "iis")
    page.click(".server-pick button")
    page.wait_for_url("**server=iis**")
    fix = page.inner_text(".server-fix")
    assert "How to fix it on IIS / Windows (SChannel)" in fix and "net stop http /y" in fix
    assert "Strict clients" in page.inner_text("#report-body")  # the families stay as a summary


def test_a_report_recorded_before_platforms_shows_no_table(page, live_server, alice):
    report = december_2021_report()
    old = dataclasses.replace(
        report, endpoints=tuple(dataclasses.replace(e, platforms=()) for e in report.endpoints)
    )
    scan = record_report(old, user=alice)
    sign_in(page, live_server, "alice", "alice-pw-123")
    page.goto(live_server.url + reverse("report", args=[scan.token]))
    assert page.query_selector(".platforms-table") is None
    assert "Strict clients" in page.inner_text("#report-body")
