"""URL normal form, validation reasons and host keys (corral.http.web._urls)."""

from __future__ import annotations

import pytest
from yarl import URL

from corral import CorralError
from corral.http._errors import BadURL
from corral.http.web._urls import (
    MAX_URL_LENGTH,
    InvalidURL,
    check,
    host_key,
    mask_credentials,
    normalize,
    normalize_url,
    parse,
    public_argv,
    validate,
)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        pytest.param("HTTP://ExAmple.COM/Path", "http://example.com/Path", id="case-scheme-host"),
        pytest.param("http://example.com", "http://example.com/", id="empty-path-slash"),
        pytest.param("http://example.com:80/a", "http://example.com/a", id="default-port-http"),
        pytest.param("https://example.com:443/a", "https://example.com/a", id="default-port-https"),
        pytest.param("http://example.com:443/a", "http://example.com:443/a", id="other-port-kept"),
        pytest.param("https://example.com:8443", "https://example.com:8443/", id="port-empty-path"),
        pytest.param("http://example.com/a#frag", "http://example.com/a", id="fragment-dropped"),
        pytest.param("http://example.com#frag", "http://example.com/", id="fragment-no-path"),
        pytest.param(
            "http://example.com/?b=2&a=1", "http://example.com/?b=2&a=1", id="query-order"
        ),
        pytest.param("http://example.com?x=1", "http://example.com/?x=1", id="query-no-path"),
        pytest.param("http://example.com/%7euser", "http://example.com/~user", id="unreserved"),
        pytest.param(
            "http://example.com/%e2%82%ac", "http://example.com/%E2%82%AC", id="upper-hex"
        ),
        pytest.param("http://example.com/a%2Fb", "http://example.com/a%2Fb", id="keep-2f"),
        pytest.param("http://example.com/a b", "http://example.com/a%20b", id="space-encoded"),
        pytest.param("http://example.com/€", "http://example.com/%E2%82%AC", id="utf8-path"),
        pytest.param("http://example.com/?q=é", "http://example.com/?q=%C3%A9", id="utf8-query"),
        pytest.param("http://example.com/a/./b/../c", "http://example.com/a/c", id="dot-segments"),
        pytest.param("http://Bücher.DE/", "http://xn--bcher-kva.de/", id="idna"),
        pytest.param("http://xn--bcher-kva.de/", "http://xn--bcher-kva.de/", id="idna-ascii"),
        pytest.param("http://[::1]:80/", "http://[::1]/", id="ipv6-default-port"),
        pytest.param("http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x", id="ipv4-port"),
        pytest.param("  http://example.com/ \n", "http://example.com/", id="surrounding-space"),
        pytest.param("http://user:pw@example.com/", "http://user:pw@example.com/", id="userinfo"),
        pytest.param("http://a_b.example.com/", "http://a_b.example.com/", id="underscore-host"),
    ],
)
def test_normalize(raw: str, normal: str) -> None:
    """Spellings that servers treat alike normalise to one string."""
    assert normalize(raw) == normal
    assert validate(raw) == normal


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("HTTP://Bücher.DE:80/a/../%7e?q=é#x", id="mixed"),
        pytest.param("https://example.com:8443", id="port"),
        pytest.param("http://example.com/a%2fb?%41=%zz", id="escapes"),
    ],
)
def test_normalize_is_idempotent(raw: str) -> None:
    """Normalising a normal form changes nothing, so stored keys stay keys."""
    once = normalize(raw)
    assert normalize(once) == once
    assert normalize_url(URL(once)) == once


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("", "empty URL", id="empty"),
        pytest.param("   ", "empty URL", id="blank"),
        pytest.param("example.com/a", "no scheme (http or https expected)", id="no-scheme"),
        pytest.param("/a/b", "no scheme (http or https expected)", id="path-only"),
        pytest.param("ftp://example.com/", "bad scheme 'ftp' (http or https only)", id="ftp"),
        pytest.param("mailto:a@b.c", "bad scheme 'mailto' (http or https only)", id="mailto"),
        pytest.param("javascript:x()", "bad scheme 'javascript' (http or https only)", id="js"),
        pytest.param("http:///path", "no host", id="no-host"),
        pytest.param("http:path", "no host", id="no-slashes"),
        pytest.param("http://a..com/", "bad host 'a..com'", id="empty-label"),
        pytest.param("http://exa mple.com/", "bad host 'exa mple.com'", id="space-in-host"),
        pytest.param("http://example.com:0/", "bad port 0", id="port-zero"),
        pytest.param("http://example.com:99999/", "bad port", id="port-too-big"),
        pytest.param("http://example.com:http/", "bad port", id="port-not-number"),
        pytest.param("http://exa\x00mple.com/", "control character in URL", id="nul"),
        pytest.param("http://example.com/a\tb", "control character in URL", id="tab-inside"),
        pytest.param("http://example.com/\x7f", "control character in URL", id="del"),
        pytest.param(
            "http://example.com/" + "a" * MAX_URL_LENGTH,
            f"URL longer than {MAX_URL_LENGTH} characters",
            id="too-long",
        ),
    ],
)
def test_validate_says_why(raw: str, reason: str) -> None:
    """Each refusal comes back as an ``invalid_url`` outcome with a one-line reason."""
    result = validate(raw)
    assert result == InvalidURL(reason)
    assert isinstance(result, InvalidURL)
    assert result.kind == "invalid_url"
    assert "\n" not in result.reason


def test_long_label_and_bad_ipv6_are_bad_hosts() -> None:
    """A DNS label over 63 characters and a malformed IPv6 literal are refused."""
    long_label = validate(f"http://{'a' * 64}.com/")
    assert isinstance(long_label, InvalidURL)
    assert long_label.reason.startswith("bad host")
    bad_v6 = validate("http://[zz::1]/")
    assert isinstance(bad_v6, InvalidURL)
    assert bad_v6.reason == "bad host 'zz::1'"


def test_parse_raises_bad_url_which_is_a_value_error() -> None:
    """``parse`` raises ``BadURL``, catchable as ``CorralError`` or ``ValueError``."""
    with pytest.raises(BadURL, match="no host") as info:
        parse("http://")
    assert isinstance(info.value, CorralError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("http://Example.com:80#top", id="bare-host"),
        pytest.param("HTTPS://Bücher.de:443/%7e?q=é#x", id="mixed"),
        pytest.param("http://[::1]:8080/a/../b", id="ipv6"),
    ],
)
def test_parse_is_normalised_check_is_not(raw: str) -> None:
    """``parse`` gives the normal form as a URL; ``check`` keeps the URL as written."""
    assert str(parse(raw)) == normalize(raw)
    checked = check(raw)
    assert normalize_url(checked) == normalize(raw)
    assert checked.raw_fragment == URL(raw.strip()).raw_fragment


def test_normalize_url_checks_built_urls() -> None:
    """URLs built by code (after a redirect or join) are checked like text ones."""
    with pytest.raises(BadURL, match="bad scheme 'ftp'"):
        normalize_url(URL("ftp://example.com/"))
    with pytest.raises(BadURL, match="no scheme"):
        normalize_url(URL("/relative"))


@pytest.mark.parametrize(
    ("url", "key"),
    [
        pytest.param("http://Example.com/a", "example.com", id="http"),
        pytest.param("https://example.com:443/b", "example.com", id="https-default"),
        pytest.param("http://example.com:80/", "example.com", id="http-default"),
        pytest.param("http://example.com:8080/", "example.com:8080", id="port"),
        pytest.param("https://example.com:80/", "example.com:80", id="https-on-80"),
        pytest.param("http://[::1]:8080/", "[::1]:8080", id="ipv6-port"),
        pytest.param("http://[::1]/", "[::1]", id="ipv6"),
        pytest.param("http://Bücher.de/", "xn--bcher-kva.de", id="idna"),
    ],
)
def test_host_key(url: str, key: str) -> None:
    """The politeness key is host plus a non-default port, whatever the scheme."""
    assert host_key(url) == key
    assert host_key(URL(url)) == key


def test_host_key_refuses_non_http() -> None:
    """A string that is not an http(s) URL has no host key."""
    with pytest.raises(BadURL):
        host_key("mailto:someone@example.com")


def test_bytes_that_are_not_utf8_make_a_url_invalid() -> None:
    """A URL holding a byte that did not decode (a surrogate escape, as Python reads argv
    and corral its input) is invalid: yarl dropped it and a different URL was fetched."""
    assert validate("http://example.org/caf\udce9") == InvalidURL(
        "not UTF-8 (byte 0xE9 at character 23)"
    )
    assert validate("http://example.org/café") == "http://example.org/caf%C3%A9"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param("http://user:secret@example.com/", "http://user:***@example.com/", id="pw"),
        pytest.param("https://u:p@h:8443/a?b=c", "https://u:***@h:8443/a?b=c", id="port-query"),
        pytest.param("http://u:@example.com/", "http://u:***@example.com/", id="empty-pw"),
        pytest.param("http://token@example.com/", "http://***@example.com/", id="user-only"),
        pytest.param("http://u:p@ss@example.com/x", "http://u:***@example.com/x", id="raw-at"),
        pytest.param("http://u:p%40ss@example.com", "http://u:***@example.com", id="no-path"),
        pytest.param("http://example.com/@bob?to=a@b", "http://example.com/@bob?to=a@b", id="at"),
        pytest.param("http://example.com/", "http://example.com/", id="none"),
        pytest.param("ftp://u:pw@h/ x", "ftp://u:***@h/ x", id="any-scheme"),
        pytest.param(
            '{"url": "http://u:pw@h/", "x": "a@b"}',
            '{"url": "http://u:***@h/", "x": "a@b"}',
            id="in-json",
        ),
        pytest.param("http://u:***@h/", "http://u:***@h/", id="idempotent"),
    ],
)
def test_mask_credentials(text: str, masked: str) -> None:
    """A URL's password (or a userinfo without one, often a token) is shown as ``***``;
    an ``@`` in a path or query is not userinfo and stays."""
    assert mask_credentials(text) == masked


def test_public_argv_masks_header_secrets_and_url_passwords() -> None:
    """The command line a store keeps: credential-like headers' values and URL passwords
    shown as ``***``, however the option was spelled; other headers and arguments as typed."""
    argv = [
        "corral",
        "fetch",
        "urls.txt",
        "--header",
        "Authorization: Bearer s3cret",
        "--header=Cookie: sid=abc",
        "--head",
        "X-Api-Key:k3y",
        "--header",
        "Accept-Language: de",
        "--redis",
        "redis://:pw@127.0.0.1:6379/0",
        "--user-agent",
        "bot: 1.0",
    ]
    assert public_argv(argv) == [
        "corral",
        "fetch",
        "urls.txt",
        "--header",
        "Authorization: ***",
        "--header=Cookie: ***",
        "--head",
        "X-Api-Key: ***",
        "--header",
        "Accept-Language: de",
        "--redis",
        "redis://:***@127.0.0.1:6379/0",
        "--user-agent",
        "bot: 1.0",
    ]
