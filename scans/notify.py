"""Sending the outbox: Notification rows → email, webhook, Slack, Teams, Discord, ntfy.

The notify task (its own queue) calls ``notification_send``. Rows of one group
(one certificate, kind and threshold on one channel) are sent as one message
once no new row arrived for CHAINSCAN_NOTIFY_GROUP_SECONDS. Timeouts, 429 and
5xx are retried with backoff; other answers fail at once. Every HTTP request
goes through the scanner's address policy, connects to the address it
checked, follows no redirect, times out and reads a bounded answer.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .alerts import CHANGE_MATERIAL, CHANGE_RENEWAL, OPENED, RESOLVED, TEST, one_line
from .engine.network import ResolveError, SystemResolver
from .engine.policy import AddressBlocked, AddressPolicy, parse_ip
from .models import Channel, Notification

log = logging.getLogger(__name__)

USER_AGENT = "chainscan-notify/1"
# Hosts a text message lists by name; the webhook body lists every target.
MAX_LISTED = 50


# --- Queueing --------------------------------------------------------------------------


def enqueue(rows: Iterable[Notification]) -> None:
    """Hand rows to the notify queue (after commit). A broker outage leaves them to
    the periodic ``flush_notifications``."""
    from .tasks import send_notification

    now = timezone.now()
    sent: list[int] = []
    for row in rows:
        delay = max(0.0, (row.next_attempt_at - now).total_seconds())
        try:
            send_notification.apply_async(args=[row.pk], countdown=delay, retry=False)
        except Exception as exc:  # noqa: BLE001 - any broker failure: the flush sends it later
            log.warning("broker unavailable, notification %s left in the outbox: %s", row.pk, exc)
            break
        sent.append(row.pk)
    if sent:
        Notification.objects.filter(pk__in=sent).update(dispatched_at=now)


def notifications_flush() -> int:
    """Send what the broker never got, take back rows a dead worker held, send reminders."""
    now = timezone.now()
    # A message the broker holds may wait behind a slow receiver's backlog; one
    # older than the visibility timeout is lost (Redis would have redelivered it).
    lost = now - dt.timedelta(
        seconds=int(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]))
    )
    Notification.objects.filter(status=Notification.Status.SENDING, next_attempt_at__lt=now).update(
        status=Notification.Status.PENDING, dispatched_at=None
    )
    due = list(
        Notification.objects.filter(
            Q(dispatched_at=None) | Q(dispatched_at__lt=lost),
            status=Notification.Status.PENDING,
            next_attempt_at__lte=now,
        ).order_by("pk")[:1000]
    )
    enqueue(due)
    return len(due) + reminders_create() + notifications_prune()


def notifications_prune(*, batch: int = 5000) -> int:
    """Forget log lines older than CHAINSCAN_NOTIFY_KEEP_DAYS (the outbox is no
    unbounded table). Rows of a still-open incident stay: reminders count from them."""
    cutoff = timezone.now() - dt.timedelta(days=settings.CHAINSCAN_NOTIFY_KEEP_DAYS)
    old = Notification.objects.filter(
        Q(incident=None) | Q(incident__resolved_at__isnull=False),
        created_at__lt=cutoff,
        status__in=[
            Notification.Status.SENT,
            Notification.Status.FAILED,
            Notification.Status.MERGED,
        ],
    ).values_list("pk", flat=True)[:batch]
    deleted, _ = Notification.objects.filter(pk__in=list(old)).delete()
    return deleted


def reminders_create() -> int:
    """While an incident stays open, channels that ask for it hear of it every N hours."""
    from .alerts import OPENED as OPENED_EVENT
    from .alerts import teammates
    from .models import Incident

    now = timezone.now()
    made: list[Notification] = []
    for channel in Channel.objects.filter(enabled=True, remind_hours__gt=0):
        every = dt.timedelta(hours=channel.remind_hours)
        incidents = Incident.objects.filter(
            resolved_at=None, watch__created_by__in=teammates(channel.created_by_id)
        )
        for incident in incidents:
            last = channel.notifications.filter(incident=incident).order_by("-created_at").first()
            if last is None or now - last.created_at < every:
                continue
            payload = dict(last.payload)
            payload["reminder"] = True
            made.append(
                Notification(
                    channel=channel,
                    incident=incident,
                    event=OPENED_EVENT,
                    payload=payload,
                    next_attempt_at=now,
                )
            )
    if made:
        Notification.objects.bulk_create(made)
        transaction.on_commit(lambda: enqueue(made))
    return len(made)


def channel_test(*, channel: Channel) -> Notification:
    """Queue a test message for ``channel`` (the "Send test" button and API)."""
    from .alerts import absolute, team_name

    row = Notification.objects.create(
        channel=channel,
        event=TEST,
        next_attempt_at=timezone.now(),
        payload={
            "host": "example.com",
            "port": 443,
            "report_url": absolute("/"),
            "diff_url": None,
            "team": team_name(channel.created_by_id),
            "verdict": "ok",
            "kind": "test",
            "title": "test message",
            "summary": f"chainscan can reach the channel {channel.name!r}.",
            "fix": "",
            "finding": "",
            "earliest_expiry": "",
            "certificate": None,
            "incident": None,
        },
    )
    transaction.on_commit(lambda: enqueue([row]))
    return row


# --- Sending ---------------------------------------------------------------------------


def notification_send(*, notification_id: int) -> str:
    """Send one row (and the rows grouped with it). Returns what happened, for the log."""
    picked = _claim(notification_id)
    if isinstance(picked, str):
        return picked
    leader, members = picked
    channel = leader.channel
    message = build_message(leader, members)
    started = time.monotonic()
    try:
        answer = deliver(channel, message)
        error, retryable = "", False
    except DeliveryError as exc:
        answer, error, retryable = exc.status, str(exc), exc.retryable
    latency = (time.monotonic() - started) * 1000
    return _record(leader, answer, error, retryable, latency)


def _claim(notification_id: int) -> tuple[Notification, list[Notification]] | str:
    now = timezone.now()
    with transaction.atomic():
        row = Notification.objects.filter(pk=notification_id).first()
        if row is None or row.status != Notification.Status.PENDING:
            return "not pending"
        if row.group_key:
            pending = Notification.objects.filter(
                channel_id=row.channel_id,
                group_key=row.group_key,
                status=Notification.Status.PENDING,
            )
            if pending.filter(pk__lt=row.pk).exists():
                # Cheap, without a lock: a thousand hosts' rows must not each lock the group.
                return "grouped under another row"
            # The whole group, locked in id order (two senders cannot deadlock).
            members = list(
                Notification.objects.select_for_update()
                .filter(
                    channel_id=row.channel_id,
                    group_key=row.group_key,
                    status=Notification.Status.PENDING,
                )
                .order_by("pk")
            )
        else:
            members = list(
                Notification.objects.select_for_update(skip_locked=True).filter(
                    pk=row.pk, status=Notification.Status.PENDING
                )
            )
        if not members or members[0].pk != row.pk:
            return "grouped under another row"  # that row's own message sends this one
        leader = members[0]
        if leader.next_attempt_at > now + dt.timedelta(seconds=1):
            return "not due"  # an early duplicate; the row's own message comes later
        if len(members) > 1 or leader.group_key:
            quiet = dt.timedelta(seconds=settings.CHAINSCAN_NOTIFY_GROUP_SECONDS)
            newest = max(m.created_at for m in members)
            waited = now - leader.created_at
            if now - newest < quiet and waited < dt.timedelta(
                seconds=settings.CHAINSCAN_NOTIFY_GROUP_MAX_SECONDS
            ):
                # More hosts may follow (a shared intermediate reaching its
                # threshold on every host of a scheduler tick): wait for quiet.
                leader.next_attempt_at = newest + quiet
                leader.save(update_fields=["next_attempt_at"])
                transaction.on_commit(lambda: enqueue([leader]))
                return "waiting for the group"
        channel = Channel.objects.get(pk=leader.channel_id)
        if not channel.enabled:
            Notification.objects.filter(pk__in=[m.pk for m in members]).update(
                status=Notification.Status.FAILED, error="the channel is disabled"
            )
            return "channel disabled"
        lease = dt.timedelta(seconds=settings.CHAINSCAN_NOTIFY_TIMEOUT * 3 + 30)
        Notification.objects.filter(pk=leader.pk).update(
            status=Notification.Status.SENDING,
            attempts=F("attempts") + 1,
            next_attempt_at=now + lease,
        )
        Notification.objects.filter(pk__in=[m.pk for m in members[1:]]).update(
            status=Notification.Status.MERGED, merged_into=leader
        )
    leader.channel = channel
    leader.attempts += 1
    return leader, members


def _record(
    leader: Notification, answer: int | None, error: str, retryable: bool, latency: float
) -> str:
    now = timezone.now()
    channel = leader.channel
    with transaction.atomic():
        if not error:
            Notification.objects.filter(pk=leader.pk).update(
                status=Notification.Status.SENT,
                sent_at=now,
                latency_ms=latency,
                response_status=answer,
                error="",
            )
            Channel.objects.filter(pk=channel.pk).update(failures=0)
            return "sent"
        again = retryable and leader.attempts < settings.CHAINSCAN_NOTIFY_MAX_ATTEMPTS
        wait = backoff(leader.attempts)
        Notification.objects.filter(pk=leader.pk).update(
            status=Notification.Status.PENDING if again else Notification.Status.FAILED,
            next_attempt_at=now + dt.timedelta(seconds=wait),
            latency_ms=latency,
            response_status=answer,
            error=error[:2000],
        )
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        locked.failures += 1
        if locked.failures >= settings.CHAINSCAN_NOTIFY_DISABLE_AFTER and locked.enabled:
            locked.enabled = False
            locked.disabled_reason = (
                f"disabled after {locked.failures} failed deliveries in a row; last: {error[:300]}"
            )
        locked.save(update_fields=["failures", "enabled", "disabled_reason"])
        if again:
            leader.next_attempt_at = now + dt.timedelta(seconds=wait)
            transaction.on_commit(lambda: enqueue([leader]))
    return f"retry in {wait:.0f} s: {error}" if again else f"failed: {error}"


def backoff(attempts: int) -> float:
    """Seconds before the next try: doubling from CHAINSCAN_NOTIFY_RETRY_BACKOFF, capped,
    with ±20 % jitter so a receiver coming back is not hit by every row at once."""
    base = settings.CHAINSCAN_NOTIFY_RETRY_BACKOFF * 2 ** max(0, attempts - 1)
    return min(base, settings.CHAINSCAN_NOTIFY_RETRY_BACKOFF_MAX) * random.uniform(0.8, 1.2)


# --- Messages ----------------------------------------------------------------------------

_LABELS = {
    ("breakage", OPENED): "BROKEN",
    ("breakage", RESOLVED): "FIXED",
    ("unreachable", OPENED): "UNREACHABLE",
    ("unreachable", RESOLVED): "REACHABLE",
    ("expiry", OPENED): "EXPIRING",
    ("expiry", RESOLVED): "RENEWED",
    ("change", CHANGE_MATERIAL): "CHANGED",
    ("change", CHANGE_RENEWAL): "RENEWED",
    ("test", TEST): "TEST",
}


@dataclass
class Message:
    """One message, whatever the channel: the webhook body and the text formats."""

    event: str
    kind: str
    team: str
    verdict: str
    title: str
    summary: str
    subject: str
    lines: list[str]
    targets: list[dict[str, Any]]
    certificate: dict[str, Any] | None
    incident: dict[str, Any] | None
    reminder: bool = False
    sent_at: str = field(default_factory=lambda: timezone.now().isoformat())

    def webhook_body(self) -> dict[str, Any]:
        """The stable body (documented under ``webhooks`` in /api/openapi.json)."""
        return {
            "event": self.event,
            "kind": self.kind,
            "team": self.team,
            "verdict": self.verdict,
            "title": self.title,
            "summary": self.summary,
            "targets": self.targets,
            "certificate": self.certificate,
            "incident": self.incident,
            "sent_at": self.sent_at,
        }

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def severe(self) -> bool:
        return self.event == OPENED and self.kind in ("breakage", "unreachable")


def _target_name(p: dict[str, Any]) -> str:
    host = p["host"]
    return f"[{host}]:{p['port']}" if ":" in host else f"{host}:{p['port']}"


def build_message(leader: Notification, members: Sequence[Notification]) -> Message:
    first = leader.payload
    kind = first.get("kind", "test")
    label = _LABELS.get((kind, leader.event), leader.event.upper())
    if first.get("reminder"):
        label = f"STILL {label}"
    targets = [
        {
            "host": m.payload["host"],
            "port": m.payload["port"],
            "report_url": m.payload["report_url"],
            "diff_url": m.payload.get("diff_url"),
        }
        for m in members
    ]
    title = first.get("title", "")
    if leader.event == RESOLVED:
        headline = first.get("summary") or "resolved"
    elif leader.event in (CHANGE_MATERIAL, CHANGE_RENEWAL):
        headline = first.get("summary") or title
    else:
        headline = title
    if len(members) > 1:
        subject = f"{label} {one_line(headline, 160)} — on {len(members)} hosts"
    else:
        subject = f"{label} {_target_name(first)} — {one_line(headline, 160)}"
    lines = [subject, ""]
    if first.get("finding") and leader.event == OPENED and kind == "breakage":
        lines.append(f"Top finding: {one_line(first['finding'], 300)}")
    if first.get("fix") and leader.event == OPENED and kind == "breakage":
        lines.append(f"Fix: {one_line(first['fix'], 400)}")
    elif first.get("summary") and leader.event not in (RESOLVED,):
        lines.append(one_line(first["summary"], 600))
    if first.get("earliest_expiry"):
        lines.append(f"Earliest expiry: {first['earliest_expiry']}")
    lines.append("")
    for t in targets[:MAX_LISTED]:
        lines.append(f"{_target_name(t)}: report {t['report_url']}")
        if t.get("diff_url"):
            lines.append(f"    diff {t['diff_url']}")
    if len(targets) > MAX_LISTED:
        lines.append(f"… and {len(targets) - MAX_LISTED} more hosts (the overview lists them all)")
    return Message(
        event=leader.event,
        kind=kind,
        team=first.get("team", ""),
        verdict=first.get("verdict", ""),
        title=one_line(title, 300),
        summary=first.get("summary", ""),
        subject=subject,
        lines=lines,
        targets=targets,
        certificate=first.get("certificate"),
        incident=first.get("incident") if len(members) == 1 else None,
        reminder=bool(first.get("reminder")),
    )


# --- Formats per channel kind ----------------------------------------------------------


def _slack_escape(text: str) -> str:
    # Slack and Mattermost read <…> as links and mentions (<!channel>).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(m: Message) -> dict[str, Any]:
    links = " · ".join(
        f"<{t['report_url']}|{_slack_escape(_target_name(t))}>"
        + (f" (<{t['diff_url']}|diff>)" if t.get("diff_url") else "")
        for t in m.targets[:MAX_LISTED]
    )
    details = "\n".join(_slack_escape(line) for line in m.lines[2:] if line and "http" not in line)
    return {
        "text": _slack_escape(m.subject),
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{_slack_escape(m.subject)}*"},
            },
            *(
                [{"type": "section", "text": {"type": "mrkdwn", "text": details[:2900]}}]
                if details
                else []
            ),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": links[:2900] or " "}]},
        ],
    }


def teams_body(m: Message) -> dict[str, Any]:
    """A Workflows webhook ("Post to a channel when a webhook request is received")
    takes a message with an Adaptive Card attachment."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": m.subject,
            "weight": "Bolder",
            "wrap": True,
            "color": "Attention" if m.severe else "Default",
        }
    ]
    body += [
        {"type": "TextBlock", "text": line, "wrap": True}
        for line in m.lines[2:]
        if line and "http" not in line
    ]
    body.append(
        {
            "type": "FactSet",
            "facts": [
                {"title": _target_name(t), "value": t["report_url"]} for t in m.targets[:MAX_LISTED]
            ],
        }
    )
    first = m.targets[0] if m.targets else None
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Report", "url": first["report_url"]}]
        if first
        else [],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def discord_body(m: Message) -> dict[str, Any]:
    return {
        "content": m.subject[:1900],
        # Names from certificates must not ping @everyone.
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": m.subject[:250],
                "description": "\n".join(line for line in m.lines[2:] if line)[:4000],
                "url": m.targets[0]["report_url"] if m.targets else None,
                "color": 0xC0392B if m.severe else 0x2E86C1,
            }
        ],
    }


def _header_text(text: str) -> str:
    """ntfy reads RFC 2047 encoded words in headers; HTTP headers are Latin-1 only."""
    try:
        text.encode("ascii")
        return text
    except UnicodeEncodeError:
        return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def ntfy_request(m: Message, channel: Channel) -> tuple[bytes, dict[str, str]]:
    headers = {
        "Title": _header_text(m.subject[:250]),
        "Priority": "high" if m.severe else "default",
        "Tags": "rotating_light"
        if m.severe
        else ("white_check_mark" if m.event == RESOLVED else "lock"),
        "Content-Type": "text/plain; charset=utf-8",
    }
    if m.targets:
        headers["Click"] = m.targets[0]["report_url"]
    if channel.secret:
        headers["Authorization"] = f"Bearer {channel.secret}"
    return "\n".join(m.lines[2:]).strip().encode()[:4000], headers


def signed_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """X-Chainscan-Signature: sha256=hex(HMAC-SHA256(secret, "<timestamp>.<body>"))."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {
        "X-Chainscan-Timestamp": str(timestamp),
        "X-Chainscan-Signature": f"sha256={mac.hexdigest()}",
    }


def request_for(channel: Channel, m: Message) -> tuple[bytes, dict[str, str]]:
    """The body and headers a channel kind receives."""
    if channel.kind == Channel.Kind.NTFY:
        return ntfy_request(m, channel)
    payload = {
        Channel.Kind.WEBHOOK: m.webhook_body,
        Channel.Kind.SLACK: lambda: slack_body(m),
        Channel.Kind.TEAMS: lambda: teams_body(m),
        Channel.Kind.DISCORD: lambda: discord_body(m),
    }[Channel.Kind(channel.kind)]()
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if channel.kind == Channel.Kind.WEBHOOK:
        headers["X-Chainscan-Event"] = m.event
        if channel.secret:
            headers.update(signed_headers(channel.secret, body, int(time.time())))
    return body, headers


# --- Delivery --------------------------------------------------------------------------


class DeliveryError(Exception):
    """A delivery failed; ``retryable`` for timeouts, 429 and 5xx."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


def deliver(channel: Channel, m: Message) -> int | None:
    """Send ``m`` on ``channel``; the HTTP status (``None`` for email). Raises DeliveryError."""
    if channel.kind == Channel.Kind.EMAIL:
        send_email(channel, m)
        return None
    body, headers = request_for(channel, m)
    return post(channel.url, body, headers)


def send_email(channel: Channel, m: Message) -> None:
    try:
        EmailMessage(
            subject=m.subject[:200],
            body=m.text,
            to=list(channel.to),
            headers={"X-Chainscan-Event": m.event},
        ).send()
    except TimeoutError as exc:
        raise DeliveryError(f"the mail server timed out: {exc}", retryable=True) from None
    except OSError as exc:
        # smtplib's errors are OSErrors: 4xx answers and lost connections pass,
        # a 5xx refusal (no such mailbox) will not.
        code = getattr(exc, "smtp_code", None)
        retry = code is None or 400 <= int(code) < 500
        raise DeliveryError(f"the mail server refused: {exc}", retryable=retry) from None


def notify_policy() -> AddressPolicy:
    return AddressPolicy(allowed_networks=tuple(settings.CHAINSCAN_NOTIFY_ALLOWED_NETWORKS))


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST to ``url`` through the address policy; the status of a 2xx answer."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"{url!r} is not an http(s) URL", retryable=False)
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DeliveryError("the URL's port is not a number", retryable=False) from None
    timeout = settings.CHAINSCAN_NOTIFY_TIMEOUT
    policy = notify_policy()
    literal = parse_ip(host)
    try:
        candidates = [str(literal)] if literal else SystemResolver(timeout).resolve(host, port)
    except ResolveError as exc:
        raise DeliveryError(str(exc), retryable=True) from None
    allowed, blocked = [], ""
    for address in candidates:
        try:
            allowed.append(str(policy.check(address)))
        except AddressBlocked as exc:
            blocked = (
                str(exc)
                .replace("CHAINSCAN_ALLOW_PRIVATE_ADDRESSES or ", "")
                .replace("CHAINSCAN_ALLOWED_NETWORKS", "CHAINSCAN_NOTIFY_ALLOWED_NETWORKS")
            )
    if not allowed:
        raise DeliveryError(blocked or f"{host} has no address", retryable=False)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _PinnedConnection(
        host, port, allowed[0], https=parts.scheme == "https", timeout=timeout
    )
    # The socket timeout bounds each read; this bounds the whole exchange, so a
    # receiver trickling its answer a byte at a time cannot hold a thread.
    watchdog = threading.Timer(timeout, connection.abort)
    watchdog.start()
    try:
        connection.request("POST", path, body=body, headers={"User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        response.read(settings.CHAINSCAN_NOTIFY_MAX_RESPONSE)  # bounded; the rest is dropped
        status = response.status
        if connection.aborted:  # cut mid-answer: http.client may take a truncated one
            raise TimeoutError
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, TimeoutError) or connection.aborted:
            raise DeliveryError(
                f"{host} did not answer within {timeout:g} s", retryable=True
            ) from None
        raise DeliveryError(f"{host}: {exc.__class__.__name__}: {exc}", retryable=True) from None
    finally:
        watchdog.cancel()
        connection.close()
    if 200 <= status < 300:
        return status
    retry = status == 429 or status >= 500
    where = " (redirects are not followed)" if 300 <= status < 400 else ""
    raise DeliveryError(f"{host} answered HTTP {status}{where}", retryable=retry, status=status)


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to the address the policy checked (no second lookup), with TLS
    verified against the URL's host name for https."""

    def __init__(self, host: str, port: int, address: str, *, https: bool, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.https = https
        self.aborted = False

    def abort(self) -> None:
        """Cut the connection (from the watchdog's thread): any read in progress fails."""
        self.aborted = True
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), timeout=self.timeout)
        if self.https:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


# --- Presentation helpers --------------------------------------------------------------


def masked(value: str) -> str:
    """A saved URL or secret as pages and the API show it: its scheme and host only."""
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme and parts.hostname:
        return f"{parts.scheme}://{parts.hostname}/…"
    return "•" * 8
