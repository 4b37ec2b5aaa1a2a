"""Sitemap parsing (corral.http.web._sitemaps): forms, namespaces, gzip, bounds and junk."""

from __future__ import annotations

import gzip
import zlib

import pytest

from corral.http._errors import BadURL
from corral.http.web._sitemaps import (
    MAX_SITEMAP_BYTES,
    MAX_SITEMAP_URLS,
    SitemapURL,
    parse_sitemap,
)

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
IMAGE_NS = 'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"'
URLSET = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset {NS} {IMAGE_NS}>
  <url>
    <loc> https://Example.com/a#top </loc>
    <lastmod>2026-11-01T10:00:00+00:00</lastmod>
    <changefreq>daily</changefreq>
    <image:image><image:loc>https://example.com/img.png</image:loc></image:image>
  </url>
  <url><loc>https://example.com/b?x=1&amp;y=2</loc></url>
</urlset>
""".encode()
EXPECTED = (
    SitemapURL("https://example.com/a", "2026-11-01T10:00:00+00:00"),
    SitemapURL("https://example.com/b?x=1&y=2"),
)


def urlset(count: int) -> bytes:
    entries = "".join(f"<url><loc>https://example.com/p{n}</loc></url>" for n in range(count))
    return f"<urlset {NS}>{entries}</urlset>".encode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(URLSET, id="plain"),
        pytest.param(gzip.compress(URLSET), id="gzip"),
        pytest.param(b"\n\n  \xef\xbb\xbf" + URLSET.lstrip(), id="leading-space-bom"),
        pytest.param(URLSET.replace(NS.encode(), b""), id="no-namespace"),
        pytest.param(
            URLSET.replace(b"<urlset ", b"<sm:urlset ")
            .replace(b"</urlset>", b"</sm:urlset>")
            .replace(b"xmlns=", b"xmlns:sm=")
            .replace(b"<url>", b"<sm:url>")
            .replace(b"</url>", b"</sm:url>")
            .replace(b"<loc>", b"<sm:loc>")
            .replace(b"</loc>", b"</sm:loc>"),
            id="prefixed-namespace",
        ),
        pytest.param(
            URLSET.replace(b"http://www.sitemaps.org", b"https://www.sitemaps.org"),
            id="other-namespace",
        ),
    ],
)
def test_urlset(body: bytes) -> None:
    """A urlset gives its locs (normalised) and lastmods; extension tags are ignored."""
    sitemap = parse_sitemap(body)
    assert sitemap.kind == "urlset"
    assert sitemap.urls == EXPECTED
    assert (sitemap.sitemaps, sitemap.invalid, sitemap.truncated, sitemap.error) == (
        (),
        0,
        False,
        None,
    )


def test_sitemap_index() -> None:
    """A sitemap index lists its child sitemaps, not pages."""
    body = f"""<sitemapindex {NS}>
      <sitemap><loc>https://example.com/s1.xml.gz</loc><lastmod>2026-01-01</lastmod></sitemap>
      <sitemap><loc>https://example.com/s2.xml</loc></sitemap>
    </sitemapindex>""".encode()
    sitemap = parse_sitemap(gzip.compress(body))
    assert sitemap.kind == "index"
    assert sitemap.urls == ()
    assert sitemap.sitemaps == (
        SitemapURL("https://example.com/s1.xml.gz", "2026-01-01"),
        SitemapURL("https://example.com/s2.xml"),
    )


def test_text_sitemap() -> None:
    """A text sitemap has one URL a line; blank, comment and non-URL lines are skipped."""
    body = b"https://example.com/1\r\n\n# comment\nhttps://Example.com/2\nnot a url\nftp://x/\n"
    sitemap = parse_sitemap(body)
    assert sitemap.kind == "text"
    assert sitemap.urls == (
        SitemapURL("https://example.com/1"),
        SitemapURL("https://example.com/2"),
    )
    assert sitemap.invalid == 2


def test_text_sitemap_gzipped_without_final_newline() -> None:
    """Gzip is found by magic bytes, and the last line needs no newline."""
    sitemap = parse_sitemap(gzip.compress(b"https://example.com/1\nhttps://example.com/2"))
    assert [entry.loc for entry in sitemap.urls] == [
        "https://example.com/1",
        "https://example.com/2",
    ]


def test_relative_locs_resolved_against_sitemap_url() -> None:
    """A loc written as a path is resolved when the sitemap's URL is known."""
    body = f"<urlset {NS}><url><loc>/rel</loc></url></urlset>".encode()
    assert parse_sitemap(body).invalid == 1
    sitemap = parse_sitemap(body, url="https://example.com/sitemap.xml")
    assert sitemap.urls == (SitemapURL("https://example.com/rel"),)


def test_invalid_locs_counted_not_raised() -> None:
    """Entries whose loc is not an http(s) URL are counted in ``invalid``."""
    body = (
        f"<urlset {NS}><url><loc>mailto:a@b</loc></url><url></url><url><loc>http://[x</loc>"
        "</url><url><loc>https://example.com/ok</loc></url></urlset>"
    ).encode()
    sitemap = parse_sitemap(body)
    assert sitemap.urls == (SitemapURL("https://example.com/ok"),)
    assert sitemap.invalid == 2


def test_url_limit() -> None:
    """At most ``max_urls`` entries are read; ``truncated`` says there were more."""
    sitemap = parse_sitemap(urlset(120), max_urls=100)
    assert len(sitemap.urls) == 100
    assert sitemap.truncated
    exact = parse_sitemap(urlset(100), max_urls=100)
    assert (len(exact.urls), exact.truncated) == (100, False)


def test_protocol_limit_is_50000() -> None:
    """The default bound is the protocol's 50,000 URLs a file."""
    assert MAX_SITEMAP_URLS == 50_000
    sitemap = parse_sitemap(gzip.compress(urlset(50_001)))
    assert len(sitemap.urls) == 50_000
    assert sitemap.truncated


def test_gzip_bomb_stops_at_the_byte_bound() -> None:
    """A body that inflates far past ``max_bytes`` is read up to the bound, no further."""
    opening = f"<urlset {NS}><url><loc>https://example.com/first</loc></url>".encode()
    bomb = gzip.compress(opening + b" " * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    sitemap = parse_sitemap(bomb, max_bytes=1024 * 1024)
    assert sitemap.truncated
    assert sitemap.error is None
    assert sitemap.urls == (SitemapURL("https://example.com/first"),)


def test_default_byte_bound_is_50_mb() -> None:
    """The default bound is the protocol's 50 MB of uncompressed text."""
    assert MAX_SITEMAP_BYTES == 50 * 1024 * 1024


def test_text_bomb_without_newlines_is_bounded() -> None:
    """A huge line is one invalid entry, skipped up to the next newline."""
    body = gzip.compress(b"x" * (8 * 1024 * 1024) + b"\nhttps://example.com/after\n")
    sitemap = parse_sitemap(body)
    assert sitemap.urls == (SitemapURL("https://example.com/after"),)
    assert sitemap.invalid == 1


def test_billion_laughs_refused() -> None:
    """A document type declaration (the entity-expansion attack's vehicle) is refused."""
    entities = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)).replace(
        "&lol0;", "lol"
    )
    body = f'<?xml version="1.0"?><!DOCTYPE urlset [{entities}]>'
    body += f"<urlset {NS}><url><loc>https://example.com/&lol9;</loc></url></urlset>"
    sitemap = parse_sitemap(body.encode())
    assert sitemap.urls == ()
    assert sitemap.error == "a document type declaration (DTD) is not allowed"


def test_external_entity_never_fetched() -> None:
    """An external entity is refused with the DTD, so no file or URL is ever read."""
    body = b'<!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]><urlset><url><loc>&x;</loc>'
    sitemap = parse_sitemap(body + b"</url></urlset>")
    assert sitemap.urls == ()
    assert sitemap.error is not None


def test_broken_xml_keeps_what_came_before() -> None:
    """XML broken half-way keeps the entries read so far and says what went wrong."""
    body = urlset(3)[:-40]
    sitemap = parse_sitemap(body)
    assert [entry.loc for entry in sitemap.urls] == [
        "https://example.com/p0",
        "https://example.com/p1",
    ]
    assert sitemap.error is not None
    assert sitemap.error.startswith("broken XML")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(gzip.compress(URLSET)[:-30], "gzip data cut short", id="cut-gzip"),
        pytest.param(b"\x1f\x8b\x08\x00garbage-not-deflate", "bad gzip data", id="bad-gzip"),
    ],
)
def test_broken_gzip_reported(body: bytes, error: str) -> None:
    """Broken gzip is an error in the result, never an exception."""
    sitemap = parse_sitemap(body)
    assert sitemap.error is not None
    assert sitemap.error.startswith(error)


def test_concatenated_gzip_members() -> None:
    """Gzip files made of several members (``cat a.gz b.gz``) are read whole."""
    body = gzip.compress(b"https://example.com/1\n") + gzip.compress(b"https://example.com/2\n")
    assert len(parse_sitemap(body).urls) == 2


def test_raw_deflate_is_not_mistaken_for_gzip() -> None:
    """Only the gzip magic bytes trigger inflating; other binary data reads as junk text."""
    sitemap = parse_sitemap(zlib.compress(b"https://example.com/1\n"))
    assert sitemap.urls == ()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"   \n  ", id="blank"),
        pytest.param(b'<rss version="2.0"><channel></channel></rss>', id="rss"),
        pytest.param(b"<html><body>Not found</body></html>", id="html"),
    ],
)
def test_not_a_sitemap(body: bytes) -> None:
    """Empty bodies and other XML give an empty result of kind ``unknown``."""
    sitemap = parse_sitemap(body)
    assert sitemap.kind == "unknown"
    assert (sitemap.urls, sitemap.sitemaps) == ((), ())


def test_relative_locs_keep_base_escapes() -> None:
    """A relative loc joins a base whose path has escapes without decoding them."""
    body = f"<urlset {NS}><url><loc>b.html</loc></url></urlset>".encode()
    sitemap = parse_sitemap(body, url="https://example.com/a%2Fb/sitemap.xml")
    assert sitemap.urls == (SitemapURL("https://example.com/a%2Fb/b.html"),)


def test_bad_sitemap_url_raises() -> None:
    """The sitemap's own URL, when given, must be an http(s) URL."""
    with pytest.raises(BadURL, match="bad scheme"):
        parse_sitemap(b"https://example.com/\n", url="file:///sitemap.txt")
