"""Celery tasks. A task is an interface like a view: load by id, call the engine, persist."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_prerun
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

from . import scanning, services
from .engine.scan import run_scan as engine_run_scan
from .engine.targets import Target

log = logging.getLogger(__name__)


@task_prerun.connect
def _reuse_healthy_connections(**_: object) -> None:
    """Treat each task like a request: keep the thread's database connection
    (CELERY_DB_REUSE_MAX stops Celery closing it after every task), but drop it
    when it is older than CONN_MAX_AGE or, with CONN_HEALTH_CHECKS, when it no
    longer works (Postgres restarted) so the task starts on a fresh one.

    Opening a Postgres connection costs ~10 ms of server and client CPU, more
    than the database work of a whole scan.
    """
    close_old_connections()


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # Only the database is retried: a host that times out or has no DNS is a
    # finding, recorded on the scan, never a retry.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=settings.CHAINSCAN_TASK_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=settings.CHAINSCAN_TASK_MAX_RETRIES,
)
def run_scan(self, scan_id: int) -> None:  # type: ignore[no-untyped-def]
    scan = services.scan_claim(scan_id=scan_id, retry=self.request.retries > 0)
    if scan is None:
        log.info("scan %s not claimable (already taken, finished or deleted)", scan_id)
        return
    try:
        report = engine_run_scan(
            Target(host=scan.host.hostname, port=scan.host.port),
            trust=scanning.trust_store(),
            config=scanning.scan_config(),
            seams=scanning.seams(),
            pin=scan.pinned_addresses,
        )
        services.scan_record(scan=scan, report=report)
    except SoftTimeLimitExceeded:
        services.scan_fail(
            scan_id=scan_id, error="the scan took longer than its time limit and was stopped"
        )
    except (OperationalError, InterfaceError) as exc:
        # The connection that failed is unusable (Postgres restarted?): drop it.
        close_old_connections()
        if self.request.retries >= self.max_retries:
            # No retry follows: fail the scan now with its reason instead of
            # leaving it queued until the stuck-scan sweeper gives up on it.
            _fail_after_retries(scan_id, self.request.retries + 1, exc)
            return
        # Show the scan as queued again while the retry waits. If the database
        # is still down this fails too, and the retry's claim (retry=True)
        # takes the RUNNING row back anyway.
        try:
            services.scan_release(scan_id=scan_id)
        except (OperationalError, InterfaceError):
            log.warning("scan %s: database unavailable, the retry will take it back", scan_id)
        raise
    except Exception:
        log.exception("scan %s crashed", scan_id)
        services.scan_fail(
            scan_id=scan_id,
            error="chainscan hit an internal error while scanning this host; the operators "
            "can find the details in the worker log",
        )


def _fail_after_retries(scan_id: int, attempts: int, exc: Exception) -> None:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        services.scan_fail(
            scan_id=scan_id,
            error=f"chainscan could not reach the database to record this scan after "
            f"{attempts} attempts ({reason[:200]}); run it again",
        )
    except (OperationalError, InterfaceError):
        # Still down: the stuck-scan sweeper fails it once the database is back.
        log.warning("scan %s: retries exhausted and the database is still unavailable", scan_id)


@shared_task(ignore_result=True)
def fail_stuck_scans() -> int:
    count = services.scans_fail_stuck()
    if count:
        log.warning("marked %s stuck scans as failed", count)
    return count


@shared_task(ignore_result=True)
def flush_outbox() -> int:
    return services.outbox_flush()


@shared_task(ignore_result=True)
def prune_unchanged_scans() -> int:
    """Routine rescans older than ``CHAINSCAN_KEEP_UNCHANGED_DAYS`` (0: keep all)."""
    days = settings.CHAINSCAN_KEEP_UNCHANGED_DAYS
    if not days:
        return 0
    count = services.scans_prune_unchanged(older_than=dt.timedelta(days=days))
    if count:
        log.info("pruned %s routine rescans older than %s days", count, days)
    return count


@shared_task(
    ignore_result=True,
    acks_late=True,
    # Delivery failures are handled by the row (retry with backoff, or failed);
    # only the database is retried here.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_jitter=True,
    max_retries=5,
)
def send_notification(notification_id: int) -> str:
    from . import notify

    outcome = notify.notification_send(notification_id=notification_id)
    log.info("notification %s: %s", notification_id, outcome)
    return outcome


@shared_task(ignore_result=True)
def flush_notifications() -> int:
    from . import notify

    return notify.notifications_flush()


@shared_task(ignore_result=True)
def dispatch_due_watches() -> int:
    """Beat's tick (CHAINSCAN_SCHEDULER_TICK): queue a scan for every due watch."""
    from . import monitoring

    count = monitoring.watches_dispatch_due()
    if count:
        log.info("scheduler: queued %s scans of due watches", count)
    return count
