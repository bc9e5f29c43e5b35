"""Trust stores: built once, labelled, extendable with private roots. No Django."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scans.engine import trust
from scans.engine.analysis import analyse
from scans.engine.report import Verdict
from scans.engine.trust import (
    TrustStoreError,
    empty_store,
    load_trust_store,
    mozilla_store,
    store_with_extra,
    system_store,
)
from tests.pki import NOW, Cast


def test_the_mozilla_store_is_built_once_and_labelled() -> None:
    store = mozilla_store()
    assert store is mozilla_store()
    assert store.name == "mozilla" and len(store) > 100 and store.store is not None
    assert all(label.startswith("Mozilla (certifi ") for label in store.sources.values())
    assert len(store.sources) == len(store.anchors)


def test_anchors_are_found_by_the_issuer_name_a_certificate_gives() -> None:
    store = mozilla_store()
    anchor = store.anchors[0]
    assert anchor in store.anchors_for_issuer(anchor.subject)
    assert anchor in store.anchors_for_issuer(anchor.subject.rfc4514_string())
    assert store.anchors_for_issuer("CN=Nobody Root") == ()
    sha = store.sha256_of(anchor)
    assert store.contains(sha) and store.describe(anchor).sha256 == sha
    assert store.describe(anchor) is store.describe(anchor)


def test_an_empty_store_has_no_verifier_store() -> None:
    store = empty_store()
    assert store.name == "none" and len(store) == 0 and store.store is None


def test_the_system_store_reads_the_os_bundle_when_there_is_one() -> None:
    store = system_store()
    assert store is system_store() and store.name == "system" and len(store) > 0
    if Path("/etc/ssl/certs/ca-certificates.crt").exists():
        assert store.note is None
        assert "system (" in next(iter(store.sources.values()))


@pytest.fixture
def no_system_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setattr(trust, "SYSTEM_BUNDLES", (str(tmp_path / "missing.crt"),))
    monkeypatch.setattr(trust, "SYSTEM_DIRS", (str(tmp_path / "missing"),))
    trust.system_store.cache_clear()
    yield
    trust.system_store.cache_clear()


@pytest.mark.usefixtures("no_system_bundle")
def test_without_a_system_bundle_the_mozilla_roots_stand_in_and_say_so() -> None:
    store = system_store()
    assert store.name == "system" and len(store) == len(mozilla_store())
    assert store.note is not None and "No system CA bundle was found" in store.note
    assert all("standing in" in label for label in store.sources.values())


def test_ssl_cert_file_comes_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pki: Cast
) -> None:
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(pki.corp_root.pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    trust.system_store.cache_clear()
    try:
        store = system_store()
        assert len(store) == 1 and store.sources == {
            store.sha256_of(store.anchors[0]): f"system ({bundle})"
        }
    finally:
        trust.system_store.cache_clear()


def test_custom_roots_are_added_labelled_and_cached(pki: Cast) -> None:
    base = mozilla_store()
    store = store_with_extra(base, pki.corp_root.pem, "Corp Root bundle")
    assert store is store_with_extra(base, pki.corp_root.pem, "Corp Root bundle")
    assert store.name == "mozilla+Corp Root bundle" and len(store) == len(base) + 1
    corp = store.anchors_for_issuer(pki.corp_root.subject)[0]
    assert store.source_of(store.sha256_of(corp)) == "custom: Corp Root bundle"
    assert (store.source_of(base.sha256_of(base.anchors[0])) or "").startswith("Mozilla")


def test_a_private_pki_chain_is_trusted_through_its_custom_root(pki: Cast) -> None:
    store = load_trust_store("mozilla", pki.corp_root.pem, "Corp")
    result = analyse(
        [pki.corp_leaf.der, pki.corp_issuing.der],
        hostname="intranet.corp.example",
        trust=store,
        at=NOW,
    )
    assert result.verdict is Verdict.OK and result.anchor_source == "custom: Corp"
    assert result.anchor is not None and result.anchor.common_name == "Corp Private Root"


def test_custom_roots_that_are_not_certificates_are_refused() -> None:
    with pytest.raises(TrustStoreError, match="could not be read"):
        store_with_extra(empty_store(), b"not a certificate", "junk")


@pytest.mark.parametrize(("kind", "name"), [("mozilla", "mozilla"), (" NONE ", "none")])
def test_stores_are_loaded_by_kind(kind: str, name: str) -> None:
    assert load_trust_store(kind).name == name


def test_an_unknown_store_kind_is_refused_with_the_choices() -> None:
    with pytest.raises(TrustStoreError, match="mozilla, system, none"):
        load_trust_store("windows")


def test_custom_roots_on_an_empty_base_make_a_private_only_store(pki: Cast) -> None:
    store = load_trust_store("none", pki.corp_root.pem, "Corp")
    assert store.name == "none+Corp" and len(store) == 1 and store.store is not None
