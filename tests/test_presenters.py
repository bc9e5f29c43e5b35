"""The report page shows each distinct outcome once, with the addresses it came from."""

from __future__ import annotations

import re

from django.urls import reverse

from scans.models import ChainEntry
from scans.presenters import endpoint_views
from tests import factories, pki


def test_addresses_serving_the_same_chain_share_one_section_worst_first():
    c = factories.chains()
    report = factories.engine_report(
        {
            "192.0.2.10": c.served_x3(),
            "192.0.2.11": c.served_x3(),
            "192.0.2.12": c.served_x1(),  # the stale node
            "192.0.2.13": [],  # down
            "2001:db8::10": c.served_x3(),
        }
    )

    views = endpoint_views(report.endpoints)

    # Worst first: the stale node and the one that is down before the healthy ones.
    assert [v.title for v in views] == ["192.0.2.12:443", "192.0.2.13:443", "192.0.2.10:443"]
    healthy = views[2]
    assert healthy.endpoint.verdict.value == "ok"
    assert healthy.also == ["192.0.2.11:443", "[2001:db8::10]:443", "192.0.2.10:443 without SNI"]
    stale = views[0]
    assert stale.endpoint.verdict.value == "broken" and stale.also == []
    down = views[1]
    assert down.endpoint.error == "connect-failed" and down.also == []
    # Each section keeps the index of its own endpoint, for its PEM downloads.
    assert [report.endpoints[v.index] for v in views] == [v.endpoint for v in views]


def test_two_failed_addresses_are_never_folded_together():
    report = factories.engine_report({"192.0.2.20": [], "192.0.2.21": []})

    views = endpoint_views(report.endpoints)

    assert [v.title for v in views] == [
        "192.0.2.20:443",
        "192.0.2.21:443",
        "192.0.2.20:443 without SNI",
    ]
    assert all(v.also == [] for v in views)


# --- roles: the engine decides them, the page shows them ----------------------------------


def _served_marks(html: str, served: list[bytes]) -> list[tuple[str, str]]:
    """(engine role, note) of each served certificate on the report page, in order."""
    import hashlib

    found = {
        sha: (role, note)
        for sha, role, note in re.findall(
            r'data-sha256="([0-9a-f]{64})" data-role="[^"]*" data-engine-role="([^"]*)">\s*'
            r'<div class="cert-head"><strong class="cert-name">[^<]*</strong> '
            r'<span class="role">([^<]*)</span>',
            html,
        )
    }
    return [found.get(hashlib.sha256(der).hexdigest(), ("", "")) for der in served]


def test_a_valid_cross_sign_is_shown_as_another_path_not_as_extra(alice, alice_client):
    c = pki.cast()
    served = [c.leaf_x3.der, c.x3.der, c.root_cross.der]
    scan = factories.record_scan(served, user=alice)

    html = alice_client.get(reverse("report", args=[scan.token])).content.decode()

    assert scan.verdict == "ok"
    assert "not needed" not in html
    marks = _served_marks(html, served)
    # The leaf and intermediate are shown on the certification path; the
    # cross-sign after it, as another path, never as an extra certificate.
    assert marks[2][0] == "alternate-path"
    assert "another path to a root (a cross-sign)" in marks[2][1]
    assert "sent but not needed" not in marks[2][1]


def test_a_scan_recorded_before_roles_existed_still_shows_each_certificates_place(
    alice, alice_client
):
    c = pki.cast()
    other = pki.intermediate("Unrelated CA", c.other_root)
    served = [c.leaf_x3.der, c.x3.der, other.der]
    scan = factories.record_scan(served, user=alice)
    # What 0004 leaves for chains stored before the engine reported roles.
    ChainEntry.objects.filter(outcome__endpoints__endpoint_set__scans=scan).update(role="")

    html = alice_client.get(reverse("report", args=[scan.token])).content.decode()

    marks = _served_marks(html, served)
    assert marks[2][0] == "extra"
    assert marks[2][1] == "sent but not needed"


def test_trust_stores_are_named_as_people_say_them():
    from scans.presenters import trust_store_words

    assert trust_store_words("mozilla") == "Mozilla"
    assert (
        trust_store_words("mozilla+file root.pem+Corp Root CA")
        == "Mozilla, plus your anchors: root.pem, Corp Root CA"
    )
    assert trust_store_words("none+test root") == "only your anchors: test root"
    assert trust_store_words("system") == "this machine's system store"


# --- the timeline's verdict lane ---------------------------------------------------------


def test_scans_too_close_to_tell_apart_are_one_dot_that_says_what_happened():
    """A host rescanned every five minutes, on an axis spanning a year of certificate
    lifetimes: the dots of one day would overlap. They are drawn as one, with the
    worst verdict, and its title tells the run of verdicts."""
    import datetime as dt
    from types import SimpleNamespace

    from scans.presenters import timeline
    from scans.reports import ServedCert

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    leaf = ServedCert("a" * 64, "www.example", start + dt.timedelta(days=365), False)

    def scan(pk: int, when: dt.datetime, verdict: str, change: str = "same"):  # type: ignore[no-untyped-def]
        return SimpleNamespace(
            pk=pk, requested_at=when, verdict=verdict, change=change, token=f"t{pk}"
        )

    burst = [scan(i, start + dt.timedelta(minutes=5 * i), "ok") for i in range(1, 4)]
    burst[1] = scan(2, burst[1].requested_at, "broken", "material")
    later = scan(9, start + dt.timedelta(days=180), "ok")
    drawn = timeline([(s, [(leaf,)]) for s in [*burst, later]])
    assert drawn is not None

    grouped, single = drawn.points
    assert (grouped.count, grouped.verdict, grouped.change) == (3, "broken", "material")
    assert grouped.summary == "OK → BROKEN → OK" and grouped.token == "t3"
    assert grouped.first == burst[0].requested_at and grouped.when == burst[2].requested_at
    assert (single.count, single.verdict, single.token) == (1, "ok", "t9")
    # Every scan still has its own row in the table, and the description counts them all.
    assert len(drawn.rows) == 4 and drawn.description.startswith("4 scans from")
    assert "OK → BROKEN → OK (3 scans)" in drawn.description
