"""Delivering notifications to real receivers on loopback: an HTTP server that checks
each webhook's signature, and an SMTP server (aiosmtpd) that receives the mail.

The sender runs in-process here (``notify.notification_send``, what the notify
task calls); tests/test_alerts_e2e.py drives the same code through a worker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.utils import timezone
from jsonschema import Draft202012Validator

from scans import notify
from scans.models import Channel, Notification
from scans.openapi import document
from tests import pki
from tests.factories import chains, record_report, record_scan, watch_for
from tests.factories import engine_report as report_for
from tests.httpserver import HookReceiver
from tests.tlsserver import free_port

pytestmark = pytest.mark.django_db

SECRET = "a-webhook-secret-of-some-length"


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    with HookReceiver() as server:
        yield server


def channel(user, kind: str, url: str = "", **fields: Any) -> Channel:
    return Channel.objects.create(created_by=user, kind=kind, name=kind, url=url, **fields)


def broken_watch(user) -> Any:
    """A watch whose first scan serves X1 for an X3 leaf: one breakage incident opened."""
    watch = watch_for(user)
    with time_machine.travel(pki.NOW, tick=False):
        record_scan(chains().served_x1(), user=user, watch=watch)
    return watch


def send_all(ch: Channel) -> list[str]:
    return [notify.notification_send(notification_id=n.pk) for n in ch.notifications.order_by("pk")]


def verify(headers: dict[str, str], body: bytes, secret: str = SECRET) -> bool:
    """What a receiver does (the README's snippet): recompute the HMAC over "<timestamp>.<body>"."""
    timestamp = headers["X-Chainscan-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(headers["X-Chainscan-Signature"], f"sha256={expected.hexdigest()}")


def test_a_webhook_is_signed_and_its_body_is_the_documented_one(alice, receiver):
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    broken_watch(alice)
    assert send_all(hook) == ["sent"]

    ((path, headers, body),) = receiver.received
    assert path == "/hook" and verify(headers, body)
    assert not verify(headers, body, secret="another secret")
    assert abs(int(headers["X-Chainscan-Timestamp"]) - time.time()) < 60
    data = json.loads(body)
    documented(data)
    assert data["event"] == "incident.opened" and data["kind"] == "breakage"
    assert data["verdict"] == "broken" and data["team"] == "alice"
    assert data["title"] == "Wrong intermediate: right key, wrong name"
    (target,) = data["targets"]
    assert target["host"] == "x3.example.com" and target["port"] == 443
    assert target["report_url"].startswith("http://chainscan.test/r/")
    assert data["incident"]["resolved_at"] is None
    row = hook.notifications.get()
    assert row.status == "sent" and row.response_status == 200 and row.latency_ms is not None


def documented(data: dict[str, Any]) -> None:
    """Validate a received body against the WebhookEvent schema of /api/openapi.json."""
    schema = document("http://testserver/")["components"]["schemas"]["WebhookEvent"]
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(data)


def test_a_tampered_body_fails_the_signature(alice, receiver):
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    broken_watch(alice)
    send_all(hook)
    ((_, headers, body),) = receiver.received
    assert not verify(headers, body.replace(b"broken", b"ok"))


@pytest.mark.parametrize("kind", ["slack", "teams", "discord", "ntfy"])
def test_each_chat_kind_gets_its_own_short_format(alice, receiver, kind):
    ch = channel(alice, kind, receiver.url(f"/{kind}"), secret="tk_token" if kind == "ntfy" else "")
    broken_watch(alice)
    assert send_all(ch) == ["sent"]
    ((_, headers, body),) = receiver.received
    subject = "BROKEN x3.example.com:443 — Wrong intermediate: right key, wrong name"
    if kind == "ntfy":
        # The title is RFC 2047 encoded (it has an em dash; headers are Latin-1).
        assert headers["Title"].startswith("=?UTF-8?B?")
        assert headers["Priority"] == "high" and headers["Authorization"] == "Bearer tk_token"
        assert headers["Click"].startswith("http://chainscan.test/r/")
        assert b"Fix:" in body
        return
    data = json.loads(body)
    if kind == "slack":
        assert data["text"] == subject
        assert any("Fix:" in b.get("text", {}).get("text", "") for b in data["blocks"])
    elif kind == "teams":
        card = data["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert card["content"]["type"] == "AdaptiveCard"
        assert card["content"]["body"][0]["text"] == subject
    else:
        assert data["content"] == subject and data["allowed_mentions"] == {"parse": []}
        assert data["embeds"][0]["url"].startswith("http://chainscan.test/r/")


def test_hostile_names_cannot_mention_everyone_in_slack(alice, receiver):
    m = notify.Message(
        event="incident.opened",
        kind="breakage",
        team="t",
        verdict="broken",
        title="<!channel> pwned",
        summary="",
        subject="BROKEN a:443 — <!channel> pwned",
        lines=["BROKEN a:443 — <!channel> pwned", "", "Fix: <@U123>"],
        targets=[],
        certificate=None,
        incident=None,
    )
    body = json.dumps(notify.slack_body(m))
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, list[Any]]]:
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            received.append(envelope)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, received
    controller.stop()


def test_an_email_reaches_a_real_smtp_server(alice, smtp, settings):
    controller, received = smtp
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    mail = channel(alice, "email", to=["ops@example.com", "oncall@example.com"])
    watch = broken_watch(alice)
    assert send_all(mail) == ["sent"]

    (envelope,) = received
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    message = message_from_bytes(envelope.content)
    from email.header import decode_header, make_header

    subject = str(make_header(decode_header(message["Subject"])))
    assert subject == "BROKEN x3.example.com:443 — Wrong intermediate: right key, wrong name"
    text = message.get_payload(decode=True).decode()
    assert "Top finding: Wrong intermediate" in text and "Fix: " in text
    # The certificate that expires first, as the overview names it, with its date.
    scan = watch.scans.get()
    assert scan.expires_first and scan.valid_until
    assert f"Earliest expiry: {scan.expires_first} on {scan.valid_until:%Y-%m-%d} (" in text
    assert "report http://chainscan.test/r/" in text


@pytest.mark.parametrize(
    ("answer", "status", "retried"),
    [
        (503, "pending", True),
        (429, "pending", True),
        (500, "pending", True),
        (404, "failed", False),
        (400, "failed", False),
    ],
)
def test_5xx_and_429_are_retried_with_backoff_other_4xx_are_not(
    alice, receiver, answer, status, retried
):
    receiver.answers = [answer]
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    broken_watch(alice)
    before = timezone.now()
    (outcome,) = send_all(hook)
    row = hook.notifications.get()
    assert row.status == status and row.response_status == answer and row.attempts == 1
    assert f"HTTP {answer}" in row.error
    if retried:
        assert outcome.startswith("retry in")
        # 30 s ± 20 % for the first retry (CHAINSCAN_NOTIFY_RETRY_BACKOFF).
        wait = (row.next_attempt_at - before).total_seconds()
        assert 23 <= wait <= 37
    # Not due yet: a second message for the row sends nothing.
    assert notify.notification_send(notification_id=row.pk) in ("not due", "not pending")
    assert len(receiver.received) == 1


def test_backoff_doubles_and_is_capped(settings):
    settings.CHAINSCAN_NOTIFY_RETRY_BACKOFF = 10
    settings.CHAINSCAN_NOTIFY_RETRY_BACKOFF_MAX = 60
    assert 8 <= notify.backoff(1) <= 12 and 16 <= notify.backoff(2) <= 24
    assert 48 <= notify.backoff(10) <= 72


def test_a_receiver_that_does_not_answer_in_time_is_retried(alice, receiver, settings):
    settings.CHAINSCAN_NOTIFY_TIMEOUT = 0.5
    receiver.delay = 2
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    broken_watch(alice)
    started = time.monotonic()
    (outcome,) = send_all(hook)
    assert time.monotonic() - started < 1.8
    assert outcome.startswith("retry in") and "did not answer within 0.5 s" in outcome


def test_a_retry_that_succeeds_is_sent_once(alice, receiver):
    receiver.answers = [503, 200]
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    broken_watch(alice)
    send_all(hook)
    row = hook.notifications.get()
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert notify.notification_send(notification_id=row.pk) == "sent"
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2 and len(receiver.received) == 2


def test_a_channel_is_disabled_after_ten_failures_in_a_row_and_the_overview_says_so(
    alice, alice_client, receiver
):
    receiver.answers = [500]
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    for _ in range(10):
        notify.channel_test(channel=hook)
    outcomes = send_all(hook)
    hook.refresh_from_db()
    assert not hook.enabled and hook.failures == 10
    assert "10 failed deliveries in a row" in hook.disabled_reason
    assert len(receiver.received) == 10 and outcomes[-1].startswith("retry")

    # Nothing more goes out on a disabled channel.
    notify.channel_test(channel=hook)
    assert send_all(hook)[-1] == "channel disabled"
    assert len(receiver.received) == 10
    page = alice_client.get("/").content.decode()
    assert "channel-disabled" in page and "is disabled" in page


def test_a_success_resets_the_failure_count(alice, receiver):
    receiver.answers = [500, 500, 200]
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    for _ in range(3):
        notify.channel_test(channel=hook)
    send_all(hook)
    hook.refresh_from_db()
    assert hook.enabled and hook.failures == 0


def test_loopback_receivers_are_blocked_unless_the_operator_allows_them(alice, receiver, settings):
    settings.CHAINSCAN_NOTIFY_ALLOWED_NETWORKS = []
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    notify.channel_test(channel=hook)
    (outcome,) = send_all(hook)
    assert outcome.startswith("failed:") and "loopback" in outcome
    assert "CHAINSCAN_NOTIFY_ALLOWED_NETWORKS" in outcome
    assert receiver.received == []


def test_a_redirect_is_not_followed(alice, receiver):
    receiver.answers = [302]
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    notify.channel_test(channel=hook)
    (outcome,) = send_all(hook)
    assert outcome.startswith("failed:") and "redirects are not followed" in outcome
    assert [p for p, _, _ in receiver.received] == ["/hook"]


def test_one_certificate_expiring_on_many_hosts_is_one_message_per_channel(
    alice, receiver, settings
):
    settings.CHAINSCAN_NOTIFY_GROUP_SECONDS = 0
    c = pki.cast()
    from scans.engine.certs import describe

    x3 = describe(c.x3.der)
    assert x3.not_after is not None
    at = x3.not_after - dt.timedelta(days=6)
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    with time_machine.travel(at, tick=False):
        for port in (443, 8443, 9443):
            w = watch_for(alice, port=port)
            leaf = pki.leaf(
                "x3.example.com",
                c.x3,
                key=pki.key_for(f"leaf:{port}"),
                not_before=at - dt.timedelta(days=10),
                not_after=at + dt.timedelta(days=80),
            )
            record_report(
                report_for({"192.0.2.10": [leaf.der, c.x3.der]}, port=port, at=at),
                user=alice,
                watch=w,
            )
    outcomes = send_all(hook)
    assert outcomes.count("sent") == 1 and outcomes.count("not pending") == 2
    ((_, headers, body),) = receiver.received
    data = json.loads(body)
    assert verify(headers, body)
    documented(data)
    assert data["kind"] == "expiry" and data["certificate"]["sha256"] == x3.sha256
    assert sorted(t["port"] for t in data["targets"]) == [443, 8443, 9443]
    assert data["incident"] is None  # three incidents: each target's report says which
    assert data["title"] == "Example Authority X3 expires in 6 days"
    statuses = sorted(hook.notifications.values_list("status", flat=True))
    assert statuses == ["merged", "merged", "sent"]


def test_a_group_waits_while_rows_keep_arriving(alice, receiver, settings):
    settings.CHAINSCAN_NOTIFY_GROUP_SECONDS = 60
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    rows = [
        Notification.objects.create(
            channel=hook,
            event="incident.opened",
            group_key="g",
            next_attempt_at=timezone.now(),
            payload={"host": f"h{i}.example", "port": 443, "report_url": "u", "kind": "expiry"},
        )
        for i in range(2)
    ]
    assert notify.notification_send(notification_id=rows[0].pk) == "waiting for the group"
    assert notify.notification_send(notification_id=rows[1].pk) == "grouped under another row"
    assert receiver.received == []


def test_a_channel_that_asks_for_reminders_hears_again_while_the_incident_is_open(alice, receiver):
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET, remind_hours=4)
    quiet = channel(alice, "webhook", receiver.url("/quiet"), secret=SECRET)
    broken_watch(alice)
    Notification.objects.update(created_at=timezone.now() - dt.timedelta(hours=1))
    assert notify.reminders_create() == 0  # sent an hour ago: not yet
    Notification.objects.update(created_at=timezone.now() - dt.timedelta(hours=5))
    assert notify.reminders_create() == 1
    assert notify.reminders_create() == 0  # the reminder is the newest message now
    reminder = hook.notifications.order_by("pk").last()
    assert reminder.event == "incident.opened" and quiet.notifications.count() == 1
    assert notify.notification_send(notification_id=reminder.pk) == "sent"
    data = json.loads(receiver.received[-1][2])
    assert data["event"] == "incident.opened" and data["incident"]["resolved_at"] is None
    message = notify.build_message(reminder, [reminder])
    assert message.subject.startswith("STILL BROKEN x3.example.com:443")


def test_names_from_certificates_cannot_add_lines_to_a_subject():
    from scans.alerts import one_line

    assert one_line("evil\r\nBcc: everyone@example.com") == "evil Bcc: everyone@example.com"
    assert one_line("word " * 100, 20).endswith("…") and len(one_line("word " * 100, 20)) <= 20


def test_a_receiver_trickling_its_answer_cannot_hold_the_sender_past_the_timeout(alice, settings):
    import socket
    import threading

    settings.CHAINSCAN_NOTIFY_TIMEOUT = 1.0
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.is_set():  # one header byte every 0.3 s: each read is "in time"
            try:
                conn.sendall(b"X")
            except OSError:
                break
            time.sleep(0.3)
        conn.close()

    threading.Thread(target=trickle, daemon=True).start()
    hook = channel(
        alice, "webhook", f"http://127.0.0.1:{listener.getsockname()[1]}/", secret=SECRET
    )
    notify.channel_test(channel=hook)
    started = time.monotonic()
    try:
        (outcome,) = send_all(hook)
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 3
    assert outcome.startswith("retry in") and "did not answer within 1 s" in outcome


def test_a_test_message_has_the_documented_body(alice, receiver):
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    notify.channel_test(channel=hook)
    assert send_all(hook) == ["sent"]
    ((_, headers, body),) = receiver.received
    data = json.loads(body)
    documented(data)
    assert verify(headers, body) and data["event"] == data["kind"] == "test"
    assert data["incident"] is None and data["certificate"] is None


def test_old_log_lines_are_pruned_but_not_those_of_an_open_incident(alice, receiver):
    hook = channel(alice, "webhook", receiver.url(), secret=SECRET)
    broken_watch(alice)  # an open incident, and its notification
    send_all(hook)
    notify.channel_test(channel=hook)
    test_row = hook.notifications.get(event="test")
    notify.notification_send(notification_id=test_row.pk)
    Notification.objects.update(created_at=timezone.now() - dt.timedelta(days=91))
    assert notify.notifications_prune() == 1
    assert list(hook.notifications.values_list("event", flat=True)) == ["incident.opened"]
