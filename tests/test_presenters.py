"""The report page shows each distinct outcome once, with the addresses it came from."""

from __future__ import annotations

from scans.presenters import endpoint_views
from tests import factories


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


def test_trust_stores_are_named_as_people_say_them():
    from scans.presenters import trust_store_words

    assert trust_store_words("mozilla") == "Mozilla"
    assert (
        trust_store_words("mozilla+file root.pem+Corp Root CA")
        == "Mozilla, plus your anchors: root.pem, Corp Root CA"
    )
    assert trust_store_words("none+test root") == "only your anchors: test root"
    assert trust_store_words("system") == "this machine's system store"
