"""Persistence for scans: hosts, scans, endpoints, chains, findings, certificates.

The engine's report data classes are the source; these tables store them so
that history, diffs and permalinks work. A finished scan is never rewritten.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_token() -> str:
    """A permalink token: 256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


class DigestField(models.BinaryField):
    """A SHA-256 digest stored as its 32 bytes (``bytea``/BLOB), half the size of
    its hex text, and read as ``bytes`` (never a memoryview), so digests compare
    with ``==``. A hex string given to it is stored as the bytes it spells."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 32)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> bytes | None:
        return None if value is None else bytes(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            return bytes.fromhex(value)
        return super().to_python(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return bytes.fromhex(value) if isinstance(value, str) else value


def timings_text(pairs: Any) -> str:
    """Each endpoint's (connect_ms, handshake_ms) as compact text: ``0.4,1.2;0.3,``
    (``repr`` of each float, so it reads back exactly; empty for ``None``)."""
    return ";".join(",".join("" if v is None else repr(v) for v in pair) for pair in pairs)


def timings_parse(text: str) -> list[tuple[float | None, float | None]]:
    """``timings_text`` read back: one (connect_ms, handshake_ms) per endpoint."""
    out: list[tuple[float | None, float | None]] = []
    for item in text.split(";") if text else ():
        connect, _, handshake = item.partition(",")
        out.append((float(connect) if connect else None, float(handshake) if handshake else None))
    return out


class Certificate(models.Model):
    """One distinct certificate (SHA-256 of the DER is its identity).

    Shared by every scan that saw it. CA certificates proven to issue a child
    on a verified path (``learned_at`` set) are the learned intermediate cache
    the analysis draws on to build expected chains; what a server or an issuer
    URL merely sent is stored for its report and never learned.
    """

    sha256 = models.CharField(max_length=64, unique=True)
    der = models.BinaryField()
    subject = models.TextField()
    issuer = models.TextField()
    # SHA-256 of the subject string: long subjects cannot be btree-indexed, and
    # the learned-issuer lookup is "proven CA certificates whose subject is X".
    subject_hash = models.CharField(max_length=64)
    common_name = models.TextField(blank=True)
    serial = models.TextField(blank=True)
    not_before = models.DateTimeField(null=True)
    not_after = models.DateTimeField(null=True)
    spki_sha256 = models.CharField(max_length=64, blank=True)
    # The thumbprint Windows tools show (certlm.msc, Cert: drive, IIS bindings).
    sha1 = models.CharField(max_length=40, blank=True)
    ski = models.CharField(max_length=128, blank=True)
    aki = models.CharField(max_length=128, blank=True)
    signature_algorithm = models.CharField(max_length=100)
    signature_hash = models.CharField(max_length=32, blank=True)
    key_type = models.CharField(max_length=40)
    key_size = models.PositiveIntegerField(default=0)
    is_ca = models.BooleanField(default=False)
    self_signed = models.BooleanField(default=False)
    aia_issuers = models.JSONField(default=list)
    san = models.JSONField(default=list)
    parse_error = models.TextField(blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    # When a scan first found this certificate as an intermediate on the path
    # the verifier built to a trusted root (signature and names checked).
    learned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Learned issuers: "proven CA certificates with subject X (and key id Y)",
            # the analysis' issuer source (scanning.LearnedIssuers).
            models.Index(
                fields=["subject_hash", "ski"],
                name="cert_learned_issuer",
                condition=Q(learned_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.common_name or self.subject} ({self.sha256[:16]})"


class Host(models.Model):
    """A host name (IDNA A-label, lower case, or an IP) and port."""

    hostname = models.CharField(max_length=253)
    port = models.PositiveIntegerField(default=443)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hostname", "port"], name="host_unique"),
            models.CheckConstraint(
                condition=Q(port__gte=1) & Q(port__lte=65535), name="host_port_range"
            ),
        ]

    def __str__(self) -> str:
        # The same text parse_target() reads back: host pages use it as their slug.
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return host if self.port == 443 else f"{host}:{self.port}"


# The Scan.change values that are material (a rollback is one, said as such).
MATERIAL_CHANGES = frozenset({"material", "rollback"})


class Scan(models.Model):
    """One scan of one host, at one time. Its token is the permalink."""

    class Status(models.TextChoices):
        """Transitions: QUEUED → RUNNING → DONE | FAILED, and QUEUED → FAILED
        (the stuck-scan sweeper). RUNNING → QUEUED only by redelivery after a
        lost worker (the claim accepts a RUNNING row whose lease expired)."""

        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Verdict(models.TextChoices):
        OK = "ok"
        WARNING = "warning"
        BROKEN = "broken"

    class Change(models.TextChoices):
        """How this scan differs from the previous finished scan of its host
        (``scans.engine.diff.ChangeKind``). MATERIAL and ROLLBACK are the
        material changes (``MATERIAL_CHANGES``): what a team is told about.
        IMPROVEMENT is a fix (a finding resolved or eased, nothing worse);
        RENEWAL a newer leaf, same names, same or sibling issuer, nothing worse."""

        FIRST = "first", "first scan"
        SAME = "same", "no change"
        RENEWAL = "renewal", "routine renewal"
        IMPROVEMENT = "improvement", "improvement"
        ROLLBACK = "rollback", "rollback to an older certificate"
        MATERIAL = "material", "material change"

    # Unique through scan_token_unique (a plain unique index: ``unique=True``
    # would add a second, LIKE-pattern index on Postgres that no query uses).
    token = models.CharField(max_length=64, default=new_token, editable=False)
    # No index of its own: scan_host_recent (host first) serves every lookup by host.
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="scans", db_index=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    requested_from = models.GenericIPAddressField(null=True, blank=True)
    pinned_addresses = models.JSONField(default=list, blank=True)
    trust_store = models.CharField(max_length=200, blank=True)
    verdict = models.CharField(max_length=10, choices=Verdict.choices, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    # Digests of what was served / expected / found, compared with the
    # previous scan to mark changes without loading old scans' chains
    # (SHA-256, 32 bytes each; empty for a scan without a report).
    served_digest = DigestField(blank=True, default=b"")
    expected_digest = DigestField(blank=True, default=b"")
    findings_digest = DigestField(blank=True, default=b"")
    change = models.CharField(max_length=12, choices=Change.choices, blank=True)
    change_summary = models.TextField(blank=True)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The watch that asked for this scan (the scheduler, "scan now"); empty for
    # scans typed by a person.
    watch = models.ForeignKey(
        "Watch", null=True, blank=True, on_delete=models.SET_NULL, related_name="scans"
    )
    # When the permalink (page or API) was first opened: a scan someone read
    # is never pruned by CHAINSCAN_KEEP_UNCHANGED_DAYS.
    viewed_at = models.DateTimeField(null=True, blank=True)
    # Which certificate of the expected chain (or its root) expires first, at
    # ``valid_until``: an intermediate expiring before the leaf is the surprise
    # the overview must show. And how many findings of each severity the scan
    # had (severities with none left out: read a missing one as 0). Both
    # written at record time so the overview and /metrics read one row per watch.
    expires_first = models.TextField(blank=True)
    findings_counts = models.JSONField(default=dict, blank=True)
    # What the scan's addresses found, shared with every scan that found exactly
    # the same (an unchanged rescan points at its predecessor's set), and the
    # one thing that differs each time: each endpoint's connect and handshake
    # times, in the set's order (``timings_text``). Empty for a scan without a report.
    endpoint_set = models.ForeignKey(
        "EndpointSet", null=True, blank=True, on_delete=models.PROTECT, related_name="scans"
    )
    timings = models.TextField(blank=True)

    class Meta:
        indexes = [
            # Host history, newest first (host page, API history, "latest report").
            models.Index(fields=["host", "-requested_at", "-id"], name="scan_host_recent"),
            # Stuck-scan sweeper and outbox: unfinished scans by age.
            models.Index(
                fields=["status", "requested_at"],
                name="scan_unfinished",
                condition=Q(status__in=["queued", "running"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["token"], name="scan_token_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]),
                name="scan_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(finished_at__isnull=False),
                name="scan_done_has_finished_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.host} @ {self.requested_at:%Y-%m-%d %H:%M:%S} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def is_material_change(self) -> bool:
        """A change a team wants to hear about (alerts): material or a rollback."""
        return self.change in MATERIAL_CHANGES

    @property
    def endpoints(self) -> models.QuerySet[Endpoint]:
        """This scan's endpoints (its endpoint set's, in order); none without a report.
        Their timings are this scan's ``timings``, not on the shared rows."""
        if self.endpoint_set_id is None:
            return Endpoint.objects.none()
        return Endpoint.objects.filter(endpoint_set_id=self.endpoint_set_id)


class Outcome(models.Model):
    """What one endpoint found, shared by every endpoint that found exactly the same.

    The served and expected chains (with each certificate's role), the anchor,
    the findings, the client verdicts and the verdict, keyed by a digest of all
    of it. Endpoints point at outcomes instead of copying chains and findings,
    and an unchanged rescan points at the endpoint set the scan before it
    recorded (``EndpointSet``): a host rescanned every hour grows by one scan
    row per scan.

    Immutable once written: a finished scan is never rewritten, so neither is
    anything it points at.
    """

    digest = models.CharField(max_length=64, unique=True)
    verdict = models.CharField(max_length=10, choices=Scan.Verdict.choices)
    # A finding code (connect-failed…) when no chain could be read.
    error = models.CharField(max_length=40, blank=True)
    valid_until = models.DateTimeField(null=True)
    anchor = models.ForeignKey(Certificate, null=True, on_delete=models.PROTECT, related_name="+")
    anchor_source = models.CharField(max_length=200, blank=True)
    clients = models.JSONField(default=list)
    # One verdict per platform (engine PlatformVerdict as JSON); [] for scans before platforms.
    platforms = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"outcome {self.digest[:12]} ({self.verdict})"


class EndpointSet(models.Model):
    """The endpoints of a scan, shared by every scan whose endpoints are the same.

    Keyed by a digest of each endpoint's address, port, SNI, TLS version,
    cipher, Server header and outcome, in order. An unchanged rescan finds its
    predecessor's set and stores only a reference and its timings on the scan
    row: no endpoint row per address per scan. Immutable once written, like
    outcomes.
    """

    digest = DigestField(unique=True)

    def __str__(self) -> str:
        return f"endpoint set {bytes(self.digest).hex()[:12]}"


class Endpoint(models.Model):
    """One address of an endpoint set, with SNI or without (``sni`` empty, ``no_sni`` set).

    What is particular to this address (address, TLS version, cipher, Server
    header); what it found is its ``outcome``, shared. The times a scan took to
    connect and handshake are the scan's (``Scan.timings``).
    """

    # No index of its own: endpoint_set_position (set first) serves lookups by set.
    endpoint_set = models.ForeignKey(
        EndpointSet, on_delete=models.CASCADE, related_name="endpoints", db_index=False
    )
    position = models.PositiveSmallIntegerField()
    address = models.CharField(max_length=64)
    port = models.PositiveIntegerField()
    sni = models.CharField(max_length=253, blank=True)
    no_sni = models.BooleanField(default=False)
    tls_version = models.CharField(max_length=20, blank=True)
    cipher = models.CharField(max_length=100, blank=True)
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="endpoints")
    # The HTTP Server header the endpoint answered with ("Microsoft-IIS/10.0"), when it did.
    server = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint_set", "position"], name="endpoint_set_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address}:{self.port}{' (no SNI)' if self.no_sni else ''}"

    # What the endpoint found, read through its outcome (the fields that lived
    # here before outcomes were shared).
    @property
    def verdict(self) -> str:
        return self.outcome.verdict

    @property
    def error(self) -> str:
        return self.outcome.error

    @property
    def valid_until(self) -> Any:
        return self.outcome.valid_until

    @property
    def anchor(self) -> Certificate | None:
        return self.outcome.anchor

    @property
    def anchor_source(self) -> str:
        return self.outcome.anchor_source

    @property
    def clients(self) -> Any:
        return self.outcome.clients

    @property
    def findings(self) -> Any:
        return self.outcome.findings

    @property
    def chain(self) -> Any:
        return self.outcome.chain


class ChainEntry(models.Model):
    """A certificate at a position of an outcome's served or expected chain."""

    class Kind(models.TextChoices):
        SERVED = "served"
        EXPECTED = "expected"

    outcome = models.ForeignKey(Outcome, on_delete=models.CASCADE, related_name="chain")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    position = models.PositiveSmallIntegerField()
    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT, related_name="+")
    # The engine's Role (leaf, in-place, alternate-path, not-served…); empty for
    # chains recorded before roles existed (reports.py derives one then).
    role = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["kind", "position"]
        constraints = [
            models.UniqueConstraint(fields=["outcome", "kind", "position"], name="chain_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.position}"


class Finding(models.Model):
    """A finding of an endpoint's outcome, or a scan-wide one (``scan`` set)."""

    class Severity(models.TextChoices):
        ERROR = "error"
        WARNING = "warning"
        INFO = "info"

    scan = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.CASCADE, related_name="findings"
    )
    outcome = models.ForeignKey(
        Outcome, null=True, blank=True, on_delete=models.CASCADE, related_name="findings"
    )
    position = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.TextField()
    detail = models.TextField()
    fix = models.TextField()
    certificates = models.JSONField(default=list)
    clients = models.JSONField(default=list)

    class Meta:
        ordering = ["position"]
        constraints = [
            # One owner: an outcome's finding or a scan-wide one.
            models.CheckConstraint(
                condition=Q(scan__isnull=True, outcome__isnull=False)
                | Q(scan__isnull=False, outcome__isnull=True),
                name="finding_one_owner",
            ),
            # Two recorders writing one new outcome at once write the same rows:
            # the second insert is skipped on this key.
            models.UniqueConstraint(
                fields=["outcome", "position"],
                name="finding_outcome_slot",
                condition=Q(outcome__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.severity})"


class PrunedScan(models.Model):
    """What is left of a routine rescan pruned by ``CHAINSCAN_KEEP_UNCHANGED_DAYS``:
    its permalink token and host, so the permalink answers 410 with a link to
    the host's history instead of 404."""

    token = models.CharField(max_length=64, unique=True)
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="+")
    requested_at = models.DateTimeField()
    pruned_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"pruned scan of {self.host} @ {self.requested_at:%Y-%m-%d %H:%M}"


class TrustAnchor(models.Model):
    """Extra roots for private PKIs, uploaded as a PEM bundle in the admin."""

    name = models.CharField(max_length=100, unique=True)
    pem = models.TextField(help_text="One or more PEM certificates (the roots of your private CA).")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A user's API token. Only its SHA-256 is stored; the token is shown once.

    Made by its owner (the token page, the admin) or by a superuser for
    someone else (the admin, ``manage.py api_token``), never by anyone else:
    a token acts with all of its user's rights. ``expires_at`` (optional) ends
    it; ``read_only`` lets it GET but not change anything.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, default="api")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Written at most once a minute (scans.api), so it is "last used around".
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Leave empty for a token that does not expire."
    )
    read_only = models.BooleanField(
        default=False, help_text="May read (GET) but not request scans or change anything."
    )

    # The secret just made by set_new_key, on that instance only; never stored.
    new_key: str | None = None

    def __str__(self) -> str:
        return f"{self.user} · {self.name} ({self.prefix}…)"

    @property
    def expired(self) -> bool:
        from django.utils import timezone

        return self.expires_at is not None and self.expires_at <= timezone.now()

    @staticmethod
    def hash_key(key: str) -> str:
        import hashlib

        return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()

    def set_new_key(self) -> str:
        """Give the (unsaved) row a fresh secret; return it. Only its hash is kept."""
        key = "cs_" + secrets.token_urlsafe(32)
        self.key_hash = self.hash_key(key)
        self.prefix = key[3:11]
        self.new_key = key
        return key

    @staticmethod
    def may_issue(*, by: Any, user: Any) -> bool:
        """Whether ``by`` may create a token for ``user``: their own, or a superuser's say."""
        return bool(by.is_superuser or by.pk == user.pk)

    @classmethod
    def issue(
        cls,
        *,
        user: Any,
        name: str = "api",
        expires_at: Any = None,
        read_only: bool = False,
    ) -> tuple[ApiToken, str]:
        """Create a token; return the row and the secret (shown once, never stored).

        Callers acting for a person check ``may_issue`` first.
        """
        row = cls(user=user, name=name, expires_at=expires_at, read_only=read_only)
        key = row.set_new_key()
        row.save()
        return row, key


def new_watch_id() -> str:
    """A watch's public id in URLs and the API (72 random bits, not a row number)."""
    return "w" + secrets.token_urlsafe(9)


def new_badge_token() -> str:
    """The unguessable part of a watch's badge URL (128 random bits)."""
    return secrets.token_urlsafe(16)


class Watch(models.Model):
    """A host:port (optionally pinned addresses) that chainscan rescans on its own.

    Owned by a team the way scans are: ``created_by`` and everyone sharing a
    group with them see and manage it. The scheduler turns due watches
    (not paused, ``next_run_at <= now``, no scan of it still unfinished) into
    scans through ``services.scan_request``; those scans are requested by
    ``created_by`` so their history is the team's history.
    """

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="watches")
    # Sorted, de-duplicated addresses to connect to instead of resolving.
    pinned_addresses = models.JSONField(default=list, blank=True)
    interval = models.PositiveIntegerField(help_text="Seconds between scans.")
    tags = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    paused = models.BooleanField(default=False)
    # Alert on routine renewals too, not only on material changes.
    notify_renewals = models.BooleanField(default=False)
    next_run_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="watches"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The newest finished scan of this watch: the overview and the metrics
    # read one row per watch instead of searching the history.
    last_scan = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    badge_token = models.CharField(
        max_length=32, unique=True, default=new_badge_token, editable=False
    )
    uid = models.CharField(max_length=16, unique=True, default=new_watch_id, editable=False)
    # The newest scan of this watch that was a renewal or a material change:
    # the overview's "last change" column and its "changed in 7 days" count.
    last_change = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            # The scheduler's tick: due, unpaused watches by time.
            models.Index(fields=["next_run_at"], name="watch_due", condition=Q(paused=False)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(interval__gte=1), name="watch_interval_positive"),
        ]

    def __str__(self) -> str:
        pins = f" via {', '.join(self.pinned_addresses)}" if self.pinned_addresses else ""
        return f"watch {self.host}{pins}"


# --- Alerts: incidents, channels, notifications (scans/alerts.py, scans/notify.py) ---


def new_channel_id() -> str:
    """A channel's public id (URLs and the API): 72 random bits, URL-safe."""
    return secrets.token_urlsafe(9)


class Incident(models.Model):
    """Something wrong with a watched host, opened by one scan and resolved by a later one.

    ``key`` tells incidents of one kind apart on one watch (expiry: certificate
    SHA-256 and threshold; the others: empty). At most one incident per
    (watch, kind, key) is open, which the database enforces. A change is a
    one-off event: its incident is opened and resolved by the same scan.
    """

    class Kind(models.TextChoices):
        BREAKAGE = "breakage"
        UNREACHABLE = "unreachable"
        EXPIRY = "expiry"
        CHANGE = "change"

    watch = models.ForeignKey(Watch, on_delete=models.CASCADE, related_name="incidents")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.CharField(max_length=100, blank=True)
    title = models.TextField()
    summary = models.TextField(blank=True)
    # The certificate an expiry (or a shared-certificate breakage) is about.
    certificate = models.ForeignKey(
        Certificate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_by = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="+")
    resolved_by = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Open incidents (host page, overview, API ?open=true, reminders).
            models.Index(
                fields=["watch", "kind"], name="incident_open", condition=Q(resolved_at=None)
            ),
            # "Was this threshold of this certificate ever alerted?" (expiry keys).
            models.Index(fields=["watch", "kind", "key"], name="incident_key"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["watch", "kind", "key"],
                condition=Q(resolved_at=None),
                name="incident_one_open",
            ),
        ]

    def __str__(self) -> str:
        state = "open" if self.resolved_at is None else "resolved"
        return f"{self.kind} {self.key} on {self.watch_id} ({state})"


class Channel(models.Model):
    """Where a team's notifications go. URL and secret are write-only once saved."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"
        SLACK = "slack", "Slack / Mattermost"
        TEAMS = "teams", "Microsoft Teams (Workflows)"
        DISCORD = "discord", "Discord"
        NTFY = "ntfy", "ntfy"

    public_id = models.CharField(max_length=16, unique=True, default=new_channel_id, editable=False)
    # The team is the creator and everyone sharing a group with them (scans/access.py).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channels"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100)
    url = models.TextField(blank=True)
    secret = models.TextField(blank=True)
    to = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    # Reminders while an incident stays open: every N hours, 0 = never.
    remind_hours = models.PositiveIntegerField(default=0)
    # Failed delivery attempts in a row; at CHAINSCAN_NOTIFY_DISABLE_AFTER the
    # channel is disabled and the overview says so.
    failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.name}"


class Notification(models.Model):
    """One event for one channel: the outbox row, and afterwards its log line.

    Written in the transaction that records the scan; sent by the notify task.
    Rows with the same ``group_key`` on one channel (one certificate, one kind,
    one threshold) are sent as one message: the first row carries it and the
    others point at it with ``merged_into``.

    Transitions: PENDING → SENDING → SENT | PENDING (retry later) | FAILED;
    PENDING → MERGED.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        MERGED = "merged"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=20)
    group_key = models.CharField(max_length=200, blank=True)
    # What the message says about this row's target (host, links, title…),
    # fixed when the scan is recorded.
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField()
    # When its message last reached the broker; empty: the broker was down at
    # commit time, and the periodic flush sends it.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )

    class Meta:
        indexes = [
            # The outbox sweep: rows due for (another) attempt.
            models.Index(
                fields=["next_attempt_at"],
                name="notification_due",
                condition=Q(status__in=["pending", "sending"]),
            ),
            # The sender's group: pending rows of one channel and key.
            models.Index(
                fields=["channel", "group_key"],
                name="notification_group",
                condition=Q(status="pending"),
            ),
            # The channel's log, newest first.
            models.Index(fields=["channel", "-created_at"], name="notification_log"),
            # Pruning: finished rows by age (notify.notifications_prune).
            models.Index(
                fields=["created_at"],
                name="notification_prune",
                condition=Q(status__in=["sent", "failed", "merged"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.channel_id} ({self.status})"


class CheckResult(models.Model):
    """A pasted chain's analysis ("Check a chain"), kept so its permalink reopens it.

    The engine's report JSON (with DER, for the downloads) is stored as it was
    produced: a check is judged once, at its "as of" time, and never rewritten.
    Viewable by whoever holds the token, like a scan's permalink.
    """

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hostname = models.CharField(max_length=253, blank=True)
    # The moment the chain was judged at (the form's "as of" date, else now).
    evaluated_at = models.DateTimeField()
    verdict = models.CharField(max_length=10, choices=Scan.Verdict.choices)
    report = models.JSONField()
    # What was pasted or uploaded, as PEM, shown under the result.
    pem = models.TextField()

    class Meta:
        indexes = [
            # Pruning old checks by age.
            models.Index(fields=["created_at"], name="check_created"),
        ]

    def __str__(self) -> str:
        return f"check {self.hostname or '(no host)'} @ {self.created_at:%Y-%m-%d %H:%M}"
