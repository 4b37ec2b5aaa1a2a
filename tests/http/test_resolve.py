"""Resolving hrefs against a base (corral.http.web._resolve), and its fast path against yarl."""

from __future__ import annotations

import random

import pytest
from yarl import URL

from corral.http.web import _resolve
from corral.http.web._resolve import Resolver
from corral.http.web._urls import normalize_url

BASE = URL("http://example.com/dir/page.html?q=1")


@pytest.mark.parametrize(
    ("href", "target"),
    [
        pytest.param("other.html", "http://example.com/dir/other.html", id="relative"),
        pytest.param("/root", "http://example.com/root", id="absolute-path"),
        pytest.param("../up", "http://example.com/up", id="parent"),
        pytest.param("./same", "http://example.com/dir/same", id="dot"),
        pytest.param("?x=2", "http://example.com/dir/page.html?x=2", id="query-only"),
        pytest.param("//cdn.example.org/a", "http://cdn.example.org/a", id="network-path"),
        pytest.param("https://Other.org:443/p#f", "https://other.org/p", id="absolute"),
        pytest.param("HTTP://Other.org", "http://other.org/", id="absolute-upper-scheme"),
        pytest.param("a b.html", "http://example.com/dir/a%20b.html", id="space"),
        pytest.param(" \n/padded\t ", "http://example.com/padded", id="whitespace-stripped"),
        pytest.param("/a\n/b", "http://example.com/a/b", id="newline-removed"),
        pytest.param("\\win\\path?a\\b", "http://example.com/win/path?a%5Cb", id="backslashes"),
        pytest.param("page.html#sec", "http://example.com/dir/page.html", id="fragment"),
        pytest.param("/%7euser/", "http://example.com/~user/", id="percent-normalised"),
        pytest.param("http://Bücher.de/ä", "http://xn--bcher-kva.de/%C3%A4", id="idna"),
    ],
)
def test_resolves_and_normalises(href: str, target: str) -> None:
    """Hrefs resolve against the base as browsers do, and come out normalised."""
    assert Resolver(BASE)(href) == target


@pytest.mark.parametrize(
    "href",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("#top", id="fragment-only"),
        pytest.param("mailto:a@example.com", id="mailto"),
        pytest.param("javascript:void(0)", id="javascript"),
        pytest.param(" JavaScript:alert(1)", id="javascript-spaced"),
        pytest.param("tel:+100", id="tel"),
        pytest.param("data:text/html,hi", id="data"),
        pytest.param("ftp://example.com/f", id="ftp"),
        pytest.param("http://[broken/", id="bad-ipv6"),
        pytest.param("http://example.com:99999/", id="bad-port"),
        pytest.param("http://a..b/", id="bad-host"),
        pytest.param("/" + "x" * 9000, id="huge"),
    ],
)
def test_refuses(href: str) -> None:
    """Non-http schemes, page-internal links and broken URLs give None, never raise."""
    assert Resolver(BASE)(href) is None


def test_base_without_path_and_with_port() -> None:
    """A base with no path resolves relative hrefs from ``/``; its port is kept."""
    assert Resolver(URL("http://example.com"))("a") == "http://example.com/a"
    assert Resolver(URL("http://example.com:8080/x/"))("y") == "http://example.com:8080/x/y"


def generated_cases(count: int) -> list[tuple[URL, str]]:
    """Return ``count`` (base, href) pairs mixing plain characters with every kind of trap."""
    rng = random.Random(20261121)
    pieces = [*"abcXYZ019-._~!$&'()*+,;=:@/?#%", "..", "./", "//", "%41", "%2f", "é", " "]
    pieces += ["http://", "HTTP://", "https://a.example", "http://B.example:80", "?"]
    bases = [
        BASE,
        URL("http://example.com"),
        URL("https://example.com:8443/a/b/"),
        URL("http://example.com/a%2Fb/c;p=1/d.html?q=%41"),  # escapes in the base path
        URL("http://example.com/%C3%A9/x"),
        URL("https://user:pw@[::1]:8080/a%20b/c"),
    ]
    return [
        (bases[n % len(bases)], "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))))
        for n in range(count)
    ]


def test_fast_path_agrees_with_full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Appending plain hrefs gives exactly what parsing the joined text with yarl gives.

    20,000 generated hrefs mix the characters the fast path accepts with those that must
    go through yarl (percent escapes, dot segments, colons, non-ASCII, upper-case hosts),
    on bases with and without escapes in their path.
    """
    cases = generated_cases(20_000)
    plain = 0
    is_plain = _resolve._is_plain

    def counting(rest: str) -> bool:
        nonlocal plain
        verdict = is_plain(rest)
        plain += verdict
        return verdict

    monkeypatch.setattr(_resolve, "_is_plain", counting)
    fast = [Resolver(base)(href) for base, href in cases]
    monkeypatch.setattr(_resolve, "_is_plain", lambda rest: False)
    full = [Resolver(base)(href) for base, href in cases]
    disagreements = [
        (str(base), href, one, other)
        for (base, href), one, other in zip(cases, fast, full, strict=True)
        if one != other
    ]
    assert disagreements == []
    assert plain > 3000  # the fast path was exercised, not only bypassed


@pytest.mark.parametrize(
    ("href", "target"),
    [
        # RFC 3986 section 5.4.1, "normal examples", base http://a/b/c/d;p?q
        pytest.param("g", "http://a/b/c/g", id="g"),
        pytest.param("./g", "http://a/b/c/g", id="dot-g"),
        pytest.param("g/", "http://a/b/c/g/", id="g-slash"),
        pytest.param("/g", "http://a/g", id="slash-g"),
        pytest.param("//g", "http://g/", id="network-g"),
        pytest.param("?y", "http://a/b/c/d;p?y", id="query"),
        pytest.param("g?y", "http://a/b/c/g?y", id="g-query"),
        pytest.param("#s", None, id="fragment-only"),
        pytest.param("g#s", "http://a/b/c/g", id="g-fragment"),
        pytest.param(";x", "http://a/b/c/;x", id="params"),
        pytest.param("g;x?y#s", "http://a/b/c/g;x?y", id="all"),
        pytest.param(".", "http://a/b/c/", id="dot"),
        pytest.param("./", "http://a/b/c/", id="dot-slash"),
        pytest.param("..", "http://a/b/", id="dotdot"),
        pytest.param("../g", "http://a/b/g", id="dotdot-g"),
        pytest.param("../..", "http://a/", id="dotdot-dotdot"),
        pytest.param("../../g", "http://a/g", id="dotdot-dotdot-g"),
        # section 5.4.2, "abnormal examples"
        pytest.param("../../../g", "http://a/g", id="above-root"),
        pytest.param("/./g", "http://a/g", id="slash-dot-g"),
        pytest.param("g.", "http://a/b/c/g.", id="g-dot"),
        pytest.param("..g", "http://a/b/c/..g", id="dotdot-prefix"),
        pytest.param("./../g", "http://a/b/g", id="dot-dotdot-g"),
        pytest.param("g/../h", "http://a/b/c/h", id="g-up-h"),
        pytest.param("g;x=1/../y", "http://a/b/c/y", id="params-up"),
        pytest.param("g?y/./x", "http://a/b/c/g?y/./x", id="dots-in-query"),
    ],
)
def test_rfc_3986_examples(href: str, target: str | None) -> None:
    """The reference resolution examples of RFC 3986 section 5.4 (fragments dropped)."""
    assert Resolver(URL("http://a/b/c/d;p?q"))(href) == target


@pytest.mark.parametrize(
    ("base", "href", "target"),
    [
        pytest.param("http://x/a%2Fb/c", "d", "http://x/a%2Fb/d", id="encoded-slash"),
        pytest.param("http://x/a%20b/c", "d", "http://x/a%20b/d", id="encoded-space"),
        pytest.param("http://x/%C3%A9/c", "d%20e", "http://x/%C3%A9/d%20e", id="encoded-utf8"),
    ],
)
def test_base_escapes_survive_the_join(base: str, href: str, target: str) -> None:
    """Escapes in the base path stay escaped (yarl's own join decodes them: yarl #1774)."""
    assert Resolver(URL(base))(href) == target


def test_fast_path_results_are_normal() -> None:
    """What the fast path returns is already in normal form."""
    resolve = Resolver(BASE)
    for href in ["a/b.html", "/x?y=1&z=/w", "https://other.example/p", "c;d=1"]:
        target = resolve(href)
        assert target is not None
        assert normalize_url(URL(target)) == target


def test_memo_is_bounded() -> None:
    """One page's memo stops growing at 4,096 hrefs; later ones still resolve."""
    resolve = Resolver(BASE)
    for n in range(5000):
        assert resolve(f"/p{n}") == f"http://example.com/p{n}"
    assert len(resolve._seen) == 4096
