"""Alerts end to end: a real `celery beat` schedules a watched loopback TLS server, a real
worker scans it, a real notification worker (its own queue) delivers to a real
HTTP receiver; and a channel made and tested in a real browser.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from scans.engine.certs import describe, pem_bundle
from scans.models import Channel, Incident, Notification, TrustAnchor
from tests import pki
from tests.browser import sign_in
from tests.conftest import Worker
from tests.factories import watch_for
from tests.httpserver import HookReceiver
from tests.processes import celery_beat
from tests.tlsserver import TLSServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

HOST = "single.chainscan.test"  # the worker resolves it to 127.0.0.1
SECRET = "e2e-webhook-secret-0123456789"


@pytest.fixture(scope="session")
def notify_worker(worker_env, tmp_path_factory) -> Iterator[Worker]:  # type: ignore[no-untyped-def]
    """A worker on the notification queue only, as compose's `notifier` service runs."""
    worker = Worker(
        worker_env,
        tmp_path_factory.mktemp("notify") / "worker.log",
        args=("-Q", settings.CHAINSCAN_NOTIFY_QUEUE, "-n", "notify@%h"),
    )
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def beat(worker_env, tmp_path) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    with celery_beat(worker_env, tmp_path) as log:
        yield log


def fresh_x1_x3() -> tuple[bytes, bytes, bytes, object, bytes]:
    """The X1/X3 pair (one key, two names) valid around the real clock, for a real worker."""
    now = dt.datetime.now(dt.UTC)
    root = pki.root("E2E Root CA", not_before=now - 10 * pki.DAY, not_after=now + 3650 * pki.DAY)
    shared = pki.key_for("e2e: the key X1 and X3 share")
    x1 = pki.intermediate(
        "E2E Authority X1",
        root,
        key=shared,
        not_before=now - 900 * pki.DAY,
        not_after=now + 500 * pki.DAY,
    )
    x3 = pki.intermediate(
        "E2E Authority X3",
        root,
        key=shared,
        not_before=now - 10 * pki.DAY,
        not_after=now + 900 * pki.DAY,
    )
    leaf = pki.leaf(HOST, x3, not_before=now - pki.DAY, not_after=now + 80 * pki.DAY)
    return leaf.der, x1.der, x3.der, leaf.key, root.der


def wait(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_good_then_x1_then_fixed_sends_exactly_opened_then_resolved(
    alice, celery_worker, notify_worker, beat
):
    leaf, x1, x3, key, root = fresh_x1_x3()
    TrustAnchor.objects.create(name="e2e root", pem=pem_bundle([describe(root)]))
    with HookReceiver() as receiver, TLSServer([leaf, x3], key) as server:
        Channel.objects.create(
            created_by=alice, kind="webhook", name="hook", url=receiver.url(), secret=SECRET
        )
        watch = watch_for(alice, host=HOST, port=server.port, interval=1)
        # Good: a few scans pass, nothing is sent.
        wait(lambda: watch.scans.filter(status="done").count() >= 2)
        assert receiver.received == []

        # The 2016 incident: the same key's other intermediate is served.
        server.context = server._make_context([leaf, x1], key)
        receiver.wait_for(1, timeout=60)
        assert watch.incidents.filter(kind="breakage", resolved_at=None).exists()

        server.context = server._make_context([leaf, x3], key)
        receiver.wait_for(2, timeout=60)
        # A few more good scans: nothing else arrives.
        done = watch.scans.filter(status="done").count()
        wait(lambda: watch.scans.filter(status="done").count() >= done + 2)
        time.sleep(2)

    events = []
    for _path, headers, body in receiver.received:
        mac = hmac.new(
            SECRET.encode(), f"{headers['X-Chainscan-Timestamp']}.".encode() + body, hashlib.sha256
        ).hexdigest()
        assert headers["X-Chainscan-Signature"] == f"sha256={mac}"
        data = json.loads(body)
        events.append((data["event"], data["kind"]))
    assert events == [("incident.opened", "breakage"), ("incident.resolved", "breakage")], (
        notify_worker.output()[-3000:]
    )
    incident = Incident.objects.get(watch=watch, kind="breakage")
    assert incident.resolved_at is not None and incident.resolved_by is not None
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_notification_written_while_the_broker_was_away_is_flushed_later(alice, notify_worker):
    with HookReceiver() as receiver:
        channel = Channel.objects.create(
            created_by=alice, kind="webhook", name="hook", url=receiver.url(), secret=SECRET
        )
        # A row committed without a message (the broker was down at commit time).
        Notification.objects.create(
            channel=channel,
            event="test",
            next_attempt_at=timezone.now() - dt.timedelta(minutes=5),
            payload={
                "host": "example.com",
                "port": 443,
                "report_url": "http://chainscan.test/",
                "kind": "test",
                "title": "t",
                "summary": "s",
                "verdict": "ok",
                "team": "alice",
            },
        )
        from scans.notify import notifications_flush

        # What beat's flush-notifications entry runs every tick (the first
        # test drives beat itself): the row goes to the notification worker.
        assert notifications_flush() == 1
        received = receiver.wait_for(1, timeout=60)
        assert len(received) == 1, notify_worker.output()[-3000:]
        request = received[0]
    assert json.loads(request[2])["event"] == "test"


@pytest.mark.browser
def test_a_user_adds_a_channel_and_sends_a_test_in_a_browser(
    page, live_server, alice, celery_worker, notify_worker
):
    with HookReceiver() as receiver:
        sign_in(page, live_server, "alice", "alice-pw-123")
        page.click("text=Alerts")
        page.select_option("#id_kind", "webhook")
        page.fill("#id_name", "ops hook")
        page.fill("#id_url", receiver.url("/from-browser"))
        page.fill("#id_secret", SECRET)
        page.click("#channel-form button[type=submit]")
        page.wait_for_selector("article.channel")
        assert receiver.url("/from-browser") not in page.content()  # write-only
        page.click("article.channel >> text=Send test")
        ((path, headers, body),) = receiver.wait_for(1, timeout=30)
        assert path == "/from-browser" and json.loads(body)["event"] == "test"
        mac = hmac.new(
            SECRET.encode(), f"{headers['X-Chainscan-Timestamp']}.".encode() + body, hashlib.sha256
        ).hexdigest()
        assert headers["X-Chainscan-Signature"] == f"sha256={mac}"
        # The channel's log shows the delivery once the page is reloaded.
        wait(lambda: Notification.objects.filter(status="sent").exists(), timeout=10)
        page.reload()
        assert "sent · HTTP 200" in page.inner_text("table.channel-log")
