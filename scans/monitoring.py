"""Watches: hosts a team hands chainscan once, rescanned on a schedule.

Every write to a Watch goes through here (views, the API, the scheduler's
task); scans enter the queue only through ``services.scans_enqueue``, the same
path as the form.

Scheduling:
- A new watch is scanned at once (or adopts the finished scan it was started
  from), so its owner sees a result right away. Its *second* run is spread at
  random over 10–100 % of its interval: 10,000 watches imported together do
  not all fire again at the same moment.
- After that each run is set to ``now + interval + jitter`` (jitter: random, at
  most ``CHAINSCAN_SCHEDULER_JITTER`` seconds and a tenth of the interval).
- The tick (``watches_dispatch_due``) claims due watches in batches with
  ``SELECT … FOR UPDATE SKIP LOCKED``: two beats, or a tick that overlaps the
  previous one, take disjoint rows, and a claimed row's ``next_run_at`` moves
  into the future before its lock is released. Due means: not paused,
  ``next_run_at <= now`` and no scan of the watch still queued or running.
  Each batch costs the same few statements however many watches exist.
  SQLite has no row locks: there the claim first takes the database's write
  lock, so overlapping ticks run one after the other instead.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Least
from django.utils import timezone

from .access import team_watches
from .engine.targets import Target, TargetError, parse_target
from .forms import MAX_PINNED, parse_pins
from .models import Host, Scan, Watch
from .services import scans_enqueue

MAX_TAGS = 10
MAX_NOTE = 2000
MAX_INTERVAL = 366 * 86400
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._:/-]{0,39}$")
# Tags inside one CSV field or one form input: separated by ";" or spaces
# (never ",", which separates CSV fields).
TAG_SPLIT_RE = re.compile(r"[;\s]+")
INTERVAL_RE = re.compile(r"^(\d+)\s*([smhdw]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
UNFINISHED = (Scan.Status.QUEUED, Scan.Status.RUNNING)


class WatchError(ValueError):
    """Input a watch cannot be made of; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class WatchSpec:
    """What a new watch is made of, validated."""

    target: Target
    pins: tuple[str, ...] = ()
    interval: int | None = None
    tags: tuple[str, ...] = ()
    note: str = ""


@dataclass
class ImportResult:
    """Parsed lines of a pasted list or CSV; ``errors`` are (line number, message)."""

    specs: list[WatchSpec] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


# --- Input ---------------------------------------------------------------------


def clean_interval(value: object) -> int:
    """Seconds between scans: a whole number of seconds or ``90m``/``6h``/``1d``/``1w``.

    ``None`` or an empty string is the default. Raises WatchError below the minimum.
    """
    if value is None or value == "":
        return int(settings.CHAINSCAN_WATCH_DEFAULT_INTERVAL)
    if isinstance(value, bool):
        raise WatchError("bad-interval", "'interval' must be a number of seconds")
    if isinstance(value, int):
        seconds = value
    else:
        match = INTERVAL_RE.match(str(value).strip().lower())
        if match is None:
            raise WatchError(
                "bad-interval", f"{str(value)[:40]!r} is not an interval (3600, 90m, 6h, 1d)"
            )
        seconds = int(match.group(1)) * UNITS[match.group(2)]
    minimum = settings.CHAINSCAN_WATCH_MIN_INTERVAL
    if seconds < minimum:
        raise WatchError("bad-interval", f"the interval must be at least {minimum} seconds")
    if seconds > MAX_INTERVAL:
        raise WatchError("bad-interval", "the interval must be at most 366 days")
    return seconds


def clean_tags(value: object) -> tuple[str, ...]:
    """Tags from a list or from text separated by ``;`` or spaces; lower-cased, de-duplicated."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items: list[object] = [t for t in TAG_SPLIT_RE.split(value) if t]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise WatchError("bad-tags", "'tags' must be a list of strings")
    tags: list[str] = []
    for item in items:
        tag = item.strip().lower() if isinstance(item, str) else None
        if not tag or not TAG_RE.match(tag):
            raise WatchError(
                "bad-tags",
                f"{str(item)[:40]!r} is not a tag (letters, digits and . _ : / -, at most 40)",
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise WatchError("bad-tags", f"at most {MAX_TAGS} tags per watch")
    return tuple(tags)


def clean_pins(value: object) -> tuple[str, ...]:
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > MAX_PINNED:
        raise WatchError("bad-ip", f"'ip' must be an address or a list of at most {MAX_PINNED}")
    from django import forms

    try:
        pins = parse_pins(" ".join(v if isinstance(v, str) else "?" for v in value))
    except forms.ValidationError as exc:
        raise WatchError("bad-ip", " ".join(exc.messages)) from None
    return tuple(sorted(pins))


def clean_target(value: object) -> Target:
    if not isinstance(value, str) or not value.strip():
        raise WatchError("bad-host", "a host name such as example.com is needed")
    try:
        return parse_target(value.strip())
    except TargetError as exc:
        raise WatchError("bad-host", str(exc)) from None


def parse_watch_list(
    text: str, *, tags: Sequence[str] = (), interval: int | None = None
) -> ImportResult:
    """Parse a pasted list or an uploaded CSV: one watch per line, ``host[:port],tags,interval``.

    Only the host is required (a plain list of hosts is valid); ``tags`` are
    separated by ``;`` or spaces and added to the form's ``tags``; ``interval``
    is seconds or ``90m``/``6h``/``1d`` and defaults to the form's. Blank lines,
    ``#`` comments and a header line starting with ``host`` are skipped. Every
    bad line is reported with its number; the caller imports nothing then.
    """
    result = ImportResult()
    seen: set[tuple[str, int]] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        fields = [f.strip().strip('"').strip() for f in line.split(",")]
        if number == 1 and fields[0].lower() in ("host", "hostname", "host:port"):
            continue
        if len(fields) > 3:
            result.errors.append((number, "too many fields; use host[:port],tags,interval"))
            continue
        try:
            target = clean_target(fields[0])
            line_tags = clean_tags([*tags, *clean_tags(fields[1] if len(fields) > 1 else "")])
            seconds = clean_interval(fields[2] if len(fields) > 2 and fields[2] else interval)
        except WatchError as exc:
            result.errors.append((number, exc.message))
            continue
        if (target.host, target.port) in seen:
            continue
        seen.add((target.host, target.port))
        result.specs.append(WatchSpec(target=target, interval=seconds, tags=line_tags))
    if len(result.specs) > settings.CHAINSCAN_WATCH_IMPORT_MAX:
        result.errors.append(
            (
                0,
                f"at most {settings.CHAINSCAN_WATCH_IMPORT_MAX} watches at a time "
                f"({len(result.specs)} given)",
            )
        )
    return result


# --- Creating ------------------------------------------------------------------


def _first_next_run(interval: int, now: dt.datetime) -> dt.datetime:
    """After a watch's first scan: somewhere in 10–100 % of its interval (spreads imports)."""
    return now + dt.timedelta(seconds=interval * random.uniform(0.1, 1.0))


def _next_run(watch: Watch, now: dt.datetime) -> dt.datetime:
    if watch.last_scan_id is None:
        return _first_next_run(watch.interval, now)
    jitter = min(settings.CHAINSCAN_SCHEDULER_JITTER, watch.interval / 10)
    return now + dt.timedelta(seconds=watch.interval + random.uniform(0, jitter))


def watch_create(
    *,
    user: Any,
    target: Target,
    pins: Sequence[str] = (),
    interval: int | None = None,
    tags: Sequence[str] = (),
    note: str = "",
    seed_scan: Scan | None = None,
) -> tuple[Watch, bool]:
    """Watch ``target`` for ``user``'s team; ``(watch, created)``.

    The same host, port and pins already watched by the team returns that watch
    (``created`` False), unchanged. ``seed_scan``: the scan the user started
    watching from (a report, the scan form); a finished one becomes the watch's
    first result, an unfinished one its first scan, instead of a new scan.
    """
    spec = WatchSpec(
        target=target,
        pins=tuple(sorted(set(pins))),
        interval=interval,
        tags=tuple(tags),
        note=note[:MAX_NOTE],
    )
    return watches_create_many(
        user=user, specs=[spec], seed_scans=[seed_scan] if seed_scan else []
    )[0]


def watches_create_many(
    *, user: Any, specs: Sequence[WatchSpec], seed_scans: Sequence[Scan] = ()
) -> list[tuple[Watch, bool]]:
    """Create many watches in one transaction (up to CHAINSCAN_WATCH_IMPORT_MAX), a
    constant number of statements however many. Returns ``(watch, created)`` per spec."""
    if len(specs) > settings.CHAINSCAN_WATCH_IMPORT_MAX:
        raise WatchError(
            "too-many", f"at most {settings.CHAINSCAN_WATCH_IMPORT_MAX} watches at a time"
        )
    if not specs:
        return []
    now = timezone.now()
    owner = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        hosts = _hosts_locked({(s.target.host, s.target.port) for s in specs})
        known = {
            (w.host_id, tuple(w.pinned_addresses)): w
            for w in team_watches(user).filter(host__in=list(hosts.values()))
        }
        seeds = {(s.host_id, tuple(s.pinned_addresses)): s for s in seed_scans}
        out: list[tuple[Watch, bool]] = []
        fresh: list[Watch] = []
        for spec in specs:
            host = hosts[(spec.target.host, spec.target.port)]
            key = (host.pk, tuple(sorted(set(spec.pins))))
            if key in known:
                out.append((known[key], False))
                continue
            interval = clean_interval(spec.interval)
            watch = Watch(
                host=host,
                pinned_addresses=list(key[1]),
                interval=interval,
                tags=list(spec.tags),
                note=spec.note[:MAX_NOTE],
                created_by=owner,
                next_run_at=now,
            )
            seed = seeds.get(key)
            if seed is not None and seed.is_finished:
                watch.last_scan = seed
            if seed is not None:
                watch.next_run_at = _first_next_run(interval, now)
            known[key] = watch
            fresh.append(watch)
            out.append((watch, True))
        Watch.objects.bulk_create(fresh)
        adopted = [s.pk for s in seed_scans if not s.is_finished and s.watch_id is None and s.pk]
        if adopted:
            by_key = {(w.host_id, tuple(w.pinned_addresses)): w for w in fresh}
            for scan in Scan.objects.filter(pk__in=adopted):
                owner_watch = by_key.get((scan.host_id, tuple(scan.pinned_addresses)))
                if owner_watch is not None:
                    Scan.objects.filter(pk=scan.pk, watch__isnull=True).update(watch=owner_watch)
        # Unseeded watches get their first scan now, through the scheduler's path.
        _watches_dispatch([w for w in fresh if w.next_run_at == now], now)
    return out


def _hosts_locked(keys: set[tuple[str, int]]) -> dict[tuple[str, int], Host]:
    """The host rows for ``keys``, created if new and locked until commit, so two
    requests watching one host at once take turns (the second finds the first's watch)."""
    Host.objects.bulk_create([Host(hostname=h, port=p) for h, p in keys], ignore_conflicts=True)
    rows = Host.objects.select_for_update().filter(hostname__in={h for h, _ in keys})
    return {(h.hostname, h.port): h for h in rows if (h.hostname, h.port) in keys}


# --- Changing ------------------------------------------------------------------


def watch_update(
    *,
    watch: Watch,
    interval: int | None = None,
    tags: Sequence[str] | None = None,
    note: str | None = None,
    paused: bool | None = None,
    notify_renewals: bool | None = None,
) -> Watch:
    """Change one watch; ``None`` leaves a field as it is. A shorter interval
    brings the next run forward; resuming a watch whose run was due runs it at
    the next tick."""
    watches_update(
        watches=Watch.objects.filter(pk=watch.pk),
        interval=interval,
        tags=tags,
        note=note,
        paused=paused,
        notify_renewals=notify_renewals,
    )
    watch.refresh_from_db()
    return watch


def watches_update(
    *,
    watches: QuerySet[Watch],
    interval: int | None = None,
    tags: Sequence[str] | None = None,
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
    note: str | None = None,
    paused: bool | None = None,
    notify_renewals: bool | None = None,
) -> int:
    """Change many watches at once (the overview's bulk actions). Returns how many."""
    changes: dict[str, Any] = {}
    if interval is not None:
        seconds = clean_interval(interval)
        changes["interval"] = seconds
        changes["next_run_at"] = Least(
            F("next_run_at"), timezone.now() + dt.timedelta(seconds=seconds)
        )
    if tags is not None:
        changes["tags"] = list(clean_tags(list(tags)))
    if note is not None:
        changes["note"] = note[:MAX_NOTE]
    if paused is not None:
        changes["paused"] = paused
    if notify_renewals is not None:
        changes["notify_renewals"] = notify_renewals
    with transaction.atomic():
        count = watches.update(**changes, updated_at=timezone.now()) if changes else 0
        if add_tags or remove_tags:
            add, remove = clean_tags(list(add_tags)), set(clean_tags(list(remove_tags)))
            rows = list(watches.only("pk", "tags"))
            for row in rows:
                merged = [t for t in dict.fromkeys([*row.tags, *add]) if t not in remove]
                row.tags = merged[:MAX_TAGS]
            Watch.objects.bulk_update(rows, ["tags"])
            count = max(count, len(rows))
    return count


def watches_delete(*, watches: QuerySet[Watch]) -> int:
    """Stop watching. The scans stay in the host's history."""
    count, _ = watches.filter().delete()
    return count


def watch_delete(*, watch: Watch) -> None:
    watches_delete(watches=Watch.objects.filter(pk=watch.pk))


def watches_scan_now(*, watches: QuerySet[Watch]) -> list[Scan]:
    """Scan these watches now (their clock restarts). A watch whose scan is still
    queued or running keeps that one: it is returned instead of a second."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(watches.select_for_update(of=("self",)).select_related("host").order_by("pk"))
        busy = {
            s.watch_id: s
            for s in Scan.objects.filter(watch__in=rows, status__in=UNFINISHED).order_by(
                "requested_at"
            )
        }
        scans = _watches_dispatch([w for w in rows if w.pk not in busy], now)
    by_watch = {s.watch_id: s for s in scans}
    by_watch.update(busy)
    return [by_watch[w.pk] for w in rows if w.pk in by_watch]


def watch_scan_now(*, watch: Watch) -> Scan:
    (scan,) = watches_scan_now(watches=Watch.objects.filter(pk=watch.pk))
    return scan


# --- The scheduler -------------------------------------------------------------


def _watches_dispatch(watches: list[Watch], now: dt.datetime) -> list[Scan]:
    """Queue one scan per watch (one INSERT) and move each watch's next run (one UPDATE)."""
    if not watches:
        return []
    scans = scans_enqueue(
        scans=[
            Scan(
                host_id=w.host_id,
                requested_by_id=w.created_by_id,
                pinned_addresses=list(w.pinned_addresses),
                watch=w,
            )
            for w in watches
        ]
    )
    for w in watches:
        w.next_run_at = _next_run(w, now)
    Watch.objects.bulk_update(watches, ["next_run_at"])
    return scans


def due_watches(now: dt.datetime) -> QuerySet[Watch]:
    """Not paused, next run passed, and no scan of the watch still queued or running."""
    unfinished = Scan.objects.filter(watch=OuterRef("pk"), status__in=UNFINISHED)
    return Watch.objects.filter(paused=False, next_run_at__lte=now).exclude(Exists(unfinished))


def _claim_due(now: dt.datetime, batch: int) -> list[Watch]:
    """Lock up to ``batch`` due watches that no other transaction holds."""
    if not connection.features.has_select_for_update_skip_locked:
        # SQLite: any write takes the database's write lock until commit, so a
        # second tick waits here and then sees this one's new next runs.
        Watch.objects.filter(pk=0).update(paused=False)
    return list(
        due_watches(now)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("next_run_at")[:batch]
    )


def watches_dispatch_due(*, now: dt.datetime | None = None, batch: int | None = None) -> int:
    """The scheduler's tick: queue a scan for every due watch, batch by batch.

    Each batch is one transaction of four statements (claim, insert scans,
    update watches, mark dispatched), whatever the number of watches.
    """
    batch = batch or settings.CHAINSCAN_SCHEDULER_BATCH
    total = 0
    while True:
        moment = now or timezone.now()
        with transaction.atomic():
            claimed = _claim_due(moment, batch)
            _watches_dispatch(claimed, moment)
        total += len(claimed)
        if len(claimed) < batch:
            return total


# --- Reading (the overview, the API's list, the metrics) ----------------------------

STATES = ("broken", "failed", "warning", "pending", "ok")
# What each state means on the watch's last finished scan.
STATE_FILTERS = {
    "broken": Q(last_scan__status=Scan.Status.DONE, last_scan__verdict=Scan.Verdict.BROKEN),
    "warning": Q(last_scan__status=Scan.Status.DONE, last_scan__verdict=Scan.Verdict.WARNING),
    "ok": Q(last_scan__status=Scan.Status.DONE, last_scan__verdict=Scan.Verdict.OK),
    "failed": Q(last_scan__status=Scan.Status.FAILED),
    "pending": Q(last_scan__isnull=True),
}
# Most urgent first: broken, could not scan, warning, no result yet, ok.
URGENCY = Case(
    *(When(STATE_FILTERS[state], then=Value(rank)) for rank, state in enumerate(STATES)),
    default=Value(len(STATES)),
)


def _expiring(days: int, now: dt.datetime) -> Q:
    return Q(
        last_scan__status=Scan.Status.DONE,
        last_scan__valid_until__lte=now + dt.timedelta(days=days),
    )


def _changed(days: int, now: dt.datetime) -> Q:
    return Q(last_change__finished_at__gte=now - dt.timedelta(days=days))


def _tagged(tag: str) -> Q:
    # Tags are [a-z0-9._:/-] only, so '"tag"' in the JSON text is that exact tag;
    # the same on Postgres (jsonb::text) and SQLite (JSON stored as text).
    return Q(tags_text__contains=f'"{tag}"')


@dataclass(frozen=True)
class WatchFilter:
    """What the overview, its CSV and the API list narrow the team's watches by."""

    state: str | None = None
    tag: str | None = None
    expiring_within: int | None = None
    changed_within: int | None = None
    search: str | None = None
    paused: bool | None = None


def watches_listed(
    watches: QuerySet[Watch], flt: WatchFilter, now: dt.datetime | None = None
) -> QuerySet[Watch]:
    """``watches`` narrowed by ``flt``, most urgent first, with everything a row shows
    joined in (host, last scan, last change): one statement per page."""
    now = now or timezone.now()
    rows = watches.select_related("host", "last_scan", "last_change").annotate(
        urgency=URGENCY, tags_text=Cast("tags", TextField())
    )
    if flt.state in STATE_FILTERS:
        rows = rows.filter(STATE_FILTERS[flt.state])
    if flt.tag:
        rows = rows.filter(_tagged(flt.tag))
    if flt.expiring_within is not None:
        rows = rows.filter(_expiring(flt.expiring_within, now))
    if flt.changed_within is not None:
        rows = rows.filter(_changed(flt.changed_within, now))
    if flt.paused is not None:
        rows = rows.filter(paused=flt.paused)
    if flt.search:
        rows = rows.filter(
            Q(host__hostname__icontains=flt.search)
            | Q(tags_text__icontains=flt.search)
            | Q(note__icontains=flt.search)
        )
    return rows.order_by(
        "urgency",
        F("last_scan__valid_until").asc(nulls_last=True),
        "host__hostname",
        "host__port",
        "pk",
    )


def watch_counts(watches: QuerySet[Watch], now: dt.datetime | None = None) -> dict[str, int]:
    """The overview's counters, in one statement."""
    now = now or timezone.now()
    days = settings.CHAINSCAN_OVERVIEW_EXPIRY_DAYS
    return watches.aggregate(
        total=Count("pk"),
        **{state: Count("pk", filter=STATE_FILTERS[state]) for state in STATES},
        expiring=Count("pk", filter=_expiring(days, now)),
        changed=Count("pk", filter=_changed(7, now)),
        paused=Count("pk", filter=Q(paused=True)),
    )


def watch_state(watch: Watch) -> str:
    """ok | warning | broken | failed (could not scan) | pending (no scan finished yet)."""
    scan = watch.last_scan
    if scan is None:
        return "pending"
    if scan.status == Scan.Status.FAILED:
        return "failed"
    return scan.verdict or "failed"


def days_left(until: dt.datetime | None, now: dt.datetime | None = None) -> int | None:
    if until is None:
        return None
    return int((until - (now or timezone.now())).total_seconds() // 86400)
