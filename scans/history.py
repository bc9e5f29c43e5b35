"""A host's history: how each scan differs from the previous finished one."""

from __future__ import annotations

from .engine.diff import ChangeKind, ReportDiff, diff_reports
from .engine.report import Report
from .models import Scan
from .reports import report_from_scan, scans_with_report_data


def previous_finished(scan: Scan) -> Scan | None:
    """The newest finished scan of the same host requested before ``scan``."""
    return scans_with_report_data(
        Scan.objects.filter(
            host_id=scan.host_id,
            status__in=[Scan.Status.DONE, Scan.Status.FAILED],
            requested_at__lte=scan.requested_at,
        )
        .exclude(pk=scan.pk)
        .order_by("-requested_at", "-id")
    ).first()


def classify_change(*, scan: Scan, report: Report) -> ReportDiff | None:
    """Set ``change``, ``change_summary`` and ``previous`` on ``scan`` (not saved)."""
    previous = previous_finished(scan)
    scan.previous = previous
    if previous is None:
        scan.change = Scan.Change.FIRST
        scan.change_summary = "First scan of this host."
        return None
    diff = diff_reports(report_from_scan(previous), report)
    scan.change = {
        ChangeKind.SAME: Scan.Change.SAME,
        ChangeKind.RENEWAL: Scan.Change.RENEWAL,
        ChangeKind.MATERIAL: Scan.Change.MATERIAL,
    }[diff.kind]
    scan.change_summary = diff.summary[:2000]
    return diff
