"""The fix as the files servers take: full chain, chain without leaf, PKCS#7, DER."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from scans.engine.certs import certificate_file, chain_file, describe, read_bundle
from tests import pki


@pytest.fixture
def chain():  # type: ignore[no-untyped-def]
    c = pki.cast()
    return [describe(c.leaf.der), describe(c.issuing.der)]


def test_full_chain_and_chain_without_leaf_are_pem(chain):
    full = chain_file(chain, "fullchain")
    assert read_bundle(full.data) == [c.der for c in chain] and full.suffix == ".pem"
    assert read_bundle(chain_file(chain, "chain").data) == [chain[1].der]


def test_pkcs7_holds_the_same_certificates(chain):
    out = chain_file(chain, "p7b")
    certs = pkcs7.load_der_pkcs7_certificates(out.data)
    assert sorted(c.public_bytes(Encoding.DER) for c in certs) == sorted(c.der for c in chain)
    assert out.content_type == "application/x-pkcs7-certificates" and out.suffix == ".p7b"


def test_unreadable_certificates_are_left_out_and_an_empty_result_refused(chain):
    junk = describe(b"not a certificate")
    assert read_bundle(chain_file([*chain, junk], "fullchain").data) == [c.der for c in chain]
    with pytest.raises(ValueError, match="no certificate"):
        chain_file(chain[:1], "chain")
    with pytest.raises(ValueError, match="unknown chain format"):
        chain_file(chain, "zip")


def test_one_certificate_as_der(chain):
    out = certificate_file(chain[1])
    assert out.data == chain[1].der and out.suffix == ".cer"
