"""Resolve the hrefs of one page against its base URL into normalised http(s) URLs.

An href is cleaned the way browsers clean it (WHATWG URL standard: surrounding spaces and
control characters stripped, tabs and newlines removed, backslashes in the path read as
slashes), refused if it names another scheme (``mailto:``, ``javascript:``, ``tel:``,
``data:``), then joined to the base and normalised by ``_urls.normalize_url``.

The join (RFC 3986 section 5.2.2) is done on text: the reference is appended to the part of
the normalised base it replaces (origin, directory, or path), and yarl parses the result,
which removes dot segments and encodes what needs it. yarl's own ``URL.join`` is not used:
it decodes the base path's escapes (``a%2Fb`` becomes ``a/b``, ``%20`` a raw space; yarl
issue 1774), which would corrupt paths and split dedup keys.

Fast path: most hrefs are made of characters that normalisation leaves alone. For those, the
appended text is already normal and yarl is skipped (it costs about 10 µs a link, most of a
page's parse time). ``tests/http/test_resolve.py`` checks that both paths agree on many
generated hrefs and bases.
"""

from __future__ import annotations

import re

from yarl import URL

from corral.http._errors import BadURL
from corral.http.web._urls import MAX_URL_LENGTH, host_problem, normalize_url

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_HTTP = frozenset({"http", "https"})
_STRIP = "".join(map(chr, range(0x21)))  # C0 controls and space (WHATWG "strip")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
# Characters yarl neither encodes nor decodes, in a path and in a query (measured on yarl
# 1.25; tests/http/test_resolve.py checks that the installed yarl agrees). No "%", no ":"
# in a path (it could read as a scheme); dot segments are checked apart.
_PLAIN = re.compile(r"[A-Za-z0-9!$&'()*+,\-./;=@_~]+(?:\?[A-Za-z0-9!$&'()*+,\-./:;=?@_~]+)?")
# An absolute URL already in normal form but for its path: lowercase scheme and ASCII host.
_ABSOLUTE = re.compile(r"(https?://)([a-z0-9_.-]+)(/.*)?")


class Resolver:
    """Turn hrefs found on one page into normalised absolute URLs, or None.

    Calls are memoised for the page: navigation repeats the same hrefs many times.

    Args:
        base: the page's base URL (absolute, http or https).
    """

    __slots__ = ("_dir", "_origin", "_path", "_scheme", "_seen")

    def __init__(self, base: URL) -> None:
        text = normalize_url(base)
        self._scheme = base.scheme  # lowercase, http or https: normalize_url checked it
        self._origin = text[: text.index("/", len(self._scheme) + 3)]  # "http://host[:port]"
        self._path = text.partition("?")[0]  # the base without its query
        self._dir = self._path[: self._path.rfind("/") + 1]
        self._seen: dict[str, str | None] = {}

    def __call__(self, href: str) -> str | None:
        """Return the normalised absolute URL of ``href``, or None if it is not followable."""
        try:
            return self._seen[href]
        except KeyError:
            pass
        target = self._resolve(href) if len(href) <= MAX_URL_LENGTH else None
        if len(self._seen) < 4096:  # bounded: a page of unique hrefs gains nothing here
            self._seen[href] = target
        return target

    def _resolve(self, href: str) -> str | None:
        href = _clean(href)
        if not href or href.startswith("#"):
            return None  # empty or fragment-only: the page itself
        scheme = _SCHEME.match(href)
        if scheme is not None and scheme.group(1).lower() not in _HTTP:
            return None
        href = href.partition("#")[0]
        if scheme is None:
            start, rest = self._join(href)
        else:
            start, rest = _split_absolute(href)
        if start and _is_plain(rest):
            target = start + rest
            return target if len(target) <= MAX_URL_LENGTH else None
        try:
            return normalize_url(URL(start + rest))
        except (BadURL, ValueError, TypeError, UnicodeError):
            return None

    def _join(self, href: str) -> tuple[str, str]:
        """Split the joined URL into the base's part and the reference's (RFC 3986 5.2.2)."""
        if href.startswith("//"):
            return self._scheme + ":", href  # another authority: never plain
        if href.startswith("/"):
            return self._origin, href
        if href.startswith("?"):
            return self._path, href
        return self._dir, href


def _split_absolute(href: str) -> tuple[str, str]:
    """Split an absolute URL into ``scheme://host`` and the rest; ``""`` first if not plain."""
    found = _ABSOLUTE.fullmatch(href)
    if found is None or host_problem(found.group(2)) is not None:
        return "", href  # parsed whole by yarl
    return found.group(1) + found.group(2), found.group(3) or "/"


def _is_plain(rest: str) -> bool:
    """Return whether appending ``rest`` to a normal prefix gives a normal URL.

    True for a path (and query) of characters yarl keeps as they are, without dot segments;
    a query-only or network-path reference is never plain.
    """
    if not rest.startswith("/"):
        rest = "/" + rest  # a relative path: its first segment is checked the same way
    if rest.startswith(("//", "/?")) or not _PLAIN.fullmatch(rest):
        return False
    return "/." not in rest.partition("?")[0]


def _clean(href: str) -> str:
    href = href.strip(_STRIP)
    if "\t" in href or "\n" in href or "\r" in href:
        href = _TAB_OR_NEWLINE.sub("", href)
    if "\\" in href:
        path, mark, rest = href.partition("?")
        href = path.replace("\\", "/") + mark + rest
    return href
