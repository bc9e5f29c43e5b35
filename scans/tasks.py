"""Celery tasks. A task is an interface like a view: load by id, call the engine, persist."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from . import scanning, services
from .engine.scan import run_scan as engine_run_scan
from .engine.targets import Target

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # Only the database is retried: a host that times out or has no DNS is a
    # finding, recorded on the scan, never a retry.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def run_scan(self, scan_id: int) -> None:  # type: ignore[no-untyped-def]
    scan = services.scan_claim(scan_id=scan_id)
    if scan is None:
        log.info("scan %s not claimable (already taken, finished or deleted)", scan_id)
        return
    try:
        seams = scanning.seams()
        report = engine_run_scan(
            Target(host=scan.host.hostname, port=scan.host.port),
            trust=scanning.trust_store(),
            config=scanning.scan_config(),
            seams=seams,
            pin=scan.pinned_addresses,
        )
        fetched = getattr(seams.fetcher, "fetched", lambda: [])()
        services.scan_record(scan=scan, report=report, fetched=fetched)
    except SoftTimeLimitExceeded:
        services.scan_fail(
            scan_id=scan_id, error="the scan took longer than its time limit and was stopped"
        )
    except (OperationalError, InterfaceError):
        # Put the claim back so the retry can take it again.
        from .models import Scan

        Scan.objects.filter(pk=scan_id, status=Scan.Status.RUNNING).update(
            status=Scan.Status.QUEUED
        )
        raise
    except Exception:
        log.exception("scan %s crashed", scan_id)
        services.scan_fail(
            scan_id=scan_id,
            error="chainscan hit an internal error while scanning this host; the operators "
            "can find the details in the worker log",
        )


@shared_task(ignore_result=True)
def fail_stuck_scans() -> int:
    count = services.scans_fail_stuck()
    if count:
        log.warning("marked %s stuck scans as failed", count)
    return count


@shared_task(ignore_result=True)
def flush_outbox() -> int:
    return services.outbox_flush()
