"""The crawl rules (``CrawlRules``): which discovered URLs a crawl follows, and a reason for
each it skips. ("Scope" is the task scope; ``CrawlConfig.scope`` names the kind below.)

Three kinds of scope, all drawn from the seeds:

- ``"host"`` (the default): the seeds' hosts (and ports), either scheme;
- ``"domain"``: the seeds' registrable domains, from the Public Suffix List, so that
  ``a.example.co.uk`` and ``b.example.co.uk`` are both in ``example.co.uk`` while
  ``alice.github.io`` and ``bob.github.io`` are not one site;
- ``"prefix"``: URLs that start with a seed, scheme aside (``http://h/docs/`` keeps to
  ``/docs/``).

Then ``exclude`` patterns drop URLs, ``include`` patterns (if any) keep only URLs that match
one, and ``max_depth`` bounds the link distance from a seed. The same rules apply to seeds.
With ``traps`` on, a discovered URL whose path repeats a segment run is skipped too
(``_traps.py``).

The Public Suffix List comes from the ``publicsuffixlist`` package, which ships a snapshot
and never touches the network (``docs/design.md``, "Crawl parsing").
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from publicsuffixlist import PublicSuffixList
from yarl import URL

from corral.http._errors import BadScope, BadURL
from corral.http.web._traps import repeated_segment
from corral.http.web._urls import check, host_key, normalize_url

ScopeKind = Literal["host", "domain", "prefix"]
DEFAULT_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
_KINDS = ("host", "domain", "prefix")


class Decision(NamedTuple):
    """The answer of ``CrawlRules.allows``: unpack it as ``allowed, reason = ...``.

    Attributes:
        allowed: whether the crawl follows the URL.
        reason: for a skipped URL, the record's reason: ``"invalid_url"``, ``"max_depth"``,
            ``"out_of_scope"``, ``"excluded"``, ``"not_included"`` or
            ``"repeated_segment"``; None when allowed.
    """

    allowed: bool
    reason: str | None = None


ALLOWED = Decision(True)


@dataclass(frozen=True, slots=True, kw_only=True)
class CrawlRules:
    """The crawl scope rules.

    Attributes:
        seeds: the start URLs; they define the hosts, domains or prefixes in scope.
        kind: ``"host"``, ``"domain"`` or ``"prefix"``.
        include: regular expressions; if any are given, a URL must match one (``re.search``
            on the normalised URL).
        exclude: regular expressions; a URL that matches one is skipped.
        max_depth: the most links between a seed (depth 0) and a URL; None for no bound.
        content_types: the media types whose bodies are parsed for links.
        traps: skip discovered URLs (not seeds) whose path repeats a segment, or a run of
            two or three, three times in a row, as ``repeated_segment``.

    Raises:
        BadScope: no seeds, a seed that is not an http(s) URL, an unknown kind, a pattern
            that does not compile, or a negative depth.
    """

    seeds: tuple[str, ...]
    kind: ScopeKind = "host"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_depth: int | None = None
    content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    traps: bool = True
    _keys: frozenset[str] = field(init=False, repr=False, compare=False)
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _include: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _exclude: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _types: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise BadScope(f"scope kind must be host, domain or prefix, not {self.kind!r}")
        if self.max_depth is not None and self.max_depth < 0:
            raise BadScope(f"max_depth must be 0 or more, not {self.max_depth}")
        seeds = tuple(_seed(seed) for seed in self.seeds)
        if not seeds:
            raise BadScope("a scope needs at least one seed URL")
        keys = frozenset(_key(url, self.kind) for url in seeds)
        prefixes = tuple(sorted({_unschemed(url.with_query(None)) for url in seeds}))
        set_ = object.__setattr__  # a frozen dataclass sets its derived fields this way
        for name in ("seeds", "include", "exclude", "content_types"):
            set_(self, name, tuple(getattr(self, name)))  # lists in, tuples kept
        set_(self, "_keys", keys)
        set_(self, "_prefixes", prefixes if self.kind == "prefix" else ())
        set_(self, "_include", _compile(self.include, "include"))
        set_(self, "_exclude", _compile(self.exclude, "exclude"))
        set_(self, "_types", frozenset(_media_type(t) for t in self.content_types))

    def allows(self, url: str, depth: int = 0) -> Decision:
        """Decide whether the crawl follows ``url``, found ``depth`` links from a seed.

        Args:
            url: the URL (normalised or not).
            depth: links from the nearest seed; seeds are depth 0.

        Returns:
            A ``Decision``: ``(True, None)``, or ``(False, reason)``.
        """
        try:
            parsed = check(url)
        except BadURL:
            return Decision(False, "invalid_url")
        if self.max_depth is not None and depth > self.max_depth:
            return Decision(False, "max_depth")
        if not self._in_scope(parsed):
            return Decision(False, "out_of_scope")
        text = normalize_url(parsed)
        if any(pattern.search(text) for pattern in self._exclude):
            return Decision(False, "excluded")
        if self._include and not any(pattern.search(text) for pattern in self._include):
            return Decision(False, "not_included")
        if self.traps and depth and repeated_segment(text):
            return Decision(False, "repeated_segment")
        return ALLOWED

    def allows_normal(self, url: str, host: str, depth: int = 0) -> Decision:
        """Decide like ``allows`` for a URL already in normal form whose host key is known.

        The crawler's links come out of the parser normalised, so checking them needs no
        second parse (``allows`` parses with yarl: most of a link's cost).
        """
        if self.max_depth is not None and depth > self.max_depth:
            return Decision(False, "max_depth")
        if self.kind == "prefix":
            inside = url.partition("://")[2].startswith(self._prefixes)
        elif self.kind == "domain":
            inside = registrable_domain(host.rpartition(":")[0] or host) in self._keys
        else:
            inside = host in self._keys
        if not inside:
            return Decision(False, "out_of_scope")
        if any(pattern.search(url) for pattern in self._exclude):
            return Decision(False, "excluded")
        if self._include and not any(pattern.search(url) for pattern in self._include):
            return Decision(False, "not_included")
        if self.traps and depth and repeated_segment(url):
            return Decision(False, "repeated_segment")
        return ALLOWED

    def parses(self, content_type: str | None) -> bool:
        """Return whether a response of ``content_type`` is parsed for links."""
        return content_type is not None and _media_type(content_type) in self._types

    def _in_scope(self, url: URL) -> bool:
        if self.kind == "prefix":
            return _unschemed(url).startswith(self._prefixes)
        return _key(url, self.kind) in self._keys


def parsed_types(content_types: Iterable[str]) -> Callable[[str | None], bool]:
    """Return ``CrawlRules.parses`` for ``content_types`` alone (a crawl's worker process
    has the parse settings, not the scope)."""
    types = frozenset(_media_type(t) for t in content_types)
    return lambda content_type: content_type is not None and _media_type(content_type) in types


def registrable_domain(host: str) -> str:
    """Return the registrable domain of a host name (``a.example.co.uk``: ``example.co.uk``).

    IP addresses, single labels (``localhost``) and public suffixes themselves are their
    own domain. Private suffixes count (``alice.github.io`` is its own domain).
    """
    host = host.rstrip(".").lower()
    if _is_ip(host):
        return host
    return _public_suffixes().privatesuffix(host) or host


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """Load the bundled Public Suffix List once per process (about 70 ms), on first use."""
    return PublicSuffixList()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _seed(text: str) -> URL:
    try:
        return check(text)
    except BadURL as exc:
        raise BadScope(f"seed {text[:200]!r}: {exc}") from None


def _key(url: URL, kind: ScopeKind) -> str:
    key = host_key(url)
    if kind != "domain":
        return key
    return registrable_domain(url.raw_host or "")


def _unschemed(url: URL) -> str:
    """Return a URL without its scheme: ``host[:port]/path?query``, normalised."""
    return normalize_url(url).partition("://")[2]


def _compile(patterns: tuple[str, ...], what: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise BadScope(f"{what} pattern {pattern!r}: {exc}") from None
    return tuple(compiled)


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()
