"""Resolve the hrefs of one page against its base URL into normalised http(s) URLs.

An href is cleaned the way browsers clean it (WHATWG URL standard: surrounding spaces and
control characters stripped, tabs and newlines removed, backslashes in the path read as
slashes), refused if it names another scheme (``mailto:``, ``javascript:``, ``tel:``,
``data:``), then joined to the base (RFC 3986) and normalised by ``_urls.normalize_url``.

Fast path: most hrefs are paths made of characters that normalisation leaves alone. For
those, joining is string concatenation and the result is already normal, so yarl is skipped
(it costs about 10 µs a link, most of a page's parse time). ``tests/http/test_resolve.py``
checks that the fast path and yarl agree on many generated hrefs.
"""

from __future__ import annotations

import re

from yarl import URL

from corral._exceptions import BadURL
from corral.http._urls import MAX_URL_LENGTH, host_problem, normalize_url

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

    __slots__ = ("_base", "_dir", "_origin", "_seen")

    def __init__(self, base: URL) -> None:
        self._base = base
        self._seen: dict[str, str | None] = {}
        origin = normalize_url(base.with_path("/").with_query(None))
        self._origin = origin[:-1]  # "http://host[:port]"
        path = normalize_url(base)[len(self._origin) :].partition("?")[0]
        self._dir = self._origin + path[: path.rfind("/") + 1]

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
        fast = self._fast(href.partition("#")[0], absolute=scheme is not None)
        if fast is not None:
            return fast
        try:
            return normalize_url(self._base.join(URL(href)))
        except (BadURL, ValueError, TypeError, UnicodeError):
            return None

    def _fast(self, href: str, *, absolute: bool) -> str | None:
        """Join a plain href by concatenation, or return None to take yarl's way."""
        if absolute:
            found = _ABSOLUTE.fullmatch(href)
            if found is None or host_problem(found.group(2)) is not None:
                return None
            start, href = found.group(1) + found.group(2), found.group(3) or "/"
        elif href.startswith("/"):
            start = self._origin
        else:
            start = self._dir
        if not _PLAIN.fullmatch(href) or "/." in f"/{href.partition('?')[0]}":
            return None
        if href.startswith(("//", "?")):
            return None  # another host, or a query on the base path: rare, yarl's way
        target = start + href
        return target if len(target) <= MAX_URL_LENGTH else None


def _clean(href: str) -> str:
    href = href.strip(_STRIP)
    if "\t" in href or "\n" in href or "\r" in href:
        href = _TAB_OR_NEWLINE.sub("", href)
    if "\\" in href:
        path, mark, rest = href.partition("?")
        href = path.replace("\\", "/") + mark + rest
    return href
