"""Every state change of a scan, in one traceable place.

Views, the API, the CLI-less management commands and the tasks call these;
nothing else writes Scan rows.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from . import alerts
from .engine.report import (
    CertificateInfo,
    EndpointReport,
    Report,
    client_to_json,
    platform_to_json,
)
from .engine.report import Finding as EngineFinding
from .engine.targets import Target
from .models import (
    Certificate,
    ChainEntry,
    Endpoint,
    EndpointSet,
    Finding,
    Host,
    Outcome,
    PrunedScan,
    Scan,
    Watch,
    timings_text,
)
from .scanning import subject_hash

if TYPE_CHECKING:
    from django.contrib.auth.models import User

log = logging.getLogger(__name__)


# --- Requesting --------------------------------------------------------------


def host_get_or_create(*, target: Target) -> Host:
    try:
        host, _ = Host.objects.get_or_create(hostname=target.host, port=target.port)
    except IntegrityError:
        # Two requests created it at once; the other one won.
        host = Host.objects.get(hostname=target.host, port=target.port)
    return host


def _host_locked(*, target: Target) -> tuple[Host, bool]:
    """The host row, locked until commit, and whether it was just created."""
    return Host.objects.select_for_update().get_or_create(hostname=target.host, port=target.port)


def scan_request(
    *,
    targets: Sequence[Target],
    user: object | None = None,
    client_ip: str | None = None,
    pin: Sequence[str] = (),
    watch: Watch | None = None,
) -> list[Scan]:
    """Create one queued scan per target and enqueue each after commit.

    A target already queued or running (same host, port, pinned addresses and requester)
    within ``CHAINSCAN_DEDUP_SECONDS`` returns the existing scan instead of a
    second one: a double-clicked form or a retried API call is harmless.
    """

    window = timezone.now() - dt.timedelta(seconds=settings.CHAINSCAN_DEDUP_SECONDS)
    pinned = sorted(set(pin))
    requested_by = cast("User", user) if getattr(user, "is_authenticated", False) else None
    by_target: dict[Target, Scan] = {}
    with transaction.atomic():
        # Host rows are locked in one order, whatever order the user typed:
        # two submissions of "a, b" and "b, a" locking in input order would
        # each hold one row and wait for the other's (a deadlock, a 500).
        for target in sorted(set(targets), key=lambda t: (t.host, t.port)):
            # The host row, locked until commit: two submissions of one host at
            # the same moment (a double click, a retried API call) take turns,
            # so the second sees the first's scan instead of making its own.
            host, created = _host_locked(target=target)
            existing = (
                Scan.objects.filter(
                    host=host,
                    # Per requester: another team's scan is not in this one's history.
                    requested_by_id=getattr(requested_by, "pk", None),
                    status__in=[Scan.Status.QUEUED, Scan.Status.RUNNING],
                    requested_at__gte=window,
                    pinned_addresses=pinned,
                )
                .order_by("-requested_at")
                .first()
                # A host created just now has no scans to find.
                if settings.CHAINSCAN_DEDUP_SECONDS and not created
                else None
            )
            if existing is not None:
                by_target[target] = existing
                continue
            scan = Scan(
                host=host,
                requested_by=requested_by,
                requested_from=client_ip,
                pinned_addresses=pinned,
                watch=watch,
            )
            by_target[target] = scan
        scans_enqueue(scans=[s for s in by_target.values() if s.pk is None])
    # Returned in the order asked for.
    return [by_target[target] for target in targets]


def scans_enqueue(*, scans: list[Scan]) -> list[Scan]:
    """Insert new scan rows in one statement and send them to the broker after
    commit. The one way a scan enters the queue: ``scan_request`` (a person, the
    API, "scan now") and the scheduler's batches (``monitoring``) both end here."""
    if not scans:
        return scans
    created = Scan.objects.bulk_create(scans)
    transaction.on_commit(functools.partial(scans_dispatch, scan_ids=[s.pk for s in created]))
    return created


def scan_dispatch(*, scan_id: int) -> bool:
    """Send the scan to the broker and note it; a broker outage leaves it for the outbox.

    The row is committed before this runs, so the submission is never lost: if
    Redis is down the scan stays queued with no ``dispatched_at``, and the
    periodic ``flush_outbox`` task sends it once the broker is back.
    """
    return scans_dispatch(scan_ids=[scan_id]) == 1


def scans_dispatch(*, scan_ids: Sequence[int]) -> int:
    """``scan_dispatch`` for many scans: one message each, then one UPDATE for all
    that were sent. Stops at the first broker failure; the rest wait in the outbox."""
    from .tasks import run_scan

    sent: list[int] = []
    try:
        # One producer for the batch: a third less time per message than taking
        # one from the pool each time (the scheduler sends hundreds at once).
        with run_scan.app.producer_or_acquire() as producer:
            for scan_id in scan_ids:
                run_scan.apply_async(args=[scan_id], retry=False, producer=producer)
                sent.append(scan_id)
    except Exception as exc:  # noqa: BLE001 - any broker failure: keep the rows for the outbox
        log.warning(
            "broker unavailable, %s scan(s) left in the outbox: %s", len(scan_ids) - len(sent), exc
        )
    if sent:
        Scan.objects.filter(pk__in=sent, dispatched_at__isnull=True).update(
            dispatched_at=timezone.now()
        )
    return len(sent)


def outbox_flush(*, older_than: dt.timedelta = dt.timedelta(seconds=5)) -> int:
    """Dispatch queued scans that never reached the broker. Returns how many were sent."""
    cutoff = timezone.now() - older_than
    ids = list(
        Scan.objects.filter(
            status=Scan.Status.QUEUED, dispatched_at__isnull=True, requested_at__lte=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
    return scans_dispatch(scan_ids=ids)


# --- Running -----------------------------------------------------------------


def scan_claim(*, scan_id: int, retry: bool = False) -> Scan | None:
    """Move a queued scan to running. ``None`` if another worker has it or it is gone.

    Compare-and-set on the status makes a redelivered or duplicated message
    harmless. A RUNNING scan whose lease expired (its worker died: SIGKILL, OOM,
    a lost node) may be claimed again: that is how a killed scan still finishes.

    The lease is the hard time limit, and the broker redelivers a lost worker's
    message only after the visibility timeout, which the settings keep above
    that limit: by the time the message comes back, the lease has run out.

    ``retry``: the task is retrying after a database error. Its first attempt
    claimed the scan and may not have been able to put it back (the database
    was down), so the RUNNING row is its own and it takes it back at once.
    """
    now = timezone.now()
    lease = dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    running = Q(status=Scan.Status.RUNNING)
    if not retry:
        running &= Q(started_at__lt=now - lease)
    claimed = Scan.objects.filter(Q(status=Scan.Status.QUEUED) | running, pk=scan_id).update(
        status=Scan.Status.RUNNING, started_at=now, dispatched_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return Scan.objects.select_related("host").get(pk=scan_id)


def scan_release(*, scan_id: int) -> None:
    """Put a running scan back in the queue (its task will retry)."""
    Scan.objects.filter(pk=scan_id, status=Scan.Status.RUNNING).update(status=Scan.Status.QUEUED)


def scan_fail(*, scan_id: int, error: str) -> bool:
    """Mark an unfinished scan failed with a reason a person can read."""
    with transaction.atomic():
        failed = bool(
            Scan.objects.filter(
                pk=scan_id, status__in=[Scan.Status.QUEUED, Scan.Status.RUNNING]
            ).update(status=Scan.Status.FAILED, error=error[:2000], finished_at=timezone.now())
        )
        if failed:
            scan = Scan.objects.get(pk=scan_id)
            if scan.watch_id is not None:
                watched_scan_finished(scan=scan)
    return failed


def stuck_after() -> dt.timedelta:
    """How long a scan may stay RUNNING before the sweeper fails it.

    A scan whose worker died comes back by itself: the broker redelivers the
    unacknowledged message once the visibility timeout has passed (kombu
    restores it when a worker starts, and on its periodic sweep), and the new
    claim resets ``started_at``. Failing a scan before that would turn every
    killed scan into a failure. So a scan is stuck only when the visibility
    timeout, one restore sweep and another full time limit (the redelivered
    message may wait in a busy queue) have all passed: its message is gone
    (Redis lost its data) or no worker picks it up.
    """
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    return dt.timedelta(
        seconds=int(str(options["visibility_timeout"]))
        + int(str(options.get("unacked_restore_interval", 0)))
        + settings.CELERY_TASK_TIME_LIMIT
    )


def scans_fail_stuck() -> int:
    """Fail scans left running past their redelivery window, or queued far too long."""
    now = timezone.now()
    stuck_running = Scan.objects.filter(
        status=Scan.Status.RUNNING, started_at__lt=now - stuck_after()
    ).update(
        status=Scan.Status.FAILED,
        finished_at=now,
        error="the scan did not finish within its time limit (the worker may have died); "
        "run it again",
    )
    waited = dt.timedelta(seconds=settings.CHAINSCAN_QUEUED_TIMEOUT)
    stuck_queued = Scan.objects.filter(
        status=Scan.Status.QUEUED, requested_at__lt=now - waited
    ).update(
        status=Scan.Status.FAILED,
        finished_at=now,
        error=f"no worker picked this scan up within {_duration(waited)}; is a worker running?",
    )
    return stuck_running + stuck_queued


# --- Pruning -----------------------------------------------------------------

# Scans pruned per run: bounded work per beat tick; the next tick goes on.
PRUNE_BATCH = 500


def scans_prune_unchanged(*, older_than: dt.timedelta) -> int:
    """Delete routine rescans (change "same") finished before ``older_than`` ago.

    Never pruned: a scan that changed something (first, renewal, material), a
    failed one, one whose permalink was opened (``viewed_at``), the last of its
    history (no later scan has it as ``previous``: the newest of each team's
    history of a host), and a watch's last scan. Each pruned scan leaves a
    tombstone (token → host) so its permalink answers 410, and the scan after
    it is linked to the scan before it instead: it repeated that one, so the
    change marked on the next scan is unchanged. Endpoint sets no scan points
    at any more go too, and then outcomes no endpoint points at. Returns how
    many scans were pruned.

    A recorder that found such a set or outcome by its digest in the milliseconds
    before this commits fails its insert on the foreign key (the scan is then
    failed with an internal error, and the next scan records it afresh):
    locking every shared outcome on each record to close that window would
    serialise every scan that shares one.
    """
    cutoff = timezone.now() - older_than
    candidates = list(
        Scan.objects.filter(
            change=Scan.Change.SAME,
            status=Scan.Status.DONE,
            finished_at__lt=cutoff,
            viewed_at__isnull=True,
        )
        .filter(pk__in=Scan.objects.filter(previous__isnull=False).values("previous_id"))
        .exclude(pk__in=Watch.objects.filter(last_scan__isnull=False).values("last_scan_id"))
        .order_by("pk")
        .only("pk", "token", "host_id", "requested_at", "previous_id")[:PRUNE_BATCH]
    )
    if not candidates:
        return 0
    with transaction.atomic():
        # Oldest first, so a run of pruned scans hands its survivor the first
        # scan before the run.
        replaced: dict[int, int | None] = {}
        for scan in candidates:
            before = scan.previous_id
            while before in replaced:
                before = replaced[before]
            replaced[scan.pk] = before
            Scan.objects.filter(previous_id=scan.pk).update(previous_id=before)
        PrunedScan.objects.bulk_create(
            [
                PrunedScan(token=s.token, host_id=s.host_id, requested_at=s.requested_at)
                for s in candidates
            ],
            ignore_conflicts=True,
        )
        ids = [s.pk for s in candidates]
        sets = set(
            Scan.objects.filter(pk__in=ids, endpoint_set__isnull=False).values_list(
                "endpoint_set_id", flat=True
            )
        )
        outcomes = set(
            Endpoint.objects.filter(endpoint_set_id__in=sets).values_list("outcome_id", flat=True)
        )
        Scan.objects.filter(pk__in=ids).delete()
        EndpointSet.objects.filter(pk__in=sets, scans__isnull=True).delete()
        Outcome.objects.filter(pk__in=outcomes, endpoints__isnull=True).delete()
    return len(candidates)


def _duration(span: dt.timedelta) -> str:
    """``6 hours``, ``10 minutes``, ``45 seconds``: the largest whole unit."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


# --- Recording ---------------------------------------------------------------


def certificates_store(*, infos: Iterable[CertificateInfo]) -> dict[str, Certificate]:
    """Store each distinct certificate once; return them by SHA-256."""
    wanted: dict[str, CertificateInfo] = {}
    for info in infos:
        wanted.setdefault(info.sha256, info)
    if not wanted:
        return {}
    # Only what a foreign key needs: the DER and names are already stored.
    existing = {
        c.sha256: c for c in Certificate.objects.filter(sha256__in=list(wanted)).only("sha256")
    }
    missing = [_certificate_row(info) for sha, info in wanted.items() if sha not in existing]
    if missing:
        Certificate.objects.bulk_create(missing, ignore_conflicts=True)
        existing.update(
            {
                c.sha256: c
                for c in Certificate.objects.filter(sha256__in=[m.sha256 for m in missing]).only(
                    "sha256"
                )
            }
        )
    return existing


def certificates_learn(*, sha256s: Iterable[str]) -> None:
    """Make these stored certificates learned issuers (the intermediate cache).

    Callers pass intermediates of expected chains only: the verifier built
    those paths to a trusted root, so each one is proven to issue its child
    (signature and names). Nothing a server or issuer URL merely sent is
    learned, so junk carrying a real intermediate's name cannot displace it.
    """
    wanted = set(sha256s)
    if wanted:
        Certificate.objects.filter(sha256__in=wanted, learned_at__isnull=True, is_ca=True).update(
            learned_at=timezone.now()
        )


def _certificate_row(info: CertificateInfo) -> Certificate:
    return Certificate(
        sha256=info.sha256,
        der=info.der,
        subject=info.subject,
        issuer=info.issuer,
        subject_hash=subject_hash(info.subject),
        common_name=info.common_name,
        serial=info.serial,
        not_before=info.not_before,
        not_after=info.not_after,
        spki_sha256=info.spki_sha256,
        sha1=info.sha1,
        ski=info.ski or "",
        aki=info.aki or "",
        signature_algorithm=info.signature_algorithm[:100],
        signature_hash=info.signature_hash or "",
        key_type=info.key_type,
        key_size=info.key_size,
        is_ca=info.is_ca and info.parse_error is None,
        self_signed=info.self_signed,
        aia_issuers=list(info.aia_issuers),
        san=list(info.san),
        parse_error=info.parse_error or "",
    )


def _digest(parts: Iterable[str]) -> bytes:
    return hashlib.sha256("\n".join(parts).encode()).digest()


def report_digests(report: Report) -> tuple[bytes, bytes, bytes]:
    served = _digest(f"{e.key}={','.join(e.served_fingerprint())}" for e in report.endpoints)
    expected = _digest(f"{e.key}={','.join(e.expected_fingerprint())}" for e in report.endpoints)
    # Code and severity: a warning that became an error is a change, never "same".
    findings = _digest(sorted({f"{f.code}:{f.severity}" for f in report.all_findings()}))
    return served, expected, findings


def report_expiry_and_counts(report: Report) -> tuple[str, dict[str, int]]:
    """Which certificate expires first (at ``report.valid_until``, on the expected
    chain or its root) as a name a person recognises, and findings by severity.

    Severities without a finding are left out of the counts (readers take a
    missing one as 0): a clean scan stores ``{}``, not 60 bytes of zeros."""
    first = ""
    if report.valid_until is not None:
        for endpoint in report.endpoints:
            chain = (*endpoint.expected, *((endpoint.anchor,) if endpoint.anchor else ()))
            match = next((c for c in chain if c.not_after == report.valid_until), None)
            if match is not None:
                first = (match.common_name or match.subject)[:500]
                break
    counts: dict[str, int] = {}
    for finding in report.all_findings():
        counts[finding.severity.value] = counts.get(finding.severity.value, 0) + 1
    return first, counts


def scan_record(*, scan: Scan, report: Report) -> Scan:
    """Persist a finished report on the scan this worker claimed. Returns the scan, now
    done or failed — or, if the claim no longer holds, the scan as stored.

    One transaction that starts with a compare-and-set: the scan row is updated
    only if it is still RUNNING under this claim (same ``attempts``), and only
    then are the report's rows written. A finished scan, or one whose lease
    ran out and that another worker claimed, is left as it is, so a finished
    scan is never rewritten and permalinks stay stable. Two recorders of one
    scan serialise on that row's lock; the second finds it no longer running.
    """
    from .history import classify_change

    done = copy.copy(scan)
    done.status = Scan.Status.FAILED if report.error else Scan.Status.DONE
    done.error = (report.error or "")[:2000]
    done.verdict = report.verdict.value
    done.trust_store = report.trust_store[:200]
    done.duration_ms = report.duration_ms
    done.valid_until = report.valid_until
    done.finished_at = timezone.now()
    done.served_digest, done.expected_digest, done.findings_digest = report_digests(report)
    done.expires_first, done.findings_counts = report_expiry_and_counts(report)
    classify_change(scan=done, report=report)
    done.timings = timings_text((e.connect_ms, e.handshake_ms) for e in report.endpoints)
    try:
        with transaction.atomic():
            # What the endpoints found, shared with earlier scans (written first:
            # the scan row points at it), then the compare-and-set on the claim.
            done.endpoint_set = _endpoint_set_store(report)
            claimed = Scan.objects.filter(
                pk=scan.pk, status=Scan.Status.RUNNING, attempts=scan.attempts
            ).update(**{name: getattr(done, name) for name in _RECORDED})
            if not claimed:
                raise _NotClaimed
            _scan_findings_create(done, report)
            if done.watch_id is not None:
                watched_scan_finished(scan=done)
            return done
    except _NotClaimed:
        pass  # rolled back: a scan recorded under another claim gets nothing of this one
    stored = Scan.objects.select_related("host").get(pk=scan.pk)
    log.info("scan %s is %s under another claim, not recording", scan.pk, stored.status)
    return stored


class _NotClaimed(Exception):
    """The scan is no longer running under this claim: undo what was written for it."""


def watched_scan_finished(*, scan: Scan) -> None:
    """A scan of a watch finished (done or failed): inside the transaction that
    recorded it, so whatever follows from it (the watch's last scan, incidents,
    the notifications' outbox rows) is committed with the scan or not at all."""
    if scan.watch_id is None:
        return
    changes: dict[str, Scan] = {"last_scan": scan}
    if scan.change and scan.change not in (Scan.Change.FIRST, Scan.Change.SAME):
        # A renewal, a material change, a rollback or an improvement (a fix).
        changes["last_change"] = scan
    Watch.objects.filter(pk=scan.watch_id).update(**changes)
    alerts.scan_finished(scan=scan)


# What scan_record writes on the scan row itself.
_RECORDED = (
    "served_digest",
    "expected_digest",
    "findings_digest",
    "status",
    "error",
    "verdict",
    "trust_store",
    "duration_ms",
    "valid_until",
    "finished_at",
    "change",
    "change_summary",
    "previous",
    "expires_first",
    "findings_counts",
    "endpoint_set",
    "timings",
)


def _endpoint_set_store(report: Report) -> EndpointSet | None:
    """The report's certificates, and its endpoints as a shared set; ``None`` for a
    report without endpoints.

    The set is looked up by its digest (``endpoint_set_digest``): an unchanged
    rescan finds it and writes nothing more. A new set's endpoints point at
    outcomes (chains with roles, findings, clients, verdict) looked up by their
    own digests; new outcomes are written with their chain entries and
    findings. A fixed number of statements whatever the number of endpoints
    (bulk inserts, no per-row queries).

    Two recorders writing the same new set or outcome at once write identical
    rows; the conflicting inserts are skipped (unique digests, chain slot,
    finding slot, endpoint position), so both end up pointing at one complete set.
    """
    certs = certificates_store(
        infos=[
            c
            for e in report.endpoints
            for c in (*e.served, *e.expected, *((e.anchor,) if e.anchor else ()))
        ]
    )
    # The expected chain is the verifier's path, leaf first and root left out.
    certificates_learn(sha256s=[c.sha256 for e in report.endpoints for c in e.expected[1:]])
    if not report.endpoints:
        return None
    digests = [outcome_digest(e) for e in report.endpoints]
    set_digest = endpoint_set_digest(report.endpoints, digests)
    found = EndpointSet.objects.filter(digest=set_digest).only("pk").first()
    if found is not None:
        return found
    outcomes = _outcomes_store(dict(zip(digests, report.endpoints, strict=True)), certs)
    EndpointSet.objects.bulk_create([EndpointSet(digest=set_digest)], ignore_conflicts=True)
    endpoint_set = EndpointSet.objects.only("pk").get(digest=set_digest)
    Endpoint.objects.bulk_create(
        [
            _endpoint_row(endpoint_set, index, e, outcomes[d])
            for index, (d, e) in enumerate(zip(digests, report.endpoints, strict=True))
        ],
        ignore_conflicts=True,
    )
    return endpoint_set


def _outcomes_store(
    by_digest: dict[str, EndpointReport], certs: dict[str, Certificate]
) -> dict[str, Outcome]:
    """The stored outcome of each digest, written with its chain entries and
    findings when it is new."""
    outcomes = {
        o.digest: o for o in Outcome.objects.filter(digest__in=list(by_digest)).only("pk", "digest")
    }
    new = {d: e for d, e in by_digest.items() if d not in outcomes}
    if not new:
        return outcomes
    Outcome.objects.bulk_create(
        [_outcome_row(d, e, certs) for d, e in new.items()], ignore_conflicts=True
    )
    outcomes.update(
        (o.digest, o) for o in Outcome.objects.filter(digest__in=list(new)).only("pk", "digest")
    )
    ChainEntry.objects.bulk_create(
        [
            ChainEntry(
                outcome=outcomes[d],
                kind=kind,
                position=i,
                certificate=certs[c.sha256],
                role=roles[i] if i < len(roles) else "",
            )
            for d, endpoint in new.items()
            for kind, chain, roles in (
                (ChainEntry.Kind.SERVED, endpoint.served, endpoint.served_roles),
                (ChainEntry.Kind.EXPECTED, endpoint.expected, endpoint.expected_roles),
            )
            for i, c in enumerate(chain)
        ],
        ignore_conflicts=True,
    )
    Finding.objects.bulk_create(
        [
            _finding_row(f, position, outcome=outcomes[d])
            for d, endpoint in new.items()
            for position, f in enumerate(endpoint.findings)
        ],
        ignore_conflicts=True,
    )
    return outcomes


def _scan_findings_create(scan: Scan, report: Report) -> None:
    """The scan-wide findings (the no-SNI mismatch, DNS…), which belong to this scan."""
    if report.findings:
        Finding.objects.bulk_create(
            [_finding_row(f, position, scan=scan) for position, f in enumerate(report.findings)],
            ignore_conflicts=True,
        )


def endpoint_set_digest(
    endpoints: Sequence[EndpointReport], outcome_digests: Sequence[str]
) -> bytes:
    """SHA-256 of a scan's endpoints as a set row stores them: per endpoint, in
    order, its address, port, SNI, TLS version, cipher, Server header and the
    digest of its outcome. Equal digests: the scans can share one set."""
    content = [
        [e.address, e.port, e.sni, e.tls_version or "", e.cipher or "", e.server or "", d]
        for e, d in zip(endpoints, outcome_digests, strict=True)
    ]
    return hashlib.sha256(json.dumps(content).encode()).digest()


def outcome_digest(endpoint: EndpointReport) -> str:
    """SHA-256 of everything an endpoint found, apart from its address and timings.

    Equal digests mean equal outcomes: the key endpoints share outcomes by.
    """
    content = {
        "served": [[c.sha256, r] for c, r in _with_roles(endpoint.served, endpoint.served_roles)],
        "expected": [
            [c.sha256, r] for c, r in _with_roles(endpoint.expected, endpoint.expected_roles)
        ],
        "anchor": endpoint.anchor.sha256 if endpoint.anchor else None,
        "anchor_source": endpoint.anchor_source,
        "verdict": endpoint.verdict.value,
        "error": endpoint.error,
        "valid_until": endpoint.valid_until.isoformat() if endpoint.valid_until else None,
        "clients": [client_to_json(c) for c in endpoint.clients],
        "platforms": [platform_to_json(p) for p in endpoint.platforms],
        "findings": [
            [f.code, f.severity.value, f.title, f.detail, f.fix, f.certificates, f.clients]
            for f in endpoint.findings
        ],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _with_roles(
    certs: Sequence[CertificateInfo], roles: Sequence[str]
) -> list[tuple[CertificateInfo, str]]:
    return [(c, roles[i] if i < len(roles) else "") for i, c in enumerate(certs)]


def _outcome_row(digest: str, endpoint: EndpointReport, certs: dict[str, Certificate]) -> Outcome:
    return Outcome(
        digest=digest,
        verdict=endpoint.verdict.value,
        error=endpoint.error or "",
        valid_until=endpoint.valid_until,
        anchor=certs[endpoint.anchor.sha256] if endpoint.anchor else None,
        anchor_source=endpoint.anchor_source or "",
        clients=[client_to_json(c) for c in endpoint.clients],
        platforms=[platform_to_json(p) for p in endpoint.platforms],
    )


def _endpoint_row(
    endpoint_set: EndpointSet, index: int, endpoint: EndpointReport, outcome: Outcome
) -> Endpoint:
    return Endpoint(
        endpoint_set=endpoint_set,
        position=index,
        address=endpoint.address,
        port=endpoint.port,
        sni=endpoint.sni or "",
        no_sni=endpoint.sni is None,
        tls_version=endpoint.tls_version or "",
        cipher=endpoint.cipher or "",
        outcome=outcome,
        server=endpoint.server or "",
    )


def _capped(text: str) -> str:
    """Finding text within CHAINSCAN_MAX_FINDING_CHARS: it quotes names servers chose."""
    limit = settings.CHAINSCAN_MAX_FINDING_CHARS
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finding_row(
    finding: EngineFinding,
    position: int,
    *,
    scan: Scan | None = None,
    outcome: Outcome | None = None,
) -> Finding:
    return Finding(
        scan=scan,
        outcome=outcome,
        position=position,
        code=finding.code,
        severity=finding.severity.value,
        title=_capped(finding.title),
        detail=_capped(finding.detail),
        fix=_capped(finding.fix),
        certificates=list(finding.certificates),
        clients=list(finding.clients),
    )
