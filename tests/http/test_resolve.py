"""Resolving hrefs against a base (corral.http._resolve), and its fast path against yarl."""

from __future__ import annotations

import random

import pytest
from yarl import URL

from corral.http._resolve import Resolver
from corral.http._urls import normalize_url

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


class _Counting(Resolver):
    """The resolver under test, counting the hrefs its fast path answered."""

    hits = 0

    def _fast(self, href: str, *, absolute: bool) -> str | None:
        target = super()._fast(href, absolute=absolute)
        _Counting.hits += target is not None
        return target


class _YarlOnly(Resolver):
    """The reference: clean as the resolver does, then always yarl's join and normal form."""

    def _fast(self, href: str, *, absolute: bool) -> str | None:
        return None


def test_fast_path_agrees_with_yarl() -> None:
    """The concatenation fast path gives exactly yarl's answer on 20,000 generated hrefs.

    The alphabet mixes the characters the fast path accepts with the ones that must send
    an href to yarl (percent escapes, dot segments, colons, non-ASCII, upper-case hosts).
    """
    rng = random.Random(20261121)
    pieces = [*"abcXYZ019-._~!$&'()*+,;=:@/?#%", "..", "./", "//", "%41", "%2f", "é", " "]
    pieces += ["http://", "HTTP://", "https://a.example", "http://B.example:80", "?"]
    bases = [BASE, URL("http://example.com"), URL("https://example.com:8443/a/b/")]
    disagreements = []
    for n in range(20_000):
        href = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        base = bases[n % len(bases)]
        fast, slow = _Counting(base)(href), _YarlOnly(base)(href)
        if fast != slow:
            disagreements.append((str(base), href, fast, slow))
    assert disagreements == []
    assert _Counting.hits > 2000  # the fast path was exercised, not only bypassed


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
