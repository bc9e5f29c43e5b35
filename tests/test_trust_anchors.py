"""Custom trust anchors reach the next scan: added, disabled, deleted, or changed on disk.

The worker keeps the built trust store between scans and rebuilds it only when
the anchors' version moves; these tests hold it to every way an operator
changes them.
"""

from __future__ import annotations

import pytest

from scans import scanning
from scans.engine.certs import describe, pem_bundle
from scans.models import TrustAnchor
from tests import pki

pytestmark = pytest.mark.django_db


def sources() -> set[str]:
    return set(scanning.trust_store().sources.values())


def pem(issued: pki.Issued) -> str:
    return pem_bundle([describe(issued.der)])


def test_an_anchor_added_in_the_admin_counts_from_the_next_scan():
    before = scanning.trust_store()
    assert "custom: corp" not in sources()

    TrustAnchor.objects.create(name="corp", pem=pem(pki.cast().corp_root))

    assert "custom: corp" in sources()
    assert scanning.trust_store() is scanning.trust_store()  # built once, then reused
    assert scanning.trust_store() is not before


def test_a_disabled_then_deleted_anchor_stops_counting():
    anchor = TrustAnchor.objects.create(name="corp", pem=pem(pki.cast().corp_root))
    assert "custom: corp" in sources()

    anchor.enabled = False
    anchor.save()
    assert "custom: corp" not in sources()

    anchor.enabled = True
    anchor.save()
    assert "custom: corp" in sources()

    anchor.delete()
    assert "custom: corp" not in sources()


def test_an_edited_bundle_replaces_the_old_roots():
    cast = pki.cast()
    anchor = TrustAnchor.objects.create(name="corp", pem=pem(cast.corp_root))
    corp_sha = describe(cast.corp_root.der).sha256
    assert scanning.trust_store().sources.get(corp_sha) == "custom: corp"

    anchor.pem = pem(cast.root)
    anchor.save()

    store = scanning.trust_store()
    assert corp_sha not in store.sources
    assert store.sources.get(describe(cast.root.der).sha256) == "custom: corp"


def test_the_anchor_file_is_read_again_when_it_changes(tmp_path, settings):
    cast = pki.cast()
    path = tmp_path / "anchors.pem"
    path.write_text(pem(cast.corp_root))
    settings.CHAINSCAN_TRUST_ANCHORS = str(path)
    corp_sha = describe(cast.corp_root.der).sha256
    assert scanning.trust_store().sources.get(corp_sha) == "custom: file anchors.pem"

    path.write_text(pem(cast.root))  # at once: within the same mtime tick

    store = scanning.trust_store()
    assert corp_sha not in store.sources
    assert store.sources.get(describe(cast.root.der).sha256) == "custom: file anchors.pem"
