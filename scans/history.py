"""A host's history: how each scan differs from the scan before it.

The change of a scan (first, same, renewal, material) is decided once, when
the scan is recorded, against the previous finished scan of the same host
requested by the same team, and stored on the row with that previous scan.
History pages and the API then read it from one row per scan: a host with
10,000 scans costs the same few queries as a host with ten.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from .access import record_scope
from .engine.diff import ReportDiff, clip, diff_reports
from .engine.report import Report
from .models import Host, Scan
from .reports import report_from_scan, scans_with_report_data

FINISHED = (Scan.Status.DONE, Scan.Status.FAILED)

# The longest change summary stored on a scan (cut at a word, with "…").
SUMMARY_LIMIT = 2000
# The longest summary a history row shows under its mark.
ROW_SUMMARY_LIMIT = 240

# What a history row reads: no chains, no findings, nothing per endpoint.
ROW_FIELDS = (
    "token",
    "status",
    "verdict",
    "change",
    "change_summary",
    "requested_at",
    "finished_at",
    "error",
    "host_id",
    "previous_id",
    "served_digest",
    "expected_digest",
    "findings_digest",
)
# What a row needs of the scan before it.
PREVIOUS_FIELDS = (
    "token",
    "served_digest",
    "expected_digest",
    "findings_digest",
)

# The three things whose change a history row marks, by the digest that tells.
PARTS = (
    ("served", "served_digest", "served chain"),
    ("expected", "expected_digest", "expected chain"),
    ("findings", "findings_digest", "findings"),
)


def recorded(scans: QuerySet[Scan]) -> QuerySet[Scan]:
    """Finished scans that hold a report. A scan failed by a timeout or a crash
    (``scan_fail``) has none, no verdict, and nothing to compare against."""
    return scans.filter(status__in=FINISHED).exclude(verdict="")


def history(host: Host, scans: QuerySet[Scan]) -> QuerySet[Scan, int]:
    """The ids of ``scans`` of ``host``, newest first: what a paginator cuts pages from.

    Only ids, on purpose: Postgres sorts a host's history to cut a deep page,
    and sorting 10,000 narrow rows stays in memory (a few ms) where sorting
    whole rows spills to disk (25 ms and more). ``rows`` then reads one page's
    rows, with their previous scans, by primary key.
    """
    return scans.filter(host=host).order_by("-requested_at", "-id").values_list("pk", flat=True)


def latest_finished(host: Host, scans: QuerySet[Scan]) -> Scan | None:
    """The newest finished scan of ``host`` among ``scans`` (what "latest report" opens)."""
    return (
        scans.filter(host=host, status__in=FINISHED)
        .order_by("-requested_at", "-id")
        .only("token", "host_id")
        .first()
    )


def _before(scan: Scan) -> Q:
    return Q(requested_at__lt=scan.requested_at) | Q(requested_at=scan.requested_at, pk__lt=scan.pk)


def previous_finished(scan: Scan, scans: QuerySet[Scan]) -> Scan | None:
    """The newest recorded scan among ``scans`` of the same host requested before ``scan``."""
    return (
        recorded(scans.filter(host_id=scan.host_id))
        .filter(_before(scan))
        .order_by("-requested_at", "-id")
        .first()
    )


def previous_for_viewer(scan: Scan, browsable: QuerySet[Scan]) -> Scan | None:
    """The scan before ``scan``, as the viewer knows it.

    The one the stored change was computed against when the viewer may browse
    it, so the diff behind a history mark says what the mark says; else the
    previous scan the viewer can browse (a shared report seen from another team).
    """
    if scan.previous_id is not None:
        stored = browsable.filter(pk=scan.previous_id).first()
        if stored is not None:
            return stored
    return previous_finished(scan, browsable)


def changed_parts(scan: Scan, before: Scan | None) -> list[str]:
    """Which of served chain, expected chain and findings differ from the scan before."""
    if before is None or scan.change in ("", Scan.Change.FIRST):
        return []
    return [key for key, attr, _ in PARTS if getattr(scan, attr) != getattr(before, attr)]


@dataclass(frozen=True)
class Row:
    """A history row: the scan, the scan it was compared with, and what changed.

    ``change_visible`` is false when the viewer may not browse the scan the
    change was worked out against (overlapping teams): then the row shows no
    change and no summary, which would describe a scan the viewer cannot open.
    """

    scan: Scan
    previous: Scan | None
    parts: tuple[str, ...]
    change_visible: bool = True

    @property
    def part_labels(self) -> list[str]:
        return [label for key, _, label in PARTS if key in self.parts]

    @property
    def change(self) -> str:
        return self.scan.change if self.change_visible else ""

    @property
    def change_label(self) -> str:
        return self.scan.get_change_display() if self.change else ""

    @property
    def summary(self) -> str:
        """The change summary, short enough for a row, never cut mid-word."""
        return clip(self.scan.change_summary, ROW_SUMMARY_LIMIT) if self.change else ""


def change_visible(scan: Scan, visible_previous: Container[int]) -> bool:
    """May a viewer who browses ``visible_previous`` read ``scan``'s change?"""
    if scan.change in ("", Scan.Change.FIRST):
        return True
    return scan.previous_id is not None and scan.previous_id in visible_previous


def visible_ids(ids: Iterable[int], browsable: QuerySet[Scan] | None) -> set[int]:
    """Those of ``ids`` the viewer may browse (``browsable`` ``None``: every scan)."""
    wanted = set(ids)
    if not wanted or browsable is None:
        return wanted
    return set(browsable.filter(pk__in=wanted).values_list("pk", flat=True))


def rows(ids: Iterable[int], browsable: QuerySet[Scan] | None) -> list[Row]:
    """History rows for one page of scan ids, in that order, in two queries.

    ``browsable`` is what the viewer may browse (``None``: everything); a
    row's change is shown only when its previous scan is among them.
    """
    order = list(ids)
    fields = (*ROW_FIELDS, *(f"previous__{name}" for name in PREVIOUS_FIELDS))
    found = {
        s.pk: s for s in Scan.objects.filter(pk__in=order).select_related("previous").only(*fields)
    }
    seen = visible_ids((s.previous_id for s in found.values() if s.previous_id), browsable)
    out = []
    for pk in order:
        if (scan := found.get(pk)) is not None:
            visible = change_visible(scan, seen)
            parts = tuple(changed_parts(scan, scan.previous)) if visible else ()
            out.append(Row(scan, scan.previous, parts, visible))
    return out


def classify_change(*, scan: Scan, report: Report) -> ReportDiff | None:
    """Set ``change``, ``change_summary`` and ``previous`` on ``scan`` (not saved).

    ``scan`` must carry its new digests. When they equal the previous scan's,
    the change is "same" without loading anything else; otherwise the previous
    report is rebuilt (a fixed handful of queries) and diffed with ``report``.
    """
    # Most scans of a new host have no predecessor at all: one index probe
    # settles that before the team-scoped lookup (which costs a few ms).
    has_any = (
        Scan.objects.filter(host_id=scan.host_id, status__in=FINISHED).exclude(pk=scan.pk).exists()
    )
    previous = (
        previous_finished(scan, Scan.objects.filter(record_scope(scan.requested_by_id)))
        if has_any
        else None
    )
    scan.previous = previous
    if previous is None:
        scan.change = Scan.Change.FIRST
        scan.change_summary = "First scan of this host."
        return None
    digests = ("served_digest", "expected_digest", "findings_digest", "verdict")
    if all(getattr(scan, d) == getattr(previous, d) for d in digests):
        scan.change = Scan.Change.SAME
        scan.change_summary = "No change since the previous scan."
        return None
    full = scans_with_report_data(Scan.objects.filter(pk=previous.pk)).get()
    diff = diff_reports(report_from_scan(full), report)
    scan.change = Scan.Change(diff.kind.value)
    scan.change_summary = clip(diff.summary, SUMMARY_LIMIT)
    return diff


class NotComparable(Exception):
    """Two scans that cannot be diffed; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def compare(first: Scan, second: Scan) -> tuple[Scan, Scan, ReportDiff]:
    """Diff two scans of one host, older first whichever order they come in.

    Raises:
        NotComparable: other hosts, or a scan without a report (queued,
            running, or stopped by a time limit or a crash).
    """
    if first.host_id != second.host_id:
        raise NotComparable("different-hosts", "both scans must be of the same host and port")
    for scan in (first, second):
        if scan.status not in FINISHED or not scan.verdict:
            raise NotComparable("not-finished", "both scans must have finished with a report")
    older, newer = sorted([first, second], key=lambda s: (s.requested_at, s.pk))
    reports = {
        s.pk: report_from_scan(s)
        for s in scans_with_report_data(Scan.objects.filter(pk__in=[older.pk, newer.pk]))
    }
    return older, newer, diff_reports(reports[older.pk], reports[newer.pk])
