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


class Certificate(models.Model):
    """One distinct certificate (SHA-256 of the DER is its identity).

    Shared by every scan that saw it. CA certificates double as the learned
    intermediate cache the analysis draws on to build expected chains.
    """

    sha256 = models.CharField(max_length=64, unique=True)
    der = models.BinaryField()
    subject = models.TextField()
    issuer = models.TextField()
    # SHA-256 of the subject string: long subjects cannot be btree-indexed, and
    # the learned-issuer lookup is "CA certificates whose subject is X".
    subject_hash = models.CharField(max_length=64)
    common_name = models.TextField(blank=True)
    serial = models.TextField(blank=True)
    not_before = models.DateTimeField(null=True)
    not_after = models.DateTimeField(null=True)
    spki_sha256 = models.CharField(max_length=64, blank=True)
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

    class Meta:
        indexes = [
            # Learned issuers: CA certificates by subject (analysis issuer source).
            models.Index(fields=["subject_hash"], name="cert_ca_subject", condition=Q(is_ca=True)),
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
        """How this scan differs from the previous finished scan of its host."""

        FIRST = "first", "first scan"
        SAME = "same", "no change"
        RENEWAL = "renewal", "routine renewal"
        MATERIAL = "material", "material change"

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="scans")
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
    # previous scan to mark changes without loading old scans' chains.
    served_digest = models.CharField(max_length=64, blank=True)
    expected_digest = models.CharField(max_length=64, blank=True)
    findings_digest = models.CharField(max_length=64, blank=True)
    change = models.CharField(max_length=10, choices=Change.choices, blank=True)
    change_summary = models.TextField(blank=True)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The watch that asked for this scan (the scheduler, "scan now"); empty for
    # scans typed by a person.
    watch = models.ForeignKey(
        "Watch", null=True, blank=True, on_delete=models.SET_NULL, related_name="scans"
    )

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


class Endpoint(models.Model):
    """One address of a scan, with SNI or without (``sni`` empty, ``no_sni`` set)."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="endpoints")
    position = models.PositiveSmallIntegerField()
    address = models.CharField(max_length=64)
    port = models.PositiveIntegerField()
    sni = models.CharField(max_length=253, blank=True)
    no_sni = models.BooleanField(default=False)
    tls_version = models.CharField(max_length=20, blank=True)
    cipher = models.CharField(max_length=100, blank=True)
    connect_ms = models.FloatField(null=True)
    handshake_ms = models.FloatField(null=True)
    error = models.CharField(max_length=40, blank=True)
    verdict = models.CharField(max_length=10, choices=Scan.Verdict.choices)
    valid_until = models.DateTimeField(null=True)
    anchor = models.ForeignKey(Certificate, null=True, on_delete=models.PROTECT, related_name="+")
    anchor_source = models.CharField(max_length=200, blank=True)
    clients = models.JSONField(default=list)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["scan", "position"], name="endpoint_position"),
        ]

    def __str__(self) -> str:
        return f"{self.address}:{self.port}{' (no SNI)' if self.no_sni else ''}"


class ChainEntry(models.Model):
    """A certificate at a position of an endpoint's served or expected chain."""

    class Kind(models.TextChoices):
        SERVED = "served"
        EXPECTED = "expected"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="chain")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    position = models.PositiveSmallIntegerField()
    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["kind", "position"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "kind", "position"], name="chain_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.position}"


class Finding(models.Model):
    """A finding of a scan; ``endpoint`` is empty for scan-wide findings."""

    class Severity(models.TextChoices):
        ERROR = "error"
        WARNING = "warning"
        INFO = "info"

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="findings")
    endpoint = models.ForeignKey(
        Endpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="findings"
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

    def __str__(self) -> str:
        return f"{self.code} ({self.severity})"


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
