"""The scheduler: due watches become scans, once each, at a constant cost per batch."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scans import monitoring
from scans.engine.targets import Target
from scans.models import Host, Scan, Watch
from tests.processes import celery_beat

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_broker(monkeypatch):  # type: ignore[no-untyped-def]
    """Committed scans stay in the outbox instead of reaching the broker.

    The session's real worker (started by other tests) would otherwise scan
    these made-up hosts and write while the test's tables are being flushed.
    The broker is the boundary here: what the scheduler decides is in the rows.
    """
    from scans import services

    sent: list[int] = []

    def held(*, scan_ids):  # type: ignore[no-untyped-def]
        sent.extend(scan_ids)
        return 0

    monkeypatch.setattr(services, "scans_dispatch", held)
    return sent


def make_watches(n: int, *, user=None, due: bool = True, prefix: str = "w") -> list[Watch]:  # type: ignore[no-untyped-def]
    """``n`` watches of distinct hosts, created as the API creates them but already
    past their first scan (so nothing is dispatched here) and due unless told."""
    hosts = Host.objects.bulk_create(
        [Host(hostname=f"{prefix}{i}.example.com", port=443) for i in range(n)]
    )
    now = timezone.now()
    return Watch.objects.bulk_create(
        [
            Watch(
                host=h,
                interval=3600,
                created_by=user,
                next_run_at=now - dt.timedelta(seconds=1) if due else now + dt.timedelta(hours=1),
            )
            for h in hosts
        ]
    )


def test_a_due_watch_gets_one_scan_and_its_next_run_moves_an_interval_on(alice):
    (watch,) = make_watches(1, user=alice)
    Watch.objects.filter(pk=watch.pk).update(
        last_scan=Scan.objects.create(host=watch.host, status="done", finished_at=timezone.now())
    )
    before = timezone.now()
    assert monitoring.watches_dispatch_due() == 1
    scan = Scan.objects.get(watch=watch)
    assert scan.status == Scan.Status.QUEUED and scan.requested_by == alice
    watch.refresh_from_db()
    lag = (watch.next_run_at - before).total_seconds()
    # interval + jitter (at most CHAINSCAN_SCHEDULER_JITTER, 120 s by default)
    assert 3600 <= lag <= 3600 + 121
    # Nothing is due any more: a second tick does nothing.
    assert monitoring.watches_dispatch_due() == 0
    assert Scan.objects.filter(watch=watch).count() == 1


def test_paused_future_and_busy_watches_are_not_dispatched(alice):
    paused, future, busy, due = make_watches(4, user=alice)
    Watch.objects.filter(pk=paused.pk).update(paused=True)
    Watch.objects.filter(pk=future.pk).update(next_run_at=timezone.now() + dt.timedelta(hours=1))
    Scan.objects.create(host=busy.host, watch=busy, status=Scan.Status.RUNNING)
    assert monitoring.watches_dispatch_due() == 1
    assert list(Scan.objects.filter(status="queued").values_list("watch", flat=True)) == [due.pk]


def test_a_first_scan_spreads_the_second_over_the_interval(alice):
    watches = make_watches(200, user=alice)
    now = timezone.now()
    monitoring.watches_dispatch_due(now=now)
    offsets = [
        (w.next_run_at - now).total_seconds()
        for w in Watch.objects.filter(pk__in=[w.pk for w in watches])
    ]
    assert min(offsets) >= 360 and max(offsets) <= 3600
    # Spread, not bunched: the 200 second runs fall into at least 8 of 10 tenths.
    assert len({int(o // 360) for o in offsets}) >= 8


def test_a_tick_costs_the_same_statements_for_10_or_300_due_watches(alice, settings):
    settings.CHAINSCAN_SCHEDULER_BATCH = 1000
    counts = []
    for n, prefix in ((10, "a"), (300, "b")):
        make_watches(n, user=alice, prefix=prefix)
        # In one transaction: the commit hooks (the broker) are not database work.
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            assert monitoring.watches_dispatch_due() == n
        counts.append([q["sql"].split()[0] for q in queries if "SAVEPOINT" not in q["sql"]])
    assert counts[0] == counts[1]
    # claim (SELECT … FOR UPDATE SKIP LOCKED), INSERT the scans, UPDATE the watches
    assert counts[0] == ["SELECT", "INSERT", "UPDATE"]


def test_batches_are_claimed_until_none_is_left(alice, settings):
    make_watches(25, user=alice)
    with CaptureQueriesContext(connection) as queries:
        assert monitoring.watches_dispatch_due(batch=10) == 25
    # three batches (10, 10, 5) of the same few statements each
    claims = [q for q in queries if "SKIP LOCKED" in q["sql"]]
    assert len(claims) == 3
    assert Scan.objects.filter(watch__isnull=False).count() == 25


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_ticks_never_dispatch_one_watch_twice(alice, no_broker):
    """Two transactions claim at once (two beats, or a tick overlapping the last):
    SKIP LOCKED hands them disjoint watches, and each watch gets exactly one scan."""
    assert connection.vendor == "postgresql"
    make_watches(10, user=alice)
    first_claimed = threading.Event()
    finish_first = threading.Event()
    claimed_by_first: list[int] = []

    def first_tick() -> None:
        try:
            with transaction.atomic():
                claimed = monitoring._claim_due(timezone.now(), 4)
                claimed_by_first.extend(w.pk for w in claimed)
                first_claimed.set()
                finish_first.wait(10)
                monitoring._watches_dispatch(claimed, timezone.now())
        finally:
            connection.close()

    thread = threading.Thread(target=first_tick)
    thread.start()
    assert first_claimed.wait(10)
    # The second tick runs while the first still holds its four rows.
    second = monitoring.watches_dispatch_due()
    finish_first.set()
    thread.join(10)
    assert len(claimed_by_first) == 4 and second == 6
    per_watch = list(Scan.objects.values_list("watch", flat=True).order_by("watch"))
    assert per_watch == sorted(w.pk for w in Watch.objects.all())
    assert not set(claimed_by_first) & set(
        Scan.objects.filter(watch__in=claimed_by_first)
        .exclude(watch__in=claimed_by_first)
        .values_list("watch", flat=True)
    )
    # And a third tick finds nothing due; every scan was handed to the broker once.
    assert monitoring.watches_dispatch_due() == 0
    assert sorted(no_broker) == sorted(Scan.objects.values_list("pk", flat=True))


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_beat_rescans_a_watched_tls_host_with_nobody_acting(
    alice, celery_worker, worker_env, tmp_path
):
    from scans.engine.certs import describe, pem_bundle
    from scans.models import TrustAnchor
    from tests.conftest import wait_for_scan
    from tests.tlsserver import TLSServer, mini_pki

    host = "single.chainscan.test"
    pki = mini_pki(host)
    TrustAnchor.objects.create(name="test root", pem=pem_bundle([describe(pki.root)]))
    with TLSServer([pki.leaf, pki.intermediate], pki.leaf_key) as server:
        # A watch whose first scan is done and whose interval has just run out.
        watch, created = monitoring.watch_create(user=alice, target=Target(host, server.port))
        assert created
        first = wait_for_scan(Scan.objects.get(watch=watch).token)
        assert first.status == Scan.Status.DONE
        Watch.objects.filter(pk=watch.pk).update(next_run_at=timezone.now())
        with celery_beat(worker_env, tmp_path) as log:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                second = Scan.objects.filter(watch=watch).exclude(pk=first.pk).first()
                if second is not None:
                    break
                time.sleep(0.2)
            else:
                raise AssertionError(f"beat dispatched nothing:\n{log.read_text()[-3000:]}")
            second = wait_for_scan(second.token)
    assert "dispatch-due-watches" in log.read_text() or "dispatch_due_watches" in log.read_text()
    assert second.status == Scan.Status.DONE and second.verdict == "ok"
    assert second.requested_by == alice
    watch.refresh_from_db()
    assert watch.last_scan_id == second.pk
    assert watch.next_run_at > timezone.now() + dt.timedelta(seconds=300)


@pytest.mark.django_db(transaction=True)
def test_two_teammates_watching_one_host_at_the_same_moment_get_one_watch(alice, bob, no_broker):
    """The host row is locked while a watch is created: the second request waits
    for the first to commit, then finds its watch instead of adding another."""
    from tests.factories import team

    team("ops", alice, bob)
    Host.objects.create(hostname="same.example.com", port=443)  # scanned before: the row exists
    created_first = threading.Event()
    release_first = threading.Event()
    results: dict[str, tuple[Watch, bool]] = {}

    def create(name: str, user, hold: bool) -> None:  # type: ignore[no-untyped-def]
        try:
            with transaction.atomic():
                results[name] = monitoring.watch_create(
                    user=user, target=Target("same.example.com", 443)
                )
                if hold:
                    created_first.set()
                    release_first.wait(10)
        finally:
            connection.close()

    first = threading.Thread(target=create, args=("alice", alice, True))
    first.start()
    assert created_first.wait(10)
    second = threading.Thread(target=create, args=("bob", bob, False))
    second.start()
    second.join(1.0)
    assert second.is_alive(), "the second request should wait for the first's commit"
    release_first.set()
    first.join(10)
    second.join(10)
    assert results["alice"][1] is True and results["bob"][1] is False
    assert results["bob"][0].pk == results["alice"][0].pk
    assert Watch.objects.count() == 1
