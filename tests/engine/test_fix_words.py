"""A finding in layers: one sentence of what is wrong, the fix as numbered steps."""

from __future__ import annotations

import hashlib

from scans.engine.certs import describe
from scans.engine.report import Finding, FixStep, Severity, fix_steps, sentences
from tests import pki

FIX = (
    "Stop serving CN=Example Authority X1 (sha256 1a2b3c4d5e6f7a8b) and serve CN=Example "
    "Authority X3 (sha256 9a2b3c4d5e6f7a8b) instead. Serve, in this order: 1. leaf "
    "CN=x3.example.com (sha256 aaaa) 2. intermediate CN=Example Authority X3 (sha256 bbbb) "
    "— download the expected chain from this report and install it as the chain file."
)


def test_an_inline_numbered_list_becomes_steps_with_items():
    assert fix_steps(FIX) == (
        FixStep(
            "Stop serving CN=Example Authority X1 (sha256 1a2b3c4d5e6f7a8b) and serve "
            "CN=Example Authority X3 (sha256 9a2b3c4d5e6f7a8b) instead."
        ),
        FixStep(
            "Serve, in this order:",
            (
                "leaf CN=x3.example.com (sha256 aaaa)",
                "intermediate CN=Example Authority X3 (sha256 bbbb)",
            ),
        ),
        FixStep("Download the expected chain from this report and install it as the chain file."),
    )


def test_prose_without_a_list_is_one_step_per_sentence():
    assert [s.text for s in fix_steps("Renew it. Then reload the server.")] == [
        "Renew it.",
        "Then reload the server.",
    ]


def test_a_list_number_does_not_end_a_sentence():
    assert sentences("Do this: 1. Leaf first 2. Then X. Done.") == [
        "Do this: 1. Leaf first 2. Then X.",
        "Done.",
    ]


def test_a_finding_says_what_is_wrong_in_its_first_sentence():
    f = Finding("x", Severity.ERROR, "t", "The server sends X1. Strict clients reject it.", FIX)
    assert f.summary == "The server sends X1."
    assert len(f.steps) == 3


def test_every_certificate_carries_its_sha1_thumbprint():
    der = pki.cast().x3.der
    assert describe(der).sha1 == hashlib.sha1(der).hexdigest()
    assert describe(b"garbage").sha1 == hashlib.sha1(b"garbage").hexdigest()
