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
