"""The report page answers first: verdict, headline, first fix, expiry; then each
address worst first with its certification path, findings in layers and the fix
as files to install."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from django.urls import reverse

from scans.engine.certs import describe, pem_bundle
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def x1_on_one_node(alice):  # type: ignore[no-untyped-def]
    """The 2016 incident on a load balancer: one of two nodes serves X1 for an X3 leaf."""
    c = factories.chains()
    return factories.record_scan(
        {"192.0.2.10": c.served_x3(), "192.0.2.12": c.served_x1()}, user=alice
    )


def page(client, scan) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("report", args=[scan.token]))
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_summary_band_says_which_address_serves_which_wrong_intermediate(
    alice_client, x1_on_one_node
):
    html = page(alice_client, x1_on_one_node)
    band = text(html.split('id="summary"', 1)[1].split("</div>", 1)[0])
    assert "BROKEN" in band.upper() and "1 of 2 addresses broken" in band
    assert (
        "1 of 2 addresses serves the wrong intermediate "
        "(Example Authority X1 instead of Example Authority X3)." in band
    )


def test_the_summary_band_gives_the_first_fix_and_what_expires_first(alice_client, x1_on_one_node):
    html = page(alice_client, x1_on_one_node)
    band = html.split('id="summary"', 1)[1].split('class="links"', 1)[0]
    assert "First fix: Wrong intermediate: right key, wrong name" in band
    # The fix's steps are a list, the served order a list inside it.
    assert '<ol class="steps"><li>Stop serving CN=Example Authority X1' in band
    assert '<ol class="items"><li>leaf CN=x3.example.com' in band
    leaf = describe(factories.chains().leaf)
    assert "The chain expires on <strong><time datetime=" in band
    assert f"{leaf.not_after:%Y-%m-%d}" in band
    assert f"<strong>{leaf.label}</strong> expires first." in band


def test_addresses_are_sorted_worst_first(alice_client, x1_on_one_node):
    html = page(alice_client, x1_on_one_node)
    titles = re.findall(r'<span class="addr">([^<]+)</span> <span class="verdict', html)
    assert titles == ["192.0.2.12:443", "192.0.2.10:443"]


def test_each_certificate_on_the_path_says_whether_the_server_sent_it(alice_client, x1_on_one_node):
    html = page(alice_client, x1_on_one_node)
    broken = html.split('<section class="endpoint', 2)[1]
    c = factories.chains()
    leaf, x1, x3, root = (describe(d) for d in (c.leaf, c.x1, c.x3, c.root))
    roles = dict(re.findall(r'data-sha256="([0-9a-f]{64})" data-role="([a-z-]+)"', broken))
    assert roles == {
        leaf.sha256: "sent",
        x3.sha256: "not-sent",
        root.sha256: "anchor",
        x1.sha256: "wrong",
    }
    plain = text(broken)
    assert "Example Authority X3 not sent — clients must download it" in plain
    assert "Example Root CA in the trust store" in plain
    assert "Example Authority X1 sent, but does not belong in this chain" in plain
    # Both thumbprints in view, SHA-1 as Windows tools show it.
    assert x3.sha256 in broken and hashlib.sha1(c.x3).hexdigest().upper() in broken


def test_the_diagram_draws_the_same_key_under_another_name(alice_client, x1_on_one_node):
    html = page(alice_client, x1_on_one_node)
    broken, healthy = html.split('<section class="endpoint')[1:3]
    assert "<svg" in broken and 'class="link link-same-key"' in broken
    assert "same key, other name" in broken
    assert "<svg" in healthy and "link-same-key" not in healthy


def test_a_finding_is_a_sentence_numbered_steps_and_the_rest_behind_why(
    alice_client, x1_on_one_node
):
    html = page(alice_client, x1_on_one_node)
    finding = html.split('data-code="wrong-intermediate-same-key"', 1)[1].split("</article>", 1)[0]
    what = text(finding.split('<p class="what">', 1)[1].split("</p>", 1)[0]).strip()
    assert what.startswith("CN=x3.example.com") and what.count(". ") == 0
    assert '<ol class="steps">' in finding
    why = finding.split('<details class="why"><summary>Why</summary>', 1)[1]
    assert "check of keys alone says nothing is wrong" in why


def test_the_trust_store_is_named_in_words_once(alice_client, x1_on_one_node):
    html = page(alice_client, x1_on_one_node)
    assert x1_on_one_node.trust_store == "none+test root"
    assert text(html).count("only your anchors: test root") == 1
    assert "none+test root" not in html


def test_a_report_superseded_by_the_fix_says_so_to_the_team(alice_client, client, bob, alice):
    c = factories.chains()
    broken = factories.record_scan(c.served_x1(), user=alice)
    fixed = factories.record_scan(c.served_x3(), user=alice)
    factories.team("ops", alice, bob)
    client.force_login(bob)
    html = page(client, broken)
    note = text(html.split('class="superseded"', 1)[1].split("</p>", 1)[0])
    assert "A newer scan of x3.example.com" in note and "says ok" in note.lower()
    assert reverse("report", args=[fixed.token]) in html
    # The newest report itself is superseded by nothing.
    assert 'class="superseded"' not in page(client, fixed)


def test_a_link_holder_outside_the_team_is_not_told_of_later_scans(client, charlie, alice):
    c = factories.chains()
    broken = factories.record_scan(c.served_x1(), user=alice)
    factories.record_scan(c.served_x3(), user=alice)
    client.force_login(charlie)
    assert 'class="superseded"' not in page(client, broken)
    client.logout()
    assert 'class="superseded"' not in page(client, broken)


def download(client, scan, **params):  # type: ignore[no-untyped-def]
    return client.get(reverse("report-download", args=[scan.token]), params)


def broken_index(scan) -> int:  # type: ignore[no-untyped-def]
    """Where the stale node (192.0.2.12, with SNI) is among the report's endpoints."""
    from scans.models import Scan
    from scans.reports import report_from_scan, scans_with_report_data

    rep = report_from_scan(scans_with_report_data(Scan.objects.filter(pk=scan.pk)).get())
    return next(i for i, e in enumerate(rep.endpoints) if e.address == "192.0.2.12" and e.sni)


def test_the_fix_downloads_in_the_formats_servers_take(alice_client, x1_on_one_node):
    c = factories.chains()
    leaf, x3, root = (describe(d) for d in (c.leaf, c.x3, c.root))
    index = broken_index(x1_on_one_node)
    full = download(alice_client, x1_on_one_node, endpoint=index, fmt="fullchain")
    assert full.content.decode() == pem_bundle([leaf, x3])
    assert 'filename="x3.example.com-fullchain.pem"' in full["Content-Disposition"]
    chain = download(alice_client, x1_on_one_node, endpoint=index, fmt="chain")
    assert chain.content.decode() == pem_bundle([x3])
    p7b = download(alice_client, x1_on_one_node, endpoint=index, fmt="p7b")
    assert p7b["Content-Type"] == "application/x-pkcs7-certificates"
    # PKCS#7 holds a SET of certificates: which ones, not their order.
    assert sorted(
        describe(crt.public_bytes(Encoding.DER)).sha256
        for crt in pkcs7.load_der_pkcs7_certificates(p7b.content)
    ) == sorted([leaf.sha256, x3.sha256])
    # Each certificate of the path as DER, the root last.
    for position, cert in enumerate((leaf, x3, root)):
        cer = download(alice_client, x1_on_one_node, endpoint=index, fmt="cer", cert=position)
        assert cer.content == cert.der and cer["Content-Type"] == "application/pkix-cert"
    assert (
        download(alice_client, x1_on_one_node, endpoint=index, fmt="cer", cert=3).status_code == 404
    )
    assert download(alice_client, x1_on_one_node, endpoint=9, fmt="p7b").status_code == 404
    assert download(alice_client, x1_on_one_node, endpoint=0, fmt="zip").status_code == 404


def test_the_report_page_links_every_download(alice_client, x1_on_one_node):
    html = page(alice_client, x1_on_one_node)
    base = reverse("report-download", args=[x1_on_one_node.token])
    index = broken_index(x1_on_one_node)
    for fmt in ("fullchain", "chain", "p7b"):
        assert f"{base}?endpoint={index}&amp;fmt={fmt}" in html
    assert f"{base}?endpoint={index}&amp;fmt=cer&amp;cert=2" in html


def test_the_sha1_thumbprint_is_stored_with_each_certificate(x1_on_one_node):
    from scans.models import Certificate

    rows = Certificate.objects.all()
    assert rows and all(r.sha1 == hashlib.sha1(bytes(r.der)).hexdigest() for r in rows)


def test_a_host_that_could_not_be_reached_reads_could_not_scan_not_broken(alice_client, alice):
    scan = factories.record_scan({"192.0.2.20": []}, user=alice)
    html = page(alice_client, scan)
    band = text(html.split('id="summary"', 1)[1].split("</div>", 1)[0])
    assert band.split("could not scan", 1)[0].strip(" >") == ""
    assert "broken" not in band.lower()
    assert scan.error and scan.error.rstrip(".") in band
    section = html.split('<section class="endpoint', 1)[1]
    assert '<span class="verdict verdict-none">could not scan</span>' in section


def test_the_trust_store_is_named_in_words_on_the_page_and_in_the_json(alice_client, alice):
    """The engine names the store as people say it, so the page, the JSON and the CLI read alike."""
    scan = factories.record_scan(factories.chains().served_x3(), user=alice)
    plain = text(page(alice_client, scan))
    api = alice_client.get(reverse("api-scan", args=[scan.token])).json()
    said = "the served certificates alone lead to a root in your own anchors (test root)."
    assert all(said in c["reason"] for c in api["endpoints"][0]["clients"])
    assert said in plain
    # The technical name is the report's trust_store field, never a word of its prose.
    assert "'none+test root' store" not in plain + json.dumps(api["endpoints"])


def test_a_report_stored_before_the_engine_named_stores_in_words_reads_the_same(
    alice_client, x1_on_one_node
):
    import importlib

    from django.apps import apps

    from scans.models import Finding, Outcome

    old = "the chain ends at a root, which is not in the 'none+test root' store"
    outcome = Outcome.objects.filter(
        endpoints__endpoint_set__scans=x1_on_one_node, findings__isnull=False
    )[0]
    outcome.clients = [{**outcome.clients[0], "reason": f"Rejects: {old}."}, *outcome.clients[1:]]
    outcome.save()
    finding = Finding.objects.filter(outcome=outcome)[0]
    finding.detail = (
        "The chain ends at CN=X, and it is not in the 'mozilla+file corp.pem' trust store."
    )
    finding.save()

    importlib.import_module("scans.migrations.0014_engine_shape").store_in_words(apps, None)

    plain = text(page(alice_client, x1_on_one_node))
    assert "which is not in your own anchors (test root)" in plain
    assert "not in the Mozilla trust store plus your anchors (corp.pem)" in plain
    assert "'none+test root'" not in plain and "'mozilla+file corp.pem'" not in plain
