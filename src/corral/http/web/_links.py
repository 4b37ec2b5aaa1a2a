"""Links from an HTML page: what a crawler may follow, and what the page says about itself.

Pure functions on bytes and strings that return plain, picklable data, so the engine can run
them in a worker process (``corral.to_process(parse_page, ...)``) and never on the loop.

The HTML parser is selectolax's Lexbor backend: an HTML5-conformant C parser (broken markup
is repaired the way browsers repair it), about twice as fast as lxml.html and thirty times
as fast as BeautifulSoup (``docs/benchmarks.md``). Its Modest backend, slower, was removed
in selectolax 1.0.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from selectolax.lexbor import LexborHTMLParser, LexborNode
from yarl import URL

from corral.http._errors import BadURL
from corral.http.web._resolve import Resolver
from corral.http.web._urls import check, normalize_url

# A page with more links than this is a trap or a dump; the rest are dropped (``truncated``).
MAX_LINKS = 10_000
MAX_TITLE = 1000

# <link rel> values a crawler follows; other rels (stylesheet, icon, preload) are assets.
_LINK_RELS = ("canonical", "next", "prev", "alternate")
_ASSET_RELS = frozenset({"stylesheet", "icon", "preload", "prefetch", "modulepreload"})
# Walked by tag name, not with CSS selectors: a document's first CSS query costs lexbor
# about 80 us to set up, more than parsing a 4 KB page (bench/bench_parse.py). Links come
# out grouped by tag (anchors first), in document order within each tag.
_TAGS = ("a", "area", "link", "meta")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_REFRESH_URL = re.compile(r"""^\s*[\d.]*\s*[;,]?\s*url\s*=\s*["']?([^"']*)""", re.IGNORECASE)
# WHATWG maps these labels to windows-1252, a superset that decodes more pages correctly.
_WINDOWS_1252 = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"})
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class Link(NamedTuple):
    """One link found on a page.

    Attributes:
        url: the target, resolved and normalised (``corral.http.web._urls.normalize``).
        kind: where it was found: ``"a"``, ``"area"``, ``"refresh"`` (``<meta refresh>``), or
            the ``<link rel>``: ``"canonical"``, ``"next"``, ``"prev"``, ``"alternate"``.
        nofollow: the link carries ``rel="nofollow"``.
    """

    url: str
    kind: str
    nofollow: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PageLinks:
    """What a page links to and what it says about crawling it.

    Attributes:
        url: the page's own URL, normalised.
        base: the URL relative links were resolved against (``<base href>`` or ``url``).
        links: unique links in document order; a URL found as both nofollow and followable
            is followable.
        canonical: the first valid ``<link rel="canonical">`` target, normalised.
        title: the ``<title>`` text, whitespace collapsed, at most 1000 characters.
        noindex: ``<meta name="robots">`` says ``noindex`` (or ``none``).
        nofollow: ``<meta name="robots">`` says ``nofollow`` (or ``none``).
        truncated: the page had more than ``MAX_LINKS`` links and the rest were dropped.
    """

    url: str
    base: str
    links: tuple[Link, ...] = ()
    canonical: str | None = None
    title: str | None = None
    noindex: bool = False
    nofollow: bool = False
    truncated: bool = False

    def to_follow(self) -> tuple[str, ...]:
        """Return the URLs a polite crawler follows: none if the page says nofollow."""
        if self.nofollow:
            return ()
        return tuple(link.url for link in self.links if not link.nofollow)


def parse_page(
    body: bytes, url: str, content_type: str | None = None, charset: str | None = None
) -> PageLinks:
    """Parse an HTML response body into its links; the entry point for ``corral.to_process``.

    Args:
        body: the response body (after Content-Encoding is undone).
        url: the URL the body was fetched from, after redirects.
        content_type: the Content-Type header; its ``charset`` is used if ``charset`` is None.
        charset: the encoding the server declared, if any.

    Returns:
        The page's links and robots hints. Broken HTML, bad encodings and bad hrefs never
        raise: unreadable parts are skipped.

    Raises:
        BadURL: ``url`` itself is not an http(s) URL.
    """
    if charset is None and content_type:
        found = _CHARSET.search(content_type)
        charset = found.group(1) if found else None
    return extract_links(body, url, charset)


def parse_pages(
    pages: Sequence[tuple[bytes, str, str | None, str | None]],
) -> list[PageLinks | BadURL]:
    """Parse several responses in one call: ``parse_page`` for a batch.

    One ``corral.to_process`` round trip costs about as much as parsing a page (measured in
    ``docs/benchmarks.md``), so the engine sends pages in batches.

    Args:
        pages: ``(body, url, content_type, charset)`` for each response.

    Returns:
        One result per page, in order: its ``PageLinks``, or the ``BadURL`` its URL raised.
    """
    results: list[PageLinks | BadURL] = []
    for body, url, content_type, charset in pages:
        try:
            results.append(parse_page(body, url, content_type, charset))
        except BadURL as exc:
            results.append(exc)
    return results


def extract_links(
    html: bytes | str, url: str, encoding: str | None = None, *, max_links: int = MAX_LINKS
) -> PageLinks:
    """Extract the links of an HTML document.

    Args:
        html: the document, as bytes (decoded with ``encoding``, a byte-order mark, or the
            document's ``<meta charset>``, else UTF-8) or as text.
        url: the document's URL, the base for relative links unless it has ``<base href>``.
        encoding: the charset the server declared, if any.
        max_links: keep at most this many unique links.

    Returns:
        A ``PageLinks``.

    Raises:
        BadURL: ``url`` is not an http(s) URL.
    """
    page = check(url)
    tree = _tree(html, encoding)
    base = _base(tree, page)
    collector = _Collector(Resolver(base), max_links)
    for tag in _TAGS:
        for node in tree.tags(tag):
            collector.add(node)
    return PageLinks(
        url=normalize_url(page),
        base=normalize_url(base),
        links=collector.links(),
        canonical=collector.canonical,
        title=_title(tree),
        noindex=collector.noindex,
        nofollow=collector.nofollow,
        truncated=collector.truncated,
    )


def robots_directives(content: str) -> tuple[bool, bool]:
    """Read a robots meta tag or ``X-Robots-Tag`` value: return ``(noindex, nofollow)``.

    Tokens are separated by commas or spaces and compared without case; ``none`` means both.
    A ``X-Robots-Tag`` value addressed to a named crawler (``googlebot: noindex``) counts
    as addressed to every crawler, the cautious reading.
    """
    tokens = {token.rpartition(":")[2] for token in re.split(r"[,\s]+", content.lower())}
    none = "none" in tokens
    return none or "noindex" in tokens, none or "nofollow" in tokens


class _Collector:
    """Accumulate the links of one page, unique by URL, in document order."""

    __slots__ = ("_found", "_max", "_resolve", "canonical", "nofollow", "noindex", "truncated")

    def __init__(self, resolve: Resolver, max_links: int) -> None:
        self._resolve = resolve
        self._max = max_links
        self._found: dict[str, Link] = {}
        self.canonical: str | None = None
        self.noindex = self.nofollow = self.truncated = False

    def add(self, node: LexborNode) -> None:
        attrs = node.attributes
        tag = node.tag
        if tag == "meta":
            self._meta(attrs)
        elif tag == "link":
            self._link(attrs)
        else:
            rel = attrs.get("rel")
            self._keep(attrs.get("href"), tag or "a", rel is not None and _has(rel, "nofollow"))

    def links(self) -> tuple[Link, ...]:
        return tuple(self._found.values())

    def _link(self, attrs: dict[str, str | None]) -> None:
        tokens = _tokens(attrs.get("rel"))
        if _ASSET_RELS.intersection(tokens):
            return
        kind = next((rel for rel in _LINK_RELS if rel in tokens), None)
        if kind is None:
            return
        target = self._keep(attrs.get("href"), kind, "nofollow" in tokens)
        if kind == "canonical" and self.canonical is None:
            self.canonical = target

    def _meta(self, attrs: dict[str, str | None]) -> None:
        content = attrs.get("content") or ""
        name = (attrs.get("name") or "").strip().lower()
        if name == "robots":
            noindex, nofollow = robots_directives(content)
            self.noindex |= noindex
            self.nofollow |= nofollow
        elif (attrs.get("http-equiv") or "").strip().lower() == "refresh":
            found = _REFRESH_URL.match(content)
            if found:
                self._keep(found.group(1), "refresh", False)

    def _keep(self, href: str | None, kind: str, nofollow: bool) -> str | None:
        if href is None:
            return None
        target = self._resolve(href)
        if target is None:
            return None
        known = self._found.get(target)
        if known is None:
            if len(self._found) >= self._max:
                self.truncated = True
                return target
            self._found[target] = Link(target, kind, nofollow)
        elif known.nofollow and not nofollow:
            self._found[target] = known._replace(nofollow=False)
        return target


def _tree(html: bytes | str, encoding: str | None) -> LexborHTMLParser:
    """Parse the document, decoding bytes the way the HTML standard orders it."""
    if isinstance(html, str):
        return LexborHTMLParser(html)
    codec = _codec(encoding)
    if html.startswith(_BOMS) or codec is None:
        # No usable declaration: a byte-order mark, then <meta charset>, then UTF-8.
        return LexborHTMLParser(html, encoding=True)
    if codec == "utf-8":
        return LexborHTMLParser(html)  # bytes are parsed as UTF-8; bad bytes become U+FFFD
    return LexborHTMLParser(html.decode(codec, errors="replace"))


def _codec(label: str | None) -> str | None:
    """Return the Python codec name for a charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _WINDOWS_1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _base(tree: LexborHTMLParser, page: URL) -> URL:
    """Return the document's base URL: the first ``<base href>`` if it is http(s)."""
    node = next((n for n in tree.tags("base") if n.attributes.get("href")), None)
    href = node.attributes.get("href") if node is not None else None
    if not href:
        return page
    target = Resolver(page)(href)
    if target is None:
        return page
    try:
        return check(target)
    except BadURL:
        return page


def _title(tree: LexborHTMLParser) -> str | None:
    node = next(iter(tree.tags("title")), None)
    if node is None:
        return None
    text = " ".join(node.text(deep=True).split())
    return text[:MAX_TITLE] or None


def _tokens(value: str | None) -> frozenset[str]:
    return frozenset(value.lower().split()) if value else frozenset()


def _has(rel: str, token: str) -> bool:
    return token in rel.lower().split()
