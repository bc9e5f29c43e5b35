"""Reading certificate bundles: PEM split in one linear pass, whatever the text holds.

The hostile shapes are 512 KiB, the size a /check paste or an AIA body could
reach: a parser that looks ahead to the end of the text for every BEGIN takes
minutes on them (``bench/bench_pem.py`` has the figures). These tests check
what comes back; the time is measured in the bench, not asserted here.
"""

from __future__ import annotations

import pytest

from scans.engine.certs import MAX_BUNDLE_CERTS, BundleError, read_bundle, to_pem
from tests.pki import Cast

SIZE = 512 * 1024
BEGIN = b"-----BEGIN CERTIFICATE-----\n"
END = b"-----END CERTIFICATE-----\n"
BASE64_LINE = b"QUJDRA" * 10 + b"\n"


def fill(unit: bytes, size: int = SIZE) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


def test_it_reads_every_certificate_of_a_bundle_in_order(pki: Cast) -> None:
    text = (to_pem(pki.leaf.der) + to_pem(pki.issuing.der) + to_pem(pki.root.der)).encode()

    assert read_bundle(text) == [pki.leaf.der, pki.issuing.der, pki.root.der]


def test_it_reads_the_trusted_and_x509_spellings_and_skips_other_blocks(pki: Cast) -> None:
    trusted = to_pem(pki.issuing.der).replace(" CERTIFICATE", " TRUSTED CERTIFICATE")
    x509 = to_pem(pki.root.der).replace("BEGIN CERTIFICATE", "BEGIN X509 CERTIFICATE")
    key = "-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n"
    text = f"leaf:\n{to_pem(pki.leaf.der)}{key}{trusted}\n{x509}".encode()

    assert read_bundle(text) == [pki.leaf.der, pki.issuing.der, pki.root.der]


def test_a_begin_without_end_says_so() -> None:
    with pytest.raises(BundleError, match="no END CERTIFICATE line"):
        read_bundle(BEGIN + BASE64_LINE * 3)


def test_a_block_cut_short_by_the_next_begin_is_kept_as_unreadable(pki: Cast) -> None:
    cut = BEGIN + BASE64_LINE
    text = cut + to_pem(pki.leaf.der).encode()

    assert read_bundle(text) == [cut, pki.leaf.der]


def test_512_kib_of_begin_lines_without_end_is_refused_with_a_reason() -> None:
    with pytest.raises(BundleError, match=f"more than {MAX_BUNDLE_CERTS} certificates"):
        read_bundle(fill(BEGIN))


def test_512_kib_of_nested_begins_keeps_the_certificate_after_them(pki: Cast) -> None:
    nested = fill(BEGIN + BASE64_LINE, 300 * 1024 // len(BEGIN + BASE64_LINE))
    text = nested + END + to_pem(pki.leaf.der).encode()

    found = read_bundle(text)

    # Every cut-short block is one unreadable entry; the real one is last.
    assert found[-1] == pki.leaf.der
    assert all(entry.startswith(BEGIN) for entry in found[:-1])


def test_a_huge_base64_blob_that_never_ends_is_not_a_certificate() -> None:
    with pytest.raises(BundleError, match="no END CERTIFICATE line"):
        read_bundle(BEGIN + fill(BASE64_LINE, SIZE - len(BEGIN)))


def test_512_kib_of_pkcs7_begin_lines_without_end_holds_no_certificate() -> None:
    with pytest.raises(BundleError, match="no BEGIN CERTIFICATE block"):
        read_bundle(fill(b"-----BEGIN PKCS7-----\n"))


def test_a_huge_blob_between_two_real_certificates_leaves_both_readable(pki: Cast) -> None:
    blob = b"-----BEGIN PRIVATE KEY-----\n" + fill(BASE64_LINE, SIZE)
    text = to_pem(pki.leaf.der).encode() + blob + to_pem(pki.issuing.der).encode()

    assert read_bundle(text) == [pki.leaf.der, pki.issuing.der]
