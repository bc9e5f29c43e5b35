"""Incidents of watched hosts, and the outbox rows that tell their teams.

``scan_finished`` runs inside the transaction that records a watched scan
(``services.watched_scan_finished``): incidents open and resolve, and one
Notification row per event and channel is written, all committed with the scan
or not at all. ``scans/notify.py`` sends the rows.

Kinds (the issue's "never cry wolf" rules):
- breakage: the verdict became broken; resolved when it is ok or warning again.
- unreachable: CHAINSCAN_ALERT_FAILURES failed scans in a row; the next
  success resolves it.
- expiry: a certificate on a path clients build (the expected chain or its
  anchor, never a served certificate no path uses) reaches a threshold; each
  threshold of each certificate once. Resolved when the certificate is no
  longer on the path (renewed).
- change: a material change (or, with ``notify_renewals``, a routine
  renewal), a one-off event. Not sent when the same scan opens or resolves
  another incident: that message already links the diff.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from .engine.report import CertificateInfo
from .models import Certificate, Channel, Finding, Incident, Notification, Scan, Watch
from .reports import report_from_scan, scans_with_report_data, top_findings

OPENED, RESOLVED = "incident.opened", "incident.resolved"
CHANGE_MATERIAL, CHANGE_RENEWAL, TEST = "change.material", "change.renewal", "test"
# Change values that are no news: a first scan, no change, a fix (h4's
# "improvement": the breakage incident's resolution says it).
_QUIET_CHANGES = {"", "first", "same", "improvement"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
SHORT_LIVED = dt.timedelta(days=30)


def one_line(text: str, limit: int = 200) -> str:
    """Text from a server (a certificate name) made safe for a subject line."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


def absolute(path: str) -> str:
    return f"{settings.CHAINSCAN_BASE_URL}{path}"


def teammates(user_id: int | None) -> QuerySet[Any]:
    """Ids of a user and everyone sharing a group with them (the team, as in access.py)."""
    User = get_user_model()
    if user_id is None:
        return User.objects.none().values("pk")
    groups = User.groups.through.objects.filter(user_id=user_id).values("group_id")
    return User.objects.filter(Q(pk=user_id) | Q(groups__in=groups)).values("pk")


def team_name(user_id: int | None) -> str:
    User = get_user_model()
    user = User.objects.filter(pk=user_id).first() if user_id is not None else None
    if user is None:
        return ""
    group = user.groups.order_by("name").first()
    return group.name if group is not None else user.get_username()


# --- Evaluation ----------------------------------------------------------------------


@dataclass
class _Event:
    event: str
    incident: Incident
    group_key: str = ""


def scan_finished(*, scan: Scan) -> None:
    """Open and resolve the watch's incidents for this finished scan; queue the messages."""
    # One evaluation per watch at a time: two scans of one watch finishing
    # together take turns, so neither opens an incident the other just opened.
    assert scan.watch_id is not None
    watch = Watch.objects.select_for_update().select_related("host").get(pk=scan.watch_id)
    evaluation = _Evaluation(scan=scan, watch=watch)
    evaluation.run()
    notifications_create(watch=watch, scan=scan, events=evaluation.events)


class _Evaluation:
    def __init__(self, *, scan: Scan, watch: Watch) -> None:
        self.scan = scan
        self.watch = watch
        self.now = scan.finished_at or timezone.now()
        self.events: list[_Event] = []
        self.open = {(i.kind, i.key): i for i in watch.incidents.filter(resolved_at=None)}

    def run(self) -> None:
        if self.scan.status == Scan.Status.FAILED or self.scan.error:
            self._unreachable()
            return
        self._resolve(Incident.Kind.UNREACHABLE, "", "Scans of this host succeed again.")
        self._breakage()
        self._expiry()
        if not self.events:
            self._change()

    # -- opening and resolving

    def _open(
        self,
        kind: str,
        key: str,
        title: str,
        summary: str,
        *,
        certificate: Certificate | None = None,
        group_key: str = "",
    ) -> Incident | None:
        if (kind, key) in self.open:
            return None
        incident = Incident.objects.create(
            watch=self.watch,
            kind=kind,
            key=key,
            title=one_line(title, 300),
            summary=summary,
            certificate=certificate,
            opened_by=self.scan,
            opened_at=self.now,
        )
        self.open[(kind, key)] = incident
        self.events.append(_Event(OPENED, incident, group_key))
        return incident

    def _resolve(self, kind: str, key: str, summary: str, *, notify: bool = True) -> None:
        incident = self.open.pop((kind, key), None)
        if incident is None:
            return
        incident.resolved_by = self.scan
        incident.resolved_at = self.now
        incident.save(update_fields=["resolved_by", "resolved_at"])
        if notify:
            incident.summary = summary  # the message's text, not stored
            self.events.append(_Event(RESOLVED, incident))

    # -- the kinds

    def _unreachable(self) -> None:
        needed = settings.CHAINSCAN_ALERT_FAILURES
        recent = list(
            Scan.objects.filter(watch=self.watch, status__in=[Scan.Status.DONE, Scan.Status.FAILED])
            .order_by("-finished_at", "-pk")
            .values_list("status", flat=True)[:needed]
        )
        if len(recent) < needed or any(s != Scan.Status.FAILED for s in recent):
            return
        self._open(
            Incident.Kind.UNREACHABLE,
            "",
            f"{needed} scans in a row could not be done",
            self.scan.error or "the scan failed",
        )

    def _breakage(self) -> None:
        if self.scan.verdict != Scan.Verdict.BROKEN:
            self._resolve(
                Incident.Kind.BREAKAGE,
                "",
                f"The chain is {self.scan.verdict or 'ok'} again.",
            )
            return
        top = top_finding(self.scan)
        title = top.title if top else "the chain is broken"
        # Hosts broken by one certificate (a CA's root going away) share a message.
        named = (top.certificates or [""])[-1] if top else ""
        self._open(
            Incident.Kind.BREAKAGE,
            "",
            title,
            first_sentence(top.fix) if top else "",
            group_key=f"breakage:{top.code}:{named}" if top and named else "",
        )

    def _expiry(self) -> None:
        # Most scans are far from every threshold: the scan's earliest expiry
        # (expected chains and anchors) says so without reloading the chains.
        horizon = max([*settings.CHAINSCAN_EXPIRY_THRESHOLDS, SHORT_LIVED.days / 3])
        valid_until = self.scan.valid_until
        watching = any(kind == Incident.Kind.EXPIRY for kind, _ in self.open)
        if not watching and valid_until and valid_until - self.now > dt.timedelta(days=horizon):
            return
        on_path = path_certificates(self.scan)
        rows = {c.sha256: c for c in Certificate.objects.filter(sha256__in=list(on_path))}
        for sha, info in on_path.items():
            crossed = crossed_threshold(info, self.now)
            if crossed is None or sha not in rows:
                continue
            label, _ = crossed
            key = f"{sha}:{label}"
            if Incident.objects.filter(
                watch=self.watch, kind=Incident.Kind.EXPIRY, key=key
            ).exists():
                continue  # each threshold of each certificate once
            # A nearer threshold supersedes the one before: close it quietly.
            for kind, open_key in list(self.open):
                if kind == Incident.Kind.EXPIRY and open_key.startswith(f"{sha}:"):
                    self._resolve(kind, open_key, "", notify=False)
            left = info.not_after - self.now if info.not_after else dt.timedelta()
            self._open(
                Incident.Kind.EXPIRY,
                key,
                f"{one_line(info.common_name or info.subject, 120)} expires in {_days(left)}",
                f"{role(info)} certificate on the chain clients build; it expires "
                f"{info.not_after:%Y-%m-%d %H:%M} UTC. Renew it (or move to its successor) "
                "before then.",
                certificate=rows[sha],
                group_key=f"expiry:{key}",
            )
        if not on_path:
            return  # no path at all (a broken chain): not a renewal, the breakage says it
        for kind, key in list(self.open):
            if kind == Incident.Kind.EXPIRY and key.split(":", 1)[0] not in on_path:
                self._resolve(kind, key, "The certificate is no longer on the chain (renewed).")

    def _change(self) -> None:
        change = self.scan.change or ""
        if change in _QUIET_CHANGES:
            return
        if change == Scan.Change.RENEWAL and not self.watch.notify_renewals:
            return
        previous = self.scan.previous
        if previous is not None and previous.status == Scan.Status.FAILED:
            return  # "back from a failed scan" is reachability, told by its own incident
        event = CHANGE_RENEWAL if change == Scan.Change.RENEWAL else CHANGE_MATERIAL
        incident = Incident.objects.create(
            watch=self.watch,
            kind=Incident.Kind.CHANGE,
            key=f"scan:{self.scan.pk}",
            title="routine renewal" if event == CHANGE_RENEWAL else "material change",
            summary=self.scan.change_summary,
            opened_by=self.scan,
            resolved_by=self.scan,
            opened_at=self.now,
            resolved_at=self.now,
        )
        self.events.append(_Event(event, incident))


# --- Reading the scan ------------------------------------------------------------------


def top_finding(scan: Scan) -> Finding | None:
    """The finding a message leads with: the first error, else the first warning."""
    return top_findings([scan.pk]).get(scan.pk)


def first_sentence(text: str) -> str:
    flat = one_line(text, 400)
    match = re.search(r"(?<=[.!?])\s", flat)
    return flat[: match.start()] if match else flat


def path_certificates(scan: Scan) -> dict[str, CertificateInfo]:
    """Certificates on the paths clients build: each SNI endpoint's expected chain and
    its anchor. A served certificate no valid path uses (an expired cross-sign)
    is not among them, so it never raises an expiry alarm."""
    cached: dict[str, CertificateInfo] | None = getattr(scan, "_path_certificates", None)
    if cached is not None:
        return cached
    stored = scans_with_report_data(Scan.objects.filter(pk=scan.pk)).get()
    found: dict[str, CertificateInfo] = {}
    for endpoint in report_from_scan(stored).endpoints:
        if endpoint.sni is None:
            continue  # the no-SNI probe's default certificate is not what clients get
        for info in (*endpoint.expected, *((endpoint.anchor,) if endpoint.anchor else ())):
            found.setdefault(info.sha256, info)
    setattr(scan, "_path_certificates", found)  # noqa: B010 - read by the payloads of the same scan
    return found


def thresholds(info: CertificateInfo) -> list[tuple[str, dt.timedelta]]:
    """(label, time left) at which a certificate is alerted, furthest first."""
    if info.not_before and info.not_after and info.not_after - info.not_before <= SHORT_LIVED:
        life = info.not_after - info.not_before
        return [("life/3", life / 3), ("life/10", life / 10)]
    return [(f"{d}d", dt.timedelta(days=d)) for d in settings.CHAINSCAN_EXPIRY_THRESHOLDS]


def crossed_threshold(info: CertificateInfo, now: dt.datetime) -> tuple[str, dt.timedelta] | None:
    """The nearest threshold the certificate has reached, or ``None``."""
    if info.not_after is None:
        return None
    left = info.not_after - now
    reached = [t for t in thresholds(info) if left <= t[1]]
    return reached[-1] if reached else None


def role(info: CertificateInfo) -> str:
    if not info.is_ca:
        return "The leaf"
    if info.self_signed:
        return "The root"
    return "An intermediate"


def _days(left: dt.timedelta) -> str:
    if left <= dt.timedelta():
        return "0 days (expired)"
    days = left.days
    if days >= 1:
        return f"{days} day{'s' if days != 1 else ''}"
    hours = max(1, int(left.total_seconds() // 3600))
    return f"{hours} hour{'s' if hours != 1 else ''}"


# --- The outbox --------------------------------------------------------------------------


def notifications_create(*, watch: Watch, scan: Scan, events: list[_Event]) -> list[Notification]:
    """One row per event and enabled channel of the watch's team; sent after commit."""
    if not events:
        return []
    channels = list(
        Channel.objects.filter(enabled=True, created_by__in=teammates(watch.created_by_id))
    )
    if not channels:
        return []
    now = timezone.now()
    team = team_name(watch.created_by_id)
    group_delay = dt.timedelta(seconds=settings.CHAINSCAN_NOTIFY_GROUP_SECONDS)
    # What the scan says is read once (its top finding); one payload per event,
    # shared by its channels.
    done = scan.status == Scan.Status.DONE
    facts = _ScanFacts(top_finding(scan) if done else None, earliest_expiry(scan))
    payloads = [
        target_payload(watch=watch, scan=scan, event=e, team=team, facts=facts) for e in events
    ]
    rows = [
        Notification(
            channel=channel,
            incident=e.incident,
            event=e.event,
            group_key=f"{e.event}:{e.group_key}" if e.group_key else "",
            payload=payload,
            next_attempt_at=now + (group_delay if e.group_key else dt.timedelta()),
        )
        for e, payload in zip(events, payloads, strict=True)
        for channel in channels
    ]
    Notification.objects.bulk_create(rows)
    from .notify import enqueue

    transaction.on_commit(lambda: enqueue(rows))
    return rows


@dataclass(frozen=True)
class _ScanFacts:
    """What every message about one recorded scan quotes from it."""

    top: Finding | None
    earliest_expiry: str


def target_payload(
    *, watch: Watch, scan: Scan, event: _Event, team: str, facts: _ScanFacts
) -> dict[str, Any]:
    """What a message says about one host, fixed when the scan is recorded."""
    incident = event.incident
    host = watch.host
    cert = incident.certificate
    top = facts.top
    return {
        "host": host.hostname,
        "port": host.port,
        "report_url": absolute(reverse("report", args=[scan.token])),
        "diff_url": absolute(reverse("diff-previous", args=[scan.token]))
        if scan.previous_id
        else None,
        "team": team,
        "verdict": scan.verdict or "unreachable",
        "kind": incident.kind,
        "title": incident.title,
        "summary": incident.summary,
        "fix": first_sentence(top.fix) if top else "",
        "finding": top.title if top else "",
        "earliest_expiry": facts.earliest_expiry,
        "certificate": {
            "sha256": cert.sha256,
            "subject": cert.subject,
            "not_after": cert.not_after.isoformat() if cert.not_after else None,
        }
        if cert
        else None,
        "incident": {
            "id": incident.pk,
            "opened_at": incident.opened_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        },
    }


def earliest_expiry(scan: Scan) -> str:
    """The certificate that expires first on the host's expected chains, as the
    scan recorded it (``expires_first`` at ``valid_until``): one definition for
    the overview, the metrics and the messages."""
    if scan.status != Scan.Status.DONE or scan.valid_until is None:
        return ""
    name = one_line(scan.expires_first, 120) if scan.expires_first else "a certificate"
    left = _days(scan.valid_until - (scan.finished_at or timezone.now()))
    return f"{name} on {scan.valid_until:%Y-%m-%d} ({left})"
