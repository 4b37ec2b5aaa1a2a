"""Sitemaps: ``<urlset>``, ``<sitemapindex>`` and plain text, gzipped or not, bounded.

The body is read as a stream: gzip (recognised by its magic bytes, whatever the file is
called) is inflated a chunk at a time into the standard library's pull parser, which
forgets each entry once it is read. So a sitemap costs memory for its results only, and
both protocol limits hold whatever the input: at most 50,000 URLs and 50 MB of
uncompressed text. A gzip bomb stops at the 50 MB mark.

XML is parsed by ``xml.etree.ElementTree`` (expat), not defusedxml: expat since 2.4.1
refuses entity amplification (billion laughs, quadratic blow-up) and ElementTree never
fetches external entities or DTDs. As a second wall, a document type declaration is
refused outright: sitemaps have no use for one (``docs/design.md``, "Crawl parsing").
"""

from __future__ import annotations

import codecs
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from corral.http.web._resolve import Resolver
from corral.http.web._urls import MAX_URL_LENGTH, check, validate

# The sitemaps.org protocol's limits for one file.
MAX_SITEMAP_URLS = 50_000
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_WHITESPACE = b" \t\r\n"

Kind = Literal["urlset", "index", "text", "unknown"]


class SitemapURL(NamedTuple):
    """One ``<url>`` of a urlset, or one ``<sitemap>`` of an index.

    Attributes:
        loc: the URL, normalised.
        lastmod: the ``<lastmod>`` text as written (W3C datetime), if any.
    """

    loc: str
    lastmod: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sitemap:
    """What one sitemap file lists.

    Attributes:
        kind: ``"urlset"``, ``"index"`` (a sitemap index), ``"text"`` (one URL a line), or
            ``"unknown"`` (XML of another kind, such as a feed; nothing is read from it).
        urls: the pages a urlset or text sitemap lists.
        sitemaps: the child sitemaps a sitemap index lists.
        invalid: entries skipped because their ``loc`` is not an http(s) URL.
        truncated: reading stopped at ``max_urls`` entries or ``max_bytes`` of text.
        error: why reading stopped early (broken XML or gzip, a DTD); what came before is kept.
    """

    kind: Kind
    urls: tuple[SitemapURL, ...] = ()
    sitemaps: tuple[SitemapURL, ...] = ()
    invalid: int = 0
    truncated: bool = False
    error: str | None = None


def parse_sitemap(
    body: bytes,
    *,
    url: str | None = None,
    max_urls: int = MAX_SITEMAP_URLS,
    max_bytes: int = MAX_SITEMAP_BYTES,
) -> Sitemap:
    """Read a sitemap body: XML urlset or index, or plain text; gzipped or not.

    Args:
        body: the response body as received (gzip is detected by its magic bytes).
        url: the sitemap's URL, to resolve relative ``loc`` values (the protocol wants
            absolute ones; some sites write paths).
        max_urls: stop after this many entries.
        max_bytes: stop after this many bytes of uncompressed text.

    Returns:
        A ``Sitemap``. It never raises on a bad body: ``error`` says what went wrong.

    Raises:
        BadURL: ``url`` is given and is not an http(s) URL.
    """
    stream = _Stream(body, max_bytes)
    chunks = stream.chunks()
    first = next(chunks, b"")
    head = first.lstrip(_WHITESPACE)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :].lstrip(_WHITESPACE)
    collector = _Collector(Resolver(check(url)) if url else None, max_urls)
    if head.startswith(b"<"):
        _read_xml(_chain(head, chunks), collector, stream)
    elif head:
        collector.kind = "text"
        _read_text(_chain(head, chunks), collector)
    return collector.result(truncated_input=stream.truncated, stream_error=stream.error)


@dataclass(slots=True)
class _Collector:
    resolve: Resolver | None  # relative locs resolve against the sitemap's URL, if known
    max_urls: int
    kind: Kind = "unknown"
    found: list[SitemapURL] = field(default_factory=list)
    invalid: int = 0
    full: bool = False
    error: str | None = None

    def add(self, loc: str, lastmod: str | None = None) -> None:
        if len(self.found) >= self.max_urls:
            self.full = True
            return
        target = self._normal(loc.strip())
        if target is None:
            self.invalid += 1
        else:
            self.found.append(SitemapURL(target, lastmod.strip() if lastmod else None))

    def result(self, *, truncated_input: bool, stream_error: str | None) -> Sitemap:
        entries = tuple(self.found)
        return Sitemap(
            kind=self.kind,
            urls=entries if self.kind != "index" else (),
            sitemaps=entries if self.kind == "index" else (),
            invalid=self.invalid,
            truncated=self.full or truncated_input,
            error=stream_error or self.error,
        )

    def _normal(self, loc: str) -> str | None:
        if self.resolve is not None:
            return self.resolve(loc)
        checked = validate(loc)
        return checked if isinstance(checked, str) else None


class _Stream:
    """The body's text in chunks: inflated if gzipped, cut at ``max_bytes``."""

    def __init__(self, body: bytes, max_bytes: int) -> None:
        self.body = body
        self.left = max_bytes
        self.truncated = False
        self.error: str | None = None

    def chunks(self) -> Iterator[bytes]:
        source = self._inflate() if self.body.startswith(_GZIP_MAGIC) else self._plain()
        for chunk in source:
            if len(chunk) > self.left:
                chunk = chunk[: self.left]
                self.truncated = True
            self.left -= len(chunk)
            if chunk:
                yield chunk
            if self.truncated:
                return

    def _plain(self) -> Iterator[bytes]:
        for start in range(0, len(self.body), _CHUNK):
            yield self.body[start : start + _CHUNK]

    def _inflate(self) -> Iterator[bytes]:
        """Inflate gzip members one bounded chunk at a time (a bomb never grows past it)."""
        data = self.body
        while data.startswith(_GZIP_MAGIC):
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            try:
                while data and not inflater.eof:
                    yield inflater.decompress(data, _CHUNK)
                    data = inflater.unconsumed_tail
            except zlib.error as exc:
                self.error = f"bad gzip data: {exc}"
                return
            if not inflater.eof:
                self.error = "gzip data cut short"
                return
            data = inflater.unused_data  # a further member, if any


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _local(tag: str) -> str:
    """Return an element's name without its namespace (``{ns}loc`` is ``loc``)."""
    return tag.rpartition("}")[2]


def _read_xml(chunks: Iterator[bytes], collector: _Collector, stream: _Stream) -> None:
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    reader = _XmlReader(collector)
    tail = b""
    try:
        for chunk in chunks:
            if reader.root is None:
                if b"<!DOCTYPE" in tail + chunk:
                    collector.error = "a document type declaration (DTD) is not allowed"
                    return
                tail = chunk[-8:]
            parser.feed(chunk)
            if reader.read(parser) or collector.full:
                return
        if not stream.truncated:  # a document cut at max_bytes is not broken: do not close it
            parser.close()
            reader.read(parser)
    except ET.ParseError as exc:
        collector.error = f"broken XML: {exc}"


class _XmlReader:
    """Turn pull-parser events into entries: ``loc`` and ``lastmod`` of each child of root.

    Depth decides, not namespaces: a ``<url>`` or ``<sitemap>`` is a child of the root, and
    its own ``loc`` is a grandchild. Extensions (``<image:loc>``, deeper) are ignored.
    """

    def __init__(self, collector: _Collector) -> None:
        self.collector = collector
        self.root: ET.Element | None = None
        self.depth = 0
        self.loc: str | None = None
        self.lastmod: str | None = None

    def read(self, parser: ET.XMLPullParser[ET.Element]) -> bool:
        """Consume the events so far; return True to stop (not a sitemap)."""
        for item in parser.read_events():
            event, element = item[0], item[-1]
            if not isinstance(element, ET.Element):
                continue  # only start and end events are asked for
            if event == "start":
                if self.depth == 0 and self._start_root(element):
                    return True
                self.depth += 1
            else:
                self.depth -= 1
                self._end(element)
        return False

    def _start_root(self, element: ET.Element) -> bool:
        self.root = element
        name = _local(element.tag)
        if name == "urlset":
            self.collector.kind = "urlset"
        elif name == "sitemapindex":
            self.collector.kind = "index"
        return self.collector.kind == "unknown"

    def _end(self, element: ET.Element) -> None:
        if self.depth == 2:
            name = _local(element.tag)
            if name == "loc":
                self.loc = element.text
            elif name == "lastmod":
                self.lastmod = element.text
        elif self.depth == 1:
            if self.loc and _local(element.tag) in ("url", "sitemap"):
                self.collector.add(self.loc, self.lastmod)
            self.loc = self.lastmod = None
            if self.root is not None:
                self.root.clear()  # forget finished entries: memory stays flat


def _read_text(chunks: Iterator[bytes], collector: _Collector) -> None:
    """Read one URL a line (the protocol's text form); other lines are skipped."""
    rest = b""
    skipping = False
    for chunk in chunks:
        if skipping:  # the rest of a line too long to be a URL
            newline = chunk.find(b"\n")
            if newline < 0:
                continue
            chunk, skipping = chunk[newline + 1 :], False
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            _text_line(line, collector)
            if collector.full:
                return
        if len(rest) > MAX_URL_LENGTH:
            # No URL is this long: count it once and skip to the next newline, so that a
            # file without newlines costs linear time, not a growing copy per chunk.
            collector.invalid += 1
            rest, skipping = b"", True
    _text_line(rest, collector)


def _text_line(line: bytes, collector: _Collector) -> None:
    text = line.decode("utf-8", errors="replace").strip()
    if text and not text.startswith("#"):
        collector.add(text)
