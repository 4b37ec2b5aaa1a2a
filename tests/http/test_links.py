"""Link extraction and the parse entry point (corral.http.web._links)."""

from __future__ import annotations

import pickle

import pytest

import corral
from corral.http._errors import BadURL
from corral.http.web._links import (
    MAX_LINKS,
    Link,
    PageLinks,
    extract_links,
    parse_page,
    parse_pages,
    robots_directives,
)

PAGE = "http://example.com/dir/page.html"


def links_of(html: str, url: str = PAGE) -> list[tuple[str, str, bool]]:
    return [(link.url, link.kind, link.nofollow) for link in parse_page(html.encode(), url).links]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            '<a href="b.html">', [("http://example.com/dir/b.html", "a", False)], id="rel"
        ),
        pytest.param('<a href="/b">', [("http://example.com/b", "a", False)], id="root-rel"),
        pytest.param(
            '<a href="https://Other.org:443/x">', [("https://other.org/x", "a", False)], id="abs"
        ),
        pytest.param('<a href="b#frag">', [("http://example.com/dir/b", "a", False)], id="frag"),
        pytest.param(
            '<a href="/n" rel="nofollow">', [("http://example.com/n", "a", True)], id="nofollow"
        ),
        pytest.param(
            '<a href="/n" rel="noopener NoFollow">',
            [("http://example.com/n", "a", True)],
            id="nofollow-among-tokens",
        ),
        pytest.param(
            '<map><area href="/m"></map>', [("http://example.com/m", "area", False)], id="area"
        ),
        pytest.param(
            '<link rel="next" href="p2"><link rel="prev" href="p0">',
            [
                ("http://example.com/dir/p2", "next", False),
                ("http://example.com/dir/p0", "prev", False),
            ],
            id="next-prev",
        ),
        pytest.param(
            '<link rel="alternate" hreflang="de" href="/de/">',
            [("http://example.com/de/", "alternate", False)],
            id="alternate",
        ),
        pytest.param(
            '<link rel="stylesheet" href="s.css"><link rel="alternate stylesheet" href="t.css">'
            '<link rel="icon" href="/f.ico"><link href="/no-rel">',
            [],
            id="assets-skipped",
        ),
        pytest.param(
            '<meta http-equiv="Refresh" content="0; URL=\'/moved\'">',
            [("http://example.com/moved", "refresh", False)],
            id="meta-refresh",
        ),
        pytest.param(
            '<a href="Bücher.html">',
            [("http://example.com/dir/B%C3%BCcher.html", "a", False)],
            id="utf8-path",
        ),
        pytest.param(
            '<a href="http://Bücher.de/">', [("http://xn--bcher-kva.de/", "a", False)], id="idna"
        ),
        pytest.param(
            '<a href="http://example.com:80/p">',
            [("http://example.com/p", "a", False)],
            id="default-port",
        ),
        pytest.param('<a>no href</a><a href="">empty</a><a href="#top">', [], id="no-target"),
        pytest.param(
            '<a href="mailto:a@b.c"><a href="javascript:x()"><a href="tel:1"><a href="data:,x">'
            '<a href="ftp://h/f">',
            [],
            id="non-http-schemes",
        ),
        pytest.param(
            '<a href="http://[oops/"><a href="http://h:99999/"><a href="/ok">',
            [("http://example.com/ok", "a", False)],
            id="invalid-hrefs-skipped",
        ),
    ],
)
def test_links(html: str, expected: list[tuple[str, str, bool]]) -> None:
    """Each link comes out resolved, normalised, with its kind and nofollow flag."""
    assert links_of(html) == expected


def test_base_href_is_respected() -> None:
    """Relative links resolve against ``<base href>`` (itself relative to the page)."""
    page = parse_page(b'<head><base href="/other/"></head><a href="x">', PAGE)
    assert page.base == "http://example.com/other/"
    assert page.links == (Link("http://example.com/other/x", "a", False),)


def test_base_after_links_still_applies_and_first_wins() -> None:
    """The first ``<base href>`` applies to the whole document, as in browsers."""
    html = b'<a href="x"></a><base href="http://cdn.example.org/b/"><base href="/ignored/">'
    page = parse_page(html, PAGE)
    assert page.links == (Link("http://cdn.example.org/b/x", "a", False),)


@pytest.mark.parametrize(
    "base",
    [
        pytest.param("javascript:alert(1)", id="non-http"),
        pytest.param("http://[broken", id="broken"),
        pytest.param("", id="empty"),
    ],
)
def test_unusable_base_falls_back_to_page(base: str) -> None:
    """A ``<base href>`` that is not an http(s) URL is ignored."""
    page = parse_page(f'<base href="{base}"><a href="x">'.encode(), PAGE)
    assert page.base == PAGE
    assert page.links == (Link("http://example.com/dir/x", "a", False),)


def test_canonical_returned_separately_and_as_link() -> None:
    """The first valid canonical is ``canonical``; it is also a followable link."""
    html = b'<link rel="canonical" href="mailto:x"><link rel="Canonical" href="/c?id=1#x">'
    html += b'<link rel="canonical" href="/second">'
    page = parse_page(html, PAGE)
    assert page.canonical == "http://example.com/c?id=1"
    assert Link("http://example.com/c?id=1", "canonical", False) in page.links


def test_no_canonical() -> None:
    """A page without a canonical link says None."""
    assert parse_page(b"<p>hi</p>", PAGE).canonical is None


def test_duplicates_merge_and_followable_wins() -> None:
    """One URL appears once, in first-seen order; if any occurrence is followable, it is."""
    html = '<a href="/a" rel="nofollow"><a href="/b"><a href="/a"><a href="/b#x" rel="nofollow">'
    assert links_of(html) == [
        ("http://example.com/a", "a", False),
        ("http://example.com/b", "a", False),
    ]


@pytest.mark.parametrize(
    ("content", "noindex", "nofollow"),
    [
        pytest.param("noindex", True, False, id="noindex"),
        pytest.param("NOFOLLOW", False, True, id="nofollow-upper"),
        pytest.param("noindex, nofollow", True, True, id="both"),
        pytest.param("none", True, True, id="none"),
        pytest.param("index,follow", False, False, id="index-follow"),
        pytest.param("googlebot: noindex", True, False, id="x-robots-tag-named"),
        pytest.param("", False, False, id="empty"),
    ],
)
def test_robots_directives(content: str, noindex: bool, nofollow: bool) -> None:
    """Robots meta values and X-Robots-Tag headers read the same way."""
    assert robots_directives(content) == (noindex, nofollow)


def test_meta_robots_nofollow_empties_to_follow() -> None:
    """``<meta name=robots content=nofollow>`` is reported and stops all following."""
    html = b'<meta name="ROBOTS" content="noindex, nofollow"><a href="/a"><a href="/b">'
    page = parse_page(html, PAGE)
    assert (page.noindex, page.nofollow) == (True, True)
    assert len(page.links) == 2
    assert page.to_follow() == ()


def test_to_follow_skips_nofollow_links() -> None:
    """``to_follow`` lists the followable links only."""
    page = parse_page(b'<a href="/a"><a href="/b" rel="nofollow">', PAGE)
    assert page.to_follow() == ("http://example.com/a",)


def test_other_meta_names_do_not_count() -> None:
    """Only ``name=robots`` sets the page flags."""
    page = parse_page(b'<meta name="description" content="noindex nofollow">', PAGE)
    assert (page.noindex, page.nofollow) == (False, False)


@pytest.mark.parametrize(
    ("html", "title"),
    [
        pytest.param("<title>  Hello\n  world </title>", "Hello world", id="collapsed"),
        pytest.param("<title></title>", None, id="empty"),
        pytest.param("<p>none</p>", None, id="missing"),
        pytest.param("<title>" + "t" * 5000 + "</title>", "t" * 1000, id="capped"),
        pytest.param("<title>a &amp; b</title>", "a & b", id="entities"),
    ],
)
def test_title(html: str, title: str | None) -> None:
    """The title is whitespace-collapsed text, at most 1000 characters."""
    assert parse_page(html.encode(), PAGE).title == title


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<a href='/a'><div><p></a></span><<<>>>", id="unbalanced"),
        pytest.param(b"<a href=/a", id="cut-in-tag"),
        pytest.param(b"\x00\xff\xfe<a href='/\xff'>", id="bad-bytes"),
        pytest.param(bytes(range(256)) * 40, id="binary"),
        pytest.param(b"<a href='" + b"x" * 2_000_000 + b"'><a href='/ok'>", id="huge-attribute"),
        pytest.param(b"", id="empty"),
        pytest.param(
            b"<svg><a href='/s'></a></svg><template><a href='/t'></a></template>", id="svg"
        ),
    ],
)
def test_broken_input_never_raises(body: bytes) -> None:
    """Broken HTML, binary junk and huge attributes give a result, never an exception."""
    page = parse_page(body, PAGE)
    assert isinstance(page, PageLinks)
    assert all(link.url.startswith("http://") for link in page.links)


def test_huge_href_skipped_others_kept() -> None:
    """An href too long to be a URL is skipped; the rest of the page is read."""
    page = parse_page(b"<a href='/" + b"x" * 20_000 + b"'></a><a href='/ok'>", PAGE)
    assert page.links == (Link("http://example.com/ok", "a", False),)


@pytest.mark.parametrize(
    ("body", "content_type", "charset", "path"),
    [
        pytest.param("/é".encode(), None, None, "/%C3%A9", id="utf8-default"),
        pytest.param(
            "/é".encode("cp1252"), "text/html; charset=ISO-8859-1", None, "/%C3%A9", id="ct-latin1"
        ),
        pytest.param("/п".encode("cp1251"), None, "windows-1251", "/%D0%BF", id="charset-arg"),
        pytest.param(
            "/п".encode("cp1251"), "text/html; charset=utf-8", "cp1251", "/%D0%BF", id="arg-wins"
        ),
        pytest.param(
            "/é".encode(), "text/html; charset=bogus-enc", None, "/%C3%A9", id="unknown-label"
        ),
    ],
)
def test_encodings(body: bytes, content_type: str | None, charset: str | None, path: str) -> None:
    """The declared charset decodes hrefs; unknown labels fall back to detection."""
    page = parse_page(b'<a href="' + body + b'">', "http://example.com/", content_type, charset)
    assert page.links == (Link("http://example.com" + path, "a", False),)


def test_meta_charset_used_when_server_says_nothing() -> None:
    """Without a declared charset, ``<meta charset>`` decides (then UTF-8)."""
    body = '<meta charset="windows-1251"><a href="/п">'.encode("cp1251")
    page = parse_page(body, "http://example.com/")
    assert page.links == (Link("http://example.com/%D0%BF", "a", False),)


def test_bom_beats_declared_charset() -> None:
    """A UTF-8 byte-order mark wins over the header, as the HTML standard orders."""
    body = b"\xef\xbb\xbf" + '<a href="/é">'.encode()
    page = parse_page(body, "http://example.com/", "text/html; charset=windows-1251")
    assert page.links == (Link("http://example.com/%C3%A9", "a", False),)


def test_text_input_accepted() -> None:
    """``extract_links`` also takes already-decoded text."""
    page = extract_links('<a href="/é">', "http://example.com/")
    assert page.links == (Link("http://example.com/%C3%A9", "a", False),)


def test_links_bounded_and_truncation_reported() -> None:
    """More than ``max_links`` unique links: the first ones are kept, ``truncated`` is set."""
    html = "".join(f'<a href="/p{n}">' for n in range(50))
    page = extract_links(html, PAGE, max_links=10)
    assert len(page.links) == 10
    assert page.links[-1].url == "http://example.com/p9"
    assert page.truncated
    assert not parse_page(html.encode(), PAGE).truncated
    assert MAX_LINKS >= 1000


def test_page_url_normalised_and_bad_page_url_raises() -> None:
    """The page URL comes back normalised; a page URL that is not http(s) is an error."""
    assert parse_page(b"", "HTTP://Example.COM:80#x").url == "http://example.com/"
    with pytest.raises(BadURL, match="bad scheme"):
        parse_page(b"", "file:///etc/passwd")


def test_result_pickles() -> None:
    """A ``PageLinks`` survives pickling, as a worker process's return value must."""
    page = parse_page(b'<title>t</title><link rel=canonical href=/c><a href="/a">', PAGE)
    assert pickle.loads(pickle.dumps(page)) == page


async def test_parse_page_runs_in_a_worker_process() -> None:
    """``corral.to_process(parse_page, ...)`` works: module-level, picklable in and out."""
    body = b'<a href="/a" rel=nofollow><a href="b">'
    page = await corral.to_process(parse_page, body, PAGE, "text/html", None)
    assert page == parse_page(body, PAGE)
    assert page.to_follow() == ("http://example.com/dir/b",)


async def test_parse_pages_batches_in_a_worker_process() -> None:
    """A batch crosses to a worker in one call; a bad page URL is that page's result."""
    batch = [
        (b'<a href="/a">', PAGE, "text/html", None),
        (b"<a href=x>", "ftp://example.com/", None, None),
        ("<a href='/é'>".encode("cp1252"), PAGE, None, "windows-1252"),
    ]
    results = await corral.to_process(parse_pages, batch)
    assert results[0] == parse_page(*batch[0])
    assert isinstance(results[1], BadURL)
    assert str(results[1]) == "bad scheme 'ftp' (http or https only)"
    assert results[2] == parse_page(*batch[2])
