"""Submitting and giving up (issue 9, item 18): host rows locked in one fixed
order so opposite-order submissions cannot deadlock, a scan whose retries run
out fails at once with its reason, and the queued-too-long limit is a setting."""

from __future__ import annotations

import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from scans import services
from scans.engine.targets import Target
from scans.models import Host, Scan
from scans.tasks import run_scan

A, B = Target("a.lock.test"), Target("b.lock.test")


@pytest.mark.django_db(transaction=True)
def test_opposite_order_submissions_of_the_same_hosts_both_succeed(alice, bob):
    Host.objects.create(hostname=A.host, port=A.port)
    Host.objects.create(hostname=B.host, port=B.port)
    # Each submission pauses after locking its first host until the other has
    # locked its own first host: in input order that is a lock cycle.
    barrier = threading.Barrier(2)
    real_lock = services._host_locked
    firsts: set[int] = set()

    def lock_then_wait(*, target: Target):  # type: ignore[no-untyped-def]
        row = real_lock(target=target)
        if threading.get_ident() not in firsts:
            firsts.add(threading.get_ident())
            try:
                barrier.wait(timeout=3)
            except threading.BrokenBarrierError:
                pass  # the other one is waiting for our lock: no cycle, carry on
        return row

    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def submit(user, targets: list[Target]) -> None:  # type: ignore[no-untyped-def]
        try:
            scans = services.scan_request(targets=targets, user=user)
            results[user.username] = [s.host.hostname for s in scans]
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    with (
        mock.patch.object(services, "_host_locked", side_effect=lock_then_wait, autospec=True),
        # Not to the broker: a session worker running these scans would race
        # the test's teardown (TRUNCATE) for the rows.
        mock.patch.object(services, "scans_dispatch", autospec=True) as dispatch,
    ):
        threads = [
            threading.Thread(target=submit, args=(alice, [A, B])),
            threading.Thread(target=submit, args=(bob, [B, A])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert not errors, errors
    assert dispatch.call_count == 2  # nothing reached the broker (the patch held)
    # Each gets its scans back in the order it asked for them.
    assert results == {"alice": [A.host, B.host], "bob": [B.host, A.host]}
    assert Scan.objects.count() == 4


def undispatched_scan(user, hostname: str) -> Scan:  # type: ignore[no-untyped-def]
    """A queued scan no message was sent for: only the task run here takes it
    (the session's real worker, if one is running, never sees it)."""
    host = Host.objects.create(hostname=hostname, port=443)
    return Scan.objects.create(host=host, requested_by=user)


@pytest.mark.django_db(transaction=True)
def test_a_scan_whose_task_runs_out_of_retries_fails_with_a_readable_reason(alice, settings):
    scan = undispatched_scan(alice, "retries.lock.test")
    lost = OperationalError("server closed the connection unexpectedly")
    # The database goes away each time the worker records the report.
    with mock.patch.object(services, "scan_record", side_effect=lost, autospec=True):
        run_scan.apply(args=[scan.pk], retries=settings.CHAINSCAN_TASK_MAX_RETRIES)

    scan.refresh_from_db()
    assert scan.status == Scan.Status.FAILED
    assert scan.finished_at is not None
    assert "could not reach the database" in scan.error
    assert "server closed the connection unexpectedly" in scan.error


@pytest.mark.django_db(transaction=True)
def test_a_scan_with_retries_left_goes_back_to_the_queue(alice):
    scan = undispatched_scan(alice, "retry-left.lock.test")
    lost = OperationalError("server closed the connection unexpectedly")
    with (
        mock.patch.object(services, "scan_record", side_effect=lost, autospec=True),
        mock.patch.object(run_scan, "retry", side_effect=RuntimeError("retry"), autospec=True),
    ):
        run_scan.apply(args=[scan.pk], retries=0)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.QUEUED


@pytest.mark.django_db
def test_the_time_a_scan_may_wait_in_the_queue_is_a_setting(alice, settings):
    settings.CHAINSCAN_QUEUED_TIMEOUT = 600
    old, fresh = (
        services.scan_request(targets=[Target(name)], user=alice)[0]
        for name in ("old.lock.test", "fresh.lock.test")
    )
    Scan.objects.filter(pk=old.pk).update(requested_at=timezone.now() - dt.timedelta(minutes=11))

    assert services.scans_fail_stuck() == 1

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == Scan.Status.FAILED
    assert old.error == "no worker picked this scan up within 10 minutes; is a worker running?"
    assert fresh.status == Scan.Status.QUEUED
