"""What people type into the form, turned into targets or into messages they can act on."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scans.engine.targets import (
    DEFAULT_PORT,
    MAX_TARGETS,
    Target,
    TargetError,
    parse_target,
    parse_targets,
)

ACCEPTED = [
    ("example.com", "example.com", 443),
    ("Example.COM.", "example.com", 443),
    ("  example.com  ", "example.com", 443),
    ("example.com:8443", "example.com", 8443),
    ("example.com.:8443", "example.com", 8443),
    ("https://user:pw@example.com:444/path?q#f", "example.com", 444),
    ("https://EXAMPLE.com", "example.com", 443),
    ("http://example.com/login", "example.com", 443),
    ("https://example.com?x=1", "example.com", 443),
    ("https://example.com#top", "example.com", 443),
    ("bücher.example", "xn--bcher-kva.example", 443),
    ("BÜCHER.example:8443", "xn--bcher-kva.example", 8443),
    ("xn--bcher-kva.example", "xn--bcher-kva.example", 443),
    ("localhost", "localhost", 443),
    ("123.com", "123.com", 443),
    ("_acme.example.com", "_acme.example.com", 443),
    ("127.0.0.1", "127.0.0.1", 443),
    ("192.0.2.10:8443", "192.0.2.10", 8443),
    ("[2001:db8::1]:8443", "2001:db8::1", 8443),
    ("[2001:DB8:0::1]", "2001:db8::1", 443),
    ("2001:db8::1", "2001:db8::1", 443),
    ("https://[2001:db8::1]:444/x", "2001:db8::1", 444),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1", 443),
    ("example.com:00443", "example.com", 443),
    ("example.com:65535", "example.com", 65535),
    ("example.com:1", "example.com", 1),
]


@pytest.mark.parametrize(("text", "host", "port"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_it_turns_what_people_type_into_an_a_label_host_and_port(
    text: str, host: str, port: int
) -> None:
    assert parse_target(text) == Target(host=host, port=port)


REFUSED = [
    ("", "empty"),
    ("   ", "empty"),
    ("exa mple.com", "is not allowed"),
    ("example.com/path", "is not allowed"),
    ("user@example.com", "is not allowed"),
    ("-bad-.com", "hyphen"),
    ("a..b", "two dots in a row"),
    ("a" * 64 + ".com", "longer than 63 characters"),
    (".".join(["a" * 63] * 4) + ".com", "too long"),
    ("example.com:0", "out of range"),
    ("example.com:70000", "out of range"),
    ("example.com:abc", "not a port number"),
    ("example.com:", "not a port number"),
    ("example.com:-1", "not a port number"),
    ("example.com:²", "not a port number"),
    ("example.com:٤٤٣", "not a port number"),
    ("example.com:443:1", "not a host name, and not an ipv6 address"),
    ("ftp://x", "scheme 'ftp'"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("https://", "empty"),
    (":443", "empty"),
    ("0x7f.1", "unusual form"),
    ("0x7f000001", "unusual form"),
    ("2130706433", "unusual form"),
    ("127.1", "unusual form"),
    ("1.2.3", "unusual form"),
    ("017700000001", "unusual form"),
    ("www.123", "last part is a number"),
    ("☃.example", "is not a host name"),
    ("[::1", "unclosed"),
    ("[::1]x", "unexpected text"),
    ("[example.com]:443", "not a valid ipv6 address"),
    ("x" * 3000, "too long"),
]


@pytest.mark.parametrize(("text", "words"), REFUSED, ids=[r[0][:40] or "(empty)" for r in REFUSED])
def test_it_refuses_what_is_not_a_host_with_a_message_that_says_why(text: str, words: str) -> None:
    with pytest.raises(TargetError) as raised:
        parse_target(text)
    assert words in str(raised.value).lower()


def test_a_numeric_trick_is_refused_with_the_form_it_should_take() -> None:
    with pytest.raises(TargetError, match="dotted IPv4 address"):
        parse_target("0x7f.1")


def test_a_backslash_ends_the_host_of_a_url_as_browsers_read_it() -> None:
    # https://evil.example\@good.example/ goes to evil.example in a browser.
    assert parse_target("https://evil.example\\@good.example/").host == "evil.example"


def test_the_last_at_sign_separates_credentials_from_the_host() -> None:
    assert parse_target("https://good.example@other.example/").host == "other.example"


def test_a_target_shows_itself_in_unicode_to_people_and_in_a_labels_to_machines() -> None:
    target = parse_target("bücher.example:8443")
    assert str(target) == "xn--bcher-kva.example:8443"
    assert target.display == "bücher.example:8443"


def test_an_ipv6_target_is_written_with_brackets() -> None:
    target = parse_target("[2001:db8::1]:8443")
    assert target.is_ip
    assert str(target) == "[2001:db8::1]:8443"
    assert target.display == "[2001:db8::1]:8443"


def test_the_default_port_is_left_out_when_a_target_is_written() -> None:
    assert str(Target("example.com", DEFAULT_PORT)) == "example.com"


@pytest.mark.parametrize(
    "text",
    [
        "a.com, b.com:444, a.com",
        "a.com\nb.com:444\n\na.com:443\n",
        "a.com;b.com:444;A.COM",
        "  a.com ,\r\n b.com:444 ; ; ,, a.com.",
        "https://a.com/x\thttps://b.com:444/y https://a.com/z",
    ],
    ids=["commas", "newlines", "semicolons", "mixed-separators", "urls-and-tabs"],
)
def test_a_list_is_split_deduplicated_and_kept_in_order(text: str) -> None:
    targets, errors = parse_targets(text)
    assert targets == [Target("a.com"), Target("b.com", 444)]
    assert errors == []


def test_a_list_keeps_the_good_targets_and_reports_each_bad_one() -> None:
    targets, errors = parse_targets("good.example, exa%mple.com, other.example:0")
    assert targets == [Target("good.example")]
    assert len(errors) == 2
    assert "exa%mple.com" in errors[0]
    assert "port 0" in errors[1]


@pytest.mark.parametrize("text", ["", "   ", ",;\n, ;"], ids=["empty", "blank", "separators"])
def test_an_empty_list_asks_for_a_host(text: str) -> None:
    assert parse_targets(text) == ([], ["enter at least one host name"])


def test_a_list_longer_than_the_limit_is_reported() -> None:
    text = ", ".join(f"host{i}.example" for i in range(MAX_TARGETS + 1))
    targets, errors = parse_targets(text)
    assert len(targets) == MAX_TARGETS + 1
    assert errors == [f"at most {MAX_TARGETS} hosts at a time ({MAX_TARGETS + 1} given)"]


def test_a_huge_paste_is_refused_without_parsing_it() -> None:
    assert parse_targets("a.com," * 5000) == ([], ["the list is longer than 10000 characters"])


# Text that looks like what people paste, so the property reaches the deep
# branches, plus anything at all.
_host_like = st.from_regex(
    r"\A(https?://)?([a-zA-Z0-9_.-]|ü|ß|\[|\]|:|@|/|%){0,40}(:[0-9]{0,6})?\Z", fullmatch=True
)
_any_text = st.one_of(st.text(max_size=200), _host_like, st.lists(_host_like).map(",".join))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_any_text)
def test_any_text_gives_targets_and_messages_and_never_an_exception(text: str) -> None:
    targets, errors = parse_targets(text)
    assert all(isinstance(t, Target) for t in targets)
    assert all(isinstance(e, str) and e for e in errors)
    assert len(set(targets)) == len(targets)
    for target in targets:
        assert parse_target(str(target)) == target
        assert 1 <= target.port <= 65535
        assert target.host == target.host.lower()
        assert target.host.isascii()
