"""Incidents of watched hosts: opened and resolved by the scans that record them.

Scans are recorded through the real services (tests/factories.py) with the
clock frozen where expiry matters; the outbox rows are read back from the
database, as the notify task would.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scans import alerts
from scans.engine.certs import describe
from scans.models import Channel, Incident, Notification, Scan
from tests import pki
from tests.factories import chains, record_report, record_scan, team, watch_for
from tests.factories import engine_report as report_for

pytestmark = pytest.mark.django_db

REFUSED: dict[str, list[bytes]] = {"192.0.2.10": []}  # the one address refuses connections


def scan(watch, served, *, at: dt.datetime = pki.NOW, host: str = "x3.example.com") -> Scan:
    """Record a scan of ``watch`` with the clock at ``at`` (analysis and incidents alike)."""
    with time_machine.travel(at, tick=False):
        return record_scan(served, user=watch.created_by, watch=watch, host=host, at=at)


def kinds(watch, *, open_only: bool = True) -> list[tuple[str, str]]:
    rows = Incident.objects.filter(watch=watch)
    if open_only:
        rows = rows.filter(resolved_at=None)
    return sorted((i.kind, i.key) for i in rows)


def events(channel) -> list[str]:
    return list(channel.notifications.order_by("pk").values_list("event", flat=True))


@pytest.fixture
def hook(alice) -> Channel:
    return Channel.objects.create(
        created_by=alice,
        kind="webhook",
        name="ops hook",
        url="http://127.0.0.1:9/",
        secret="s" * 16,
    )


def test_a_broken_chain_opens_one_breakage_incident_and_the_fix_resolves_it(alice, hook):
    watch = watch_for(alice)
    scan(watch, chains().served_x3())
    assert kinds(watch) == [] and events(hook) == []

    broken = scan(watch, chains().served_x1(), at=pki.NOW + dt.timedelta(hours=1))
    again = scan(watch, chains().served_x1(), at=pki.NOW + dt.timedelta(hours=2))
    assert kinds(watch) == [("breakage", "")]
    incident = Incident.objects.get(watch=watch)
    assert incident.opened_by == broken and "right key, wrong name" in incident.title
    assert again.verdict == "broken"  # still broken: no second incident, no second message

    fixed = scan(watch, chains().served_x3(), at=pki.NOW + dt.timedelta(hours=3))
    incident.refresh_from_db()
    assert incident.resolved_by == fixed and kinds(watch) == []
    # Exactly one message when it opened and one when it was resolved: the
    # material changes of those scans are told by the breakage messages.
    assert events(hook) == ["incident.opened", "incident.resolved"]
    opened = hook.notifications.first()
    assert opened.payload["diff_url"].startswith("http://chainscan.test/r/")
    assert opened.payload["report_url"] == f"http://chainscan.test/r/{broken.token}"
    assert opened.payload["fix"]


def test_one_failed_scan_is_not_an_incident_two_in_a_row_are(alice, hook):
    watch = watch_for(alice)
    scan(watch, chains().served_x3())
    scan(watch, REFUSED, at=pki.NOW + dt.timedelta(hours=1))
    scan(watch, chains().served_x3(), at=pki.NOW + dt.timedelta(hours=2))  # flapping
    assert kinds(watch) == [] and events(hook) == []

    scan(watch, REFUSED, at=pki.NOW + dt.timedelta(hours=3))
    second = scan(watch, REFUSED, at=pki.NOW + dt.timedelta(hours=4))
    assert second.status == Scan.Status.FAILED
    assert kinds(watch) == [("unreachable", "")]
    scan(watch, REFUSED, at=pki.NOW + dt.timedelta(hours=5))
    assert events(hook) == ["incident.opened"]

    scan(watch, chains().served_x3(), at=pki.NOW + dt.timedelta(hours=6))
    assert kinds(watch) == []
    assert events(hook) == ["incident.opened", "incident.resolved"]


def test_a_scan_the_worker_could_not_finish_counts_as_a_failure(alice, hook):
    from scans import services
    from tests.factories import claimed_scan

    watch = watch_for(alice)
    for _ in range(2):
        claimed = claimed_scan(user=alice, watch=watch)
        services.scan_fail(scan_id=claimed.pk, error="the scan took longer than its time limit")
    assert kinds(watch) == [("unreachable", "")]


def test_each_expiry_threshold_of_a_certificate_is_alerted_once(alice, hook):
    watch = watch_for(alice)
    leaf = describe(chains().leaf)  # expires at NOW + 60 days
    assert leaf.not_after is not None
    for days_left in (45, 29, 25, 13, 13, 6, 6):
        scan(watch, chains().served_x3(), at=leaf.not_after - dt.timedelta(days=days_left))
    keys = list(
        Incident.objects.filter(watch=watch, kind="expiry")
        .order_by("pk")
        .values_list("key", "resolved_at")
    )
    assert [k for k, _ in keys] == [f"{leaf.sha256}:30d", f"{leaf.sha256}:14d", f"{leaf.sha256}:7d"]
    # The nearer threshold supersedes the one before; only the newest is open.
    assert [r is None for _, r in keys] == [False, False, True]
    assert events(hook) == ["incident.opened"] * 3
    subjects = [n.payload["title"] for n in hook.notifications.order_by("pk")]
    assert subjects[-1] == "x3.example.com expires in 6 days"


def test_a_certificate_that_leaves_the_chain_resolves_its_expiry_incident(alice, hook):
    watch = watch_for(alice)
    leaf = describe(chains().leaf)
    assert leaf.not_after is not None
    at = leaf.not_after - dt.timedelta(days=10)
    scan(watch, chains().served_x3(), at=at)
    scan(watch, [chains().renewed_leaf, chains().x3], at=at + dt.timedelta(hours=1))
    assert kinds(watch) == []
    assert events(hook) == ["incident.opened", "incident.resolved"]
    assert "renewed" in hook.notifications.last().payload["summary"]


def test_an_expired_cross_sign_served_but_on_no_path_is_never_an_expiry_alarm(alice, hook):
    c = pki.cast()
    watch = watch_for(alice, host="www.example.com")
    served = [c.leaf.der, c.issuing.der, c.root_cross_expired.der]
    done = scan(watch, served, host="www.example.com", at=pki.NOW + dt.timedelta(days=31))
    cross = describe(c.root_cross_expired.der).sha256
    assert cross in set(
        done.endpoints.values_list("outcome__chain__certificate__sha256", flat=True)
    )
    expiry = list(Incident.objects.filter(watch=watch, kind="expiry").values_list("key", flat=True))
    # The leaf (29 days left) is alerted; the expired cross-sign no client uses is not.
    assert expiry == [f"{describe(c.leaf.der).sha256}:30d"]


def test_short_lived_certificates_are_alerted_at_a_third_and_a_tenth_of_their_life(alice, hook):
    c = pki.cast()
    short = pki.leaf(
        "x3.example.com",
        c.x3,
        key=pki.key_for("leaf:short-lived"),
        not_before=pki.NOW - dt.timedelta(days=1),
        not_after=pki.NOW + dt.timedelta(days=9),  # a 10-day life: at 3.3 and 1 day left
    )
    watch = watch_for(alice)
    for days_left in (5, 3, 2, 0.9):
        at = pki.NOW + dt.timedelta(days=9) - dt.timedelta(days=days_left)
        scan(watch, [short.der, c.x3.der], at=at)
    keys = list(
        Incident.objects.filter(watch=watch, kind="expiry")
        .order_by("pk")
        .values_list("key", flat=True)
    )
    sha = describe(short.der).sha256
    # Not at 30/14/7 days, which would alarm from the first hour of its life.
    assert keys == [f"{sha}:life/3", f"{sha}:life/10"]


def test_a_material_change_is_one_event_and_renewals_only_when_the_watch_asks(alice, hook):
    quiet = watch_for(alice)
    scan(quiet, chains().served_x3())
    scan(quiet, [chains().renewed_leaf, chains().x3], at=pki.NOW + dt.timedelta(hours=1))
    assert events(hook) == []  # a routine renewal, not asked for

    scan(quiet, [chains().other_names_leaf, chains().x3], at=pki.NOW + dt.timedelta(hours=2))
    changed = Scan.objects.filter(watch=quiet).order_by("-pk").first()
    assert changed.change == "material"
    assert events(hook) == ["change.material"]
    assert kinds(quiet) == []  # one-off: nothing stays open
    assert hook.notifications.get().payload["diff_url"].endswith(f"/r/{changed.token}/diff")

    loud = watch_for(alice, port=8443, notify_renewals=True)
    with time_machine.travel(pki.NOW, tick=False):
        record_report(
            report_for({"192.0.2.10": chains().served_x3()}, port=8443), user=alice, watch=loud
        )
        record_report(
            report_for({"192.0.2.10": [chains().renewed_leaf, chains().x3]}, port=8443),
            user=alice,
            watch=loud,
        )
    assert events(hook)[-1] == "change.renewal"


def test_only_the_watch_owners_team_is_told(alice, bob, charlie, hook):
    team("ops", alice, bob)
    bobs = Channel.objects.create(
        created_by=bob, kind="email", name="bob mail", to=["b@example.com"]
    )
    charlies = Channel.objects.create(
        created_by=charlie, kind="email", name="charlie mail", to=["c@example.com"]
    )
    disabled = Channel.objects.create(
        created_by=alice, kind="email", name="off", to=["o@example.com"], enabled=False
    )
    watch = watch_for(alice)
    scan(watch, chains().served_x1())
    assert events(hook) == events(bobs) == ["incident.opened"]
    assert events(charlies) == events(disabled) == []
    assert hook.notifications.get().payload["team"] == "ops"


def test_one_intermediate_expiring_on_many_hosts_shares_a_group_key(alice, hook):
    c = pki.cast()
    x3 = describe(c.x3.der)
    assert x3.not_after is not None
    at = x3.not_after - dt.timedelta(days=6)
    watches = [watch_for(alice, port=port) for port in (443, 8443, 9443)]
    with time_machine.travel(at, tick=False):
        for w in watches:
            leaf = pki.leaf(
                "x3.example.com",
                c.x3,
                key=pki.key_for(f"leaf:{w.host.port}"),
                not_before=at - dt.timedelta(days=10),
                not_after=at + dt.timedelta(days=80),
            )
            record_report(
                report_for({"192.0.2.10": [leaf.der, c.x3.der]}, port=w.host.port, at=at),
                user=alice,
                watch=w,
            )
    rows = Notification.objects.filter(channel=hook, incident__key=f"{x3.sha256}:7d")
    assert rows.count() == 3
    assert {r.group_key for r in rows} == {f"incident.opened:expiry:{x3.sha256}:7d"}


def test_thresholds_and_the_short_life_rule():
    leaf = describe(chains().leaf)
    assert [label for label, _ in alerts.thresholds(leaf)] == ["30d", "14d", "7d", "3d", "1d"]
    assert leaf.not_after is not None
    assert alerts.crossed_threshold(leaf, leaf.not_after - dt.timedelta(days=31)) is None
    assert alerts.crossed_threshold(leaf, leaf.not_after - dt.timedelta(days=2))[0] == "3d"


@pytest.mark.parametrize(
    ("change", "expected"), [("improvement", []), ("rollback", ["change.material"])]
)
def test_an_improvement_is_never_a_change_alarm_and_unknown_kinds_count_as_material(
    alice, hook, change, expected
):
    from django.db import transaction

    watch = watch_for(alice)
    scan(watch, chains().served_x3())
    later = scan(watch, [chains().renewed_leaf, chains().x3], at=pki.NOW + dt.timedelta(hours=1))
    assert events(hook) == []
    # The history's classification may grow new values (h4 adds "improvement").
    later.change = change
    with transaction.atomic():
        alerts.scan_finished(scan=later)
    assert events(hook) == expected


def test_a_chain_with_no_trusted_path_does_not_pass_for_a_renewal(alice, hook):
    c = pki.cast()
    watch = watch_for(alice)
    leaf = describe(chains().leaf)
    assert leaf.not_after is not None
    at = leaf.not_after - dt.timedelta(days=10)
    scan(watch, chains().served_x3(), at=at)
    untrusted = pki.leaf("x3.example.com", c.other_issuing, key=pki.key_for("leaf:untrusted"))
    broken = scan(watch, [untrusted.der, c.other_issuing.der], at=at + dt.timedelta(hours=1))
    assert broken.verdict == "broken"
    # The expiry stays open (nothing was renewed); the breakage is what is told.
    assert kinds(watch) == [("breakage", ""), ("expiry", f"{leaf.sha256}:14d")]
    assert events(hook) == ["incident.opened", "incident.opened"]
