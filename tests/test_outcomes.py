"""History that stays small: shared outcomes, and pruning routine rescans.

Scans are recorded through the real services from the engine's own reports
(tests/factories.py). An unchanged rescan must not copy chains and findings;
every page, the API and the diff read exactly as before; routine rescans older
than CHAINSCAN_KEEP_UNCHANGED_DAYS are pruned, never one that matters.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from scans import services, tasks
from scans.engine.report import client_to_json, platform_to_json
from scans.models import (
    ChainEntry,
    Endpoint,
    EndpointSet,
    Finding,
    Outcome,
    PrunedScan,
    Scan,
    Watch,
)
from scans.reports import report_from_scan, scans_with_report_data
from tests.factories import HOST, chains, engine_report, record_report, record_scan

A, B = "192.0.2.10", "192.0.2.11"


def counts() -> dict[str, int]:
    return {
        "outcomes": Outcome.objects.count(),
        "chain entries": ChainEntry.objects.count(),
        "findings": Finding.objects.count(),
        "endpoints": Endpoint.objects.count(),
        "endpoint sets": EndpointSet.objects.count(),
    }


def report_of(scan: Scan) -> object:
    return report_from_scan(scans_with_report_data(Scan.objects.filter(pk=scan.pk)).get())


# --- shared outcomes ---------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unchanged_rescan_copies_no_chain_entry_and_no_finding(alice):
    served = {A: chains().served_x1(), B: chains().served_x1()}
    first = record_scan(served, user=alice)
    before = counts()

    again = record_scan(served, user=alice)

    after = counts()
    assert again.change == Scan.Change.SAME
    assert after["chain entries"] == before["chain entries"] > 0
    assert after["findings"] == before["findings"] > 0
    assert after["outcomes"] == before["outcomes"]
    # Not even the per-address rows: the rescan points at the first scan's
    # endpoint set (two addresses and the no-SNI probe) and keeps its timings.
    assert after["endpoints"] == before["endpoints"] == 3
    assert after["endpoint sets"] == before["endpoint sets"] == 1
    assert again.endpoint_set_id == first.endpoint_set_id
    # And it reads back exactly as the engine reported it.
    first_report, again_report = report_of(first), report_of(again)
    assert again_report.endpoints == first_report.endpoints  # type: ignore[attr-defined]
    assert again_report.endpoints == engine_report(served).endpoints  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_addresses_that_found_the_same_share_one_outcome_and_a_change_gets_its_own(alice):
    scan = record_scan({A: chains().served_x1(), B: chains().served_x1()}, user=alice)
    # The two SNI endpoints found the same; the no-SNI probe of A says other words.
    outcomes = {e.address: e.outcome_id for e in scan.endpoints.filter(no_sni=False)}
    assert outcomes[A] == outcomes[B]

    fixed = record_scan({A: chains().served_x3(), B: chains().served_x1()}, user=alice)

    by_address = {e.address: e.outcome_id for e in fixed.endpoints.filter(no_sni=False)}
    assert by_address[B] == outcomes[B] and by_address[A] != outcomes[A]
    assert report_of(fixed).endpoints[0].verdict.value == "ok"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_the_report_page_and_the_api_of_a_rescan_read_like_the_first(alice, alice_client):
    served = {A: chains().served_x1()}
    first = record_scan(served, user=alice)
    again = record_scan(served, user=alice)

    pages = [
        alice_client.get(reverse("report", args=[s.token])).content.decode() for s in (first, again)
    ]
    apis = [alice_client.get(reverse("api-scan", args=[s.token])).json() for s in (first, again)]

    assert pages[0].count("wrong-intermediate-same-key") == pages[1].count(
        "wrong-intermediate-same-key"
    )
    assert apis[0]["endpoints"] == apis[1]["endpoints"]
    assert apis[1]["endpoints"][0]["served_roles"] == ["leaf", "wrong-issuer"]


@pytest.mark.django_db
def test_two_recorders_of_the_same_new_outcome_share_one_complete_outcome(alice):
    """The second recorder finds the digest taken and writes nothing twice."""
    report = engine_report({A: chains().served_x1()})
    record_report(report, user=alice)
    outcome = Outcome.objects.get(endpoints__no_sni=False)
    entries = outcome.chain.count()
    # Pretend the first recorder's lookup missed: its rows are written again.
    digest = services.outcome_digest(report.endpoints[0])
    assert digest == outcome.digest
    ChainEntry.objects.bulk_create(
        [
            ChainEntry(
                outcome=outcome,
                kind=e.kind,
                position=e.position,
                certificate=e.certificate,
                role=e.role,
            )
            for e in outcome.chain.all()
        ],
        ignore_conflicts=True,
    )
    assert outcome.chain.count() == entries


# --- the migration keeps existing scans readable ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_scans_recorded_before_outcomes_read_the_same_after_the_migration():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    # The schema just before outcomes existed.
    before = [("scans", "0003_learned_issuers")]
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        report = engine_report({A: chains().served_x1(), B: chains().served_x3()})
        token = _record_the_old_way(old, report)
        _record_the_old_way(old, report)  # a rescan: its copies fold into the same outcomes
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    scan = Scan.objects.get(token=token)
    stored = report_of(scan)
    for got, want in zip(stored.endpoints, report.endpoints, strict=True):  # type: ignore[attr-defined]
        assert got.served == want.served and got.expected == want.expected
        assert got.findings == want.findings and got.clients == want.clients
        assert got.verdict == want.verdict and got.anchor == want.anchor
        assert (got.address, got.sni, got.tls_version, got.cipher) == (
            want.address,
            want.sni,
            want.tls_version,
            want.cipher,
        )
        assert (got.connect_ms, got.handshake_ms) == (want.connect_ms, want.handshake_ms)
        # Roles were not stored then: derived from the chains and findings.
        assert got.served_roles == want.served_roles
    # One outcome per distinct endpoint content, and both scans share one set of endpoints.
    assert Outcome.objects.count() == len({services.outcome_digest(e) for e in report.endpoints})
    assert Endpoint.objects.count() == len(report.endpoints)
    assert EndpointSet.objects.count() == 1


def _old_outcomes(apps, report) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The 0012 schema's shared outcomes of ``report`` (chains with roles, findings), by digest."""
    Outcome0, Chain0 = apps.get_model("scans", "Outcome"), apps.get_model("scans", "ChainEntry")
    Finding0 = apps.get_model("scans", "Finding")
    certs = _old_certificates(apps, report)
    out = {}
    for e in report.endpoints:
        digest = services.outcome_digest(e)
        outcome, created = Outcome0.objects.get_or_create(
            digest=digest,
            defaults={
                "verdict": e.verdict.value,
                "error": e.error or "",
                "valid_until": e.valid_until,
                "anchor": certs[e.anchor.sha256] if e.anchor else None,
                "anchor_source": e.anchor_source or "",
                "clients": [client_to_json(c) for c in e.clients],
                "platforms": [platform_to_json(p) for p in e.platforms],
            },
        )
        out[digest] = outcome.pk
        if not created:
            continue
        for kind, chain, roles in (
            ("served", e.served, e.served_roles),
            ("expected", e.expected, e.expected_roles),
        ):
            for i, c in enumerate(chain):
                Chain0.objects.create(
                    outcome=outcome,
                    kind=kind,
                    position=i,
                    certificate=certs[c.sha256],
                    role=roles[i],
                )
        for i, f in enumerate(e.findings):
            Finding0.objects.create(
                outcome=outcome,
                position=i,
                code=f.code,
                severity=f.severity.value,
                title=f.title,
                detail=f.detail,
                fix=f.fix,
                certificates=list(f.certificates),
                clients=list(f.clients),
            )
    return out


def _old_certificates(apps, report) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Certificate rows of ``report`` with the columns the schema of ``apps`` has."""
    from scans.services import _certificate_row

    Certificate = apps.get_model("scans", "Certificate")
    columns = {f.attname for f in Certificate._meta.concrete_fields}
    certs = {}
    for e in report.endpoints:
        for c in (*e.served, *e.expected, *((e.anchor,) if e.anchor else ())):
            row = _certificate_row(c)
            fields = {
                f.attname: getattr(row, f.attname)
                for f in row._meta.concrete_fields
                if f.attname in columns and f.attname not in ("id", "first_seen")
            }
            certs[c.sha256], _ = Certificate.objects.get_or_create(sha256=c.sha256, defaults=fields)
    return certs


def _record_the_old_way(apps, report) -> str:  # type: ignore[no-untyped-def]
    """Rows as the schema before outcomes stored a report: chains and findings per endpoint."""
    Host, Scan0 = apps.get_model("scans", "Host"), apps.get_model("scans", "Scan")
    Endpoint0 = apps.get_model("scans", "Endpoint")
    Chain0, Finding0 = apps.get_model("scans", "ChainEntry"), apps.get_model("scans", "Finding")
    host, _ = Host.objects.get_or_create(hostname=report.host, port=report.port)
    scan = Scan0.objects.create(
        host=host,
        status="done",
        finished_at=timezone.now(),
        verdict=report.verdict.value,
        trust_store=report.trust_store,
    )
    certs = _old_certificates(apps, report)
    position = 0
    for index, e in enumerate(report.endpoints):
        ep = Endpoint0.objects.create(
            scan=scan,
            position=index,
            address=e.address,
            port=e.port,
            sni=e.sni or "",
            no_sni=e.sni is None,
            tls_version=e.tls_version or "",
            cipher=e.cipher or "",
            connect_ms=e.connect_ms,
            handshake_ms=e.handshake_ms,
            error=e.error or "",
            verdict=e.verdict.value,
            valid_until=e.valid_until,
            anchor=certs[e.anchor.sha256] if e.anchor else None,
            anchor_source=e.anchor_source or "",
            clients=[client_to_json(c) for c in e.clients],
        )
        for kind, chain in (("served", e.served), ("expected", e.expected)):
            for i, c in enumerate(chain):
                Chain0.objects.create(
                    endpoint=ep, kind=kind, position=i, certificate=certs[c.sha256]
                )
        for f in e.findings:
            Finding0.objects.create(
                scan=scan,
                endpoint=ep,
                position=position,
                code=f.code,
                severity=f.severity.value,
                title=f.title,
                detail=f.detail,
                fix=f.fix,
                certificates=list(f.certificates),
                clients=list(f.clients),
            )
            position += 1
    return scan.token


@pytest.mark.django_db(transaction=True)
def test_scans_recorded_with_endpoints_per_scan_read_the_same_after_the_migration_and_back():
    """0013 folds each scan's endpoint rows into shared sets (timings to the scan)
    and stores digests as bytes; every scan reads as before, history marks
    included, and a rescan after it finds the migrated set. Backwards, every
    scan gets its own endpoint rows back."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    before = [("scans", "0012_api_tokens")]
    executor.migrate(before)
    plain = engine_report({A: chains().served_x1(), B: chains().served_x1()})
    slow = _timed(plain, 7.3)
    fixed = engine_report({A: chains().served_x3(), B: chains().served_x1()})
    reports = (plain, slow, fixed)
    try:
        old = executor.loader.project_state(before).apps
        tokens = [_record_per_scan(old, report, index) for index, report in enumerate(reports)]
        old_endpoints = old.get_model("scans", "Endpoint").objects.count()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    scans = [Scan.objects.get(token=t) for t in tokens]
    for scan, want in zip(scans, reports, strict=True):
        got = report_of(scan)
        assert got.endpoints == want.endpoints  # type: ignore[attr-defined]
    # The first scan and the slow rescan differ only in their timings: one set.
    assert [e.connect_ms for e in plain.endpoints] != [e.connect_ms for e in slow.endpoints]
    assert scans[0].endpoint_set_id == scans[1].endpoint_set_id != scans[2].endpoint_set_id
    assert EndpointSet.objects.count() == 2
    assert Endpoint.objects.count() == old_endpoints - len(slow.endpoints)
    # The history marks compare the (now binary) digests as before.
    from scans import history

    digests = [services.report_digests(r) for r in (slow, fixed)]
    changed = tuple(
        part
        for part, a, b in zip(("served", "expected", "findings"), *digests, strict=True)
        if a != b
    )
    assert changed
    rows = history.rows([s.pk for s in scans], None)
    assert [r.parts for r in rows] == [(), (), changed]
    # A rescan finds the migrated set and writes no endpoint.
    again = record_report(fixed)
    assert again.change == Scan.Change.SAME and again.endpoint_set_id == scans[2].endpoint_set_id
    assert Endpoint.objects.count() == old_endpoints - len(slow.endpoints)

    # And back: endpoint rows per scan, with each scan's timings.
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps
        Endpoint0, Scan0 = old.get_model("scans", "Endpoint"), old.get_model("scans", "Scan")
        slow_row = Scan0.objects.get(token=tokens[1])
        assert [(e.address, e.connect_ms, e.handshake_ms) for e in slow_row.endpoints.all()] == [
            (e.address, e.connect_ms, e.handshake_ms) for e in slow.endpoints
        ]
        assert slow_row.served_digest == services.report_digests(slow)[0].hex()
        assert Endpoint0.objects.count() == old_endpoints + len(slow.endpoints)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)


def _timed(report, ms: float):  # type: ignore[no-untyped-def]
    """``report`` with every endpoint ``ms`` slower to connect and to handshake."""
    import dataclasses

    return dataclasses.replace(
        report,
        endpoints=tuple(
            dataclasses.replace(e, connect_ms=(e.connect_ms or 0) + ms, handshake_ms=ms * 2)
            for e in report.endpoints
        ),
    )


def _record_per_scan(apps, report, index: int) -> str:  # type: ignore[no-untyped-def]
    """Rows as the 0012 schema stored a report: digests as hex text, one endpoint
    row per address per scan (with its timings) pointing at shared outcomes."""
    Host, Scan0 = apps.get_model("scans", "Host"), apps.get_model("scans", "Scan")
    Endpoint0 = apps.get_model("scans", "Endpoint")
    host, _ = Host.objects.get_or_create(hostname=report.host, port=report.port)
    served, expected, findings = (d.hex() for d in services.report_digests(report))
    earlier = list(Scan0.objects.order_by("pk"))
    scan = Scan0.objects.create(
        host=host,
        status="done",
        finished_at=timezone.now(),
        verdict=report.verdict.value,
        trust_store=report.trust_store,
        served_digest=served,
        expected_digest=expected,
        findings_digest=findings,
        change="same" if earlier else "first",
        previous=earlier[-1] if earlier else None,
    )
    outcomes = _old_outcomes(apps, report)
    Endpoint0.objects.bulk_create(
        [
            Endpoint0(
                scan=scan,
                position=index,
                address=e.address,
                port=e.port,
                sni=e.sni or "",
                no_sni=e.sni is None,
                tls_version=e.tls_version or "",
                cipher=e.cipher or "",
                connect_ms=e.connect_ms,
                handshake_ms=e.handshake_ms,
                outcome_id=outcomes[services.outcome_digest(e)],
                server=e.server or "",
            )
            for index, e in enumerate(report.endpoints)
        ]
    )
    return scan.token


# --- pruning routine rescans -----------------------------------------------------------------


def _age(*scans: Scan, days: int) -> None:
    when = timezone.now() - dt.timedelta(days=days)
    Scan.objects.filter(pk__in=[s.pk for s in scans]).update(finished_at=when)


@pytest.fixture
def history(alice):  # type: ignore[no-untyped-def]
    """first (broken) · same · same · fixed (improvement) · same (opened) · same · last (same)."""
    c = chains()
    scans = [
        record_scan(c.served_x1(), user=alice),
        record_scan(c.served_x1(), user=alice),
        record_scan(c.served_x1(), user=alice),
        record_scan(c.served_x3(), user=alice),
        record_scan(c.served_x3(), user=alice),
        record_scan(c.served_x3(), user=alice),
        record_scan(c.served_x3(), user=alice),
    ]
    assert [s.change for s in scans] == [
        "first",
        "same",
        "same",
        "improvement",
        "same",
        "same",
        "same",
    ]
    return scans


@pytest.mark.django_db
def test_old_routine_rescans_are_pruned_and_nothing_that_matters(history, alice_client, settings):
    first, same1, same2, fixed, opened, same3, last = history
    assert alice_client.get(reverse("report", args=[opened.token])).status_code == 200
    _age(*history, days=40)
    settings.CHAINSCAN_KEEP_UNCHANGED_DAYS = 30

    assert tasks.prune_unchanged_scans() == 3

    kept = set(Scan.objects.values_list("token", flat=True))
    assert kept == {first.token, fixed.token, opened.token, last.token}
    assert set(PrunedScan.objects.values_list("token", flat=True)) == {
        same1.token,
        same2.token,
        same3.token,
    }
    # The scan after a pruned run now follows the scan before it, and still
    # compares with it on the host page and the diff.
    fixed.refresh_from_db()
    last.refresh_from_db()
    assert fixed.previous_id == first.pk and last.previous_id == opened.pk
    diff = alice_client.get(reverse("diff-previous", args=[fixed.token]))
    assert diff.status_code in (200, 302)
    # What is left reads as before.
    assert report_of(first).endpoints[0].findings  # type: ignore[attr-defined]
    assert tasks.prune_unchanged_scans() == 0


@pytest.mark.django_db
def test_nothing_is_pruned_by_default_or_before_its_time(history, settings):
    _age(*history, days=40)
    assert settings.CHAINSCAN_KEEP_UNCHANGED_DAYS == 0
    assert tasks.prune_unchanged_scans() == 0
    settings.CHAINSCAN_KEEP_UNCHANGED_DAYS = 60
    assert tasks.prune_unchanged_scans() == 0
    assert Scan.objects.count() == len(history)


@pytest.mark.django_db
def test_a_watchs_last_scan_is_kept(history, settings):
    first, same1, *_ = history
    Watch.objects.create(
        host=first.host, interval=3600, next_run_at=timezone.now(), last_scan=same1
    )
    _age(*history, days=40)
    settings.CHAINSCAN_KEEP_UNCHANGED_DAYS = 30
    tasks.prune_unchanged_scans()
    assert Scan.objects.filter(pk=same1.pk).exists()


@pytest.mark.django_db
def test_a_pruned_permalink_is_gone_with_a_link_to_the_host_history(
    history, client, alice_client, settings
):
    same1 = history[1]
    _age(*history, days=40)
    settings.CHAINSCAN_KEEP_UNCHANGED_DAYS = 30
    tasks.prune_unchanged_scans()

    page = client.get(reverse("report", args=[same1.token]))
    api = alice_client.get(reverse("api-scan", args=[same1.token]))

    assert page.status_code == 410
    html = page.content.decode()
    assert "This report was removed" in html
    assert f'href="{reverse("host", args=[HOST])}"' in html
    assert api.status_code == 410
    assert api.json()["error"]["code"] == "pruned"
    assert api.json()["history"].endswith(reverse("api-host-scans", args=[HOST]))
    # An unknown token is still simply not found.
    assert client.get(reverse("report", args=["x" * len(same1.token)])).status_code == 404


@pytest.mark.django_db
def test_opening_a_permalink_page_or_its_api_marks_the_scan_viewed(history, client, alice_client):
    page_read, api_read = history[1], history[2]
    assert not Scan.objects.filter(viewed_at__isnull=False).exists()

    client.get(reverse("report", args=[page_read.token]))
    alice_client.get(reverse("api-scan", args=[api_read.token]))

    assert set(Scan.objects.filter(viewed_at__isnull=False)) == {page_read, api_read}


def test_the_prune_beat_entry_expires_before_its_next_run(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["prune-unchanged-scans"]
    assert entry["task"] == "scans.tasks.prune_unchanged_scans"
    assert entry["options"]["expires"] < entry["schedule"]
