"""robots.txt: one policy per origin, from the fetch result, the way RFC 9309 orders it.

The engine fetches ``robots_url(url)`` (following up to five redirects) and hands the status
and body to ``RobotsPolicy.from_response``:

- 2xx: the body is parsed (by protego, which implements RFC 9309's longest-match precedence,
  ``*`` and ``$`` wildcards, and the non-standard ``Crawl-delay``, ``Request-rate`` and
  ``Sitemap``), at most its first 500 KiB (RFC 9309 section 2.5);
- 4xx, "unavailable": everything is allowed (section 2.3.1.3), except 429 (below);
- 5xx, 429, or no response at all (``status=None``), "unreachable": everything is disallowed
  (section 2.3.1.4) until the policy expires ``retry_after`` seconds later and the engine
  asks again. 429 is "too many requests": the cautious answer, and Google's;
- 3xx left over (a redirect chain past five hops): unavailable, so allowed (2.3.1.2).

Policies are kept in a ``RobotsCache``: bounded (least recently used out), with an expiry
per policy (24 hours for a parsed file, as section 2.4 advises).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple

from protego import Protego
from yarl import URL

from corral.http._errors import BadURL
from corral.http.web._resolve import Resolver
from corral.http.web._urls import check, normalize_url, validate

# RFC 9309 section 2.5: crawlers must parse at least 500 kibibytes.
MAX_ROBOTS_BYTES = 500 * 1024
DEFAULT_MAX_AGE = 24 * 3600.0
DEFAULT_RETRY_AFTER = 300.0

Verdict = Literal["parsed", "allow_all", "disallow_all"]


class Rate(NamedTuple):
    """A ``Request-rate``: at most ``requests`` per ``seconds``.

    ``corral.RateLimit(rate.requests, per=rate.seconds)`` enforces it.
    """

    requests: int
    seconds: float

    @property
    def interval(self) -> float:
        """Return the mean spacing between requests, in seconds."""
        return self.seconds / self.requests


def robots_url(url: str | URL) -> str:
    """Return the robots.txt URL that governs ``url``: same scheme, host and port.

    Raises:
        BadURL: ``url`` is not an http(s) URL.
    """
    parsed = check(url) if isinstance(url, str) else url
    return normalize_url(parsed.with_path("/robots.txt").with_query(None))


class RobotsPolicy:
    """What one origin's robots.txt allows; build it with ``from_response``.

    Attributes:
        verdict: ``"parsed"`` (a file was read), ``"allow_all"`` (4xx) or ``"disallow_all"``
            (5xx, 429, network error).
        status: the HTTP status it was built from, None for a network error.
        max_age: seconds the policy stays valid in a ``RobotsCache``.
        sitemaps: the file's ``Sitemap:`` URLs, absolute.
        truncated: the body was longer than 500 KiB and only its start was read.
        reason: why an unreachable one is (the status, or the connect error), when the
            engine knows it.
    """

    __slots__ = ("_parser", "max_age", "reason", "sitemaps", "status", "truncated", "verdict")

    def __init__(
        self,
        verdict: Verdict,
        *,
        status: int | None = None,
        parser: Protego | None = None,
        max_age: float = DEFAULT_MAX_AGE,
        sitemaps: tuple[str, ...] = (),
        truncated: bool = False,
    ) -> None:
        self.verdict: Verdict = verdict
        self.status = status
        self._parser = parser
        self.max_age = max_age
        self.sitemaps = sitemaps
        self.truncated = truncated
        self.reason: str | None = None

    @classmethod
    def from_response(
        cls,
        status: int | None,
        body: bytes = b"",
        *,
        url: str | None = None,
        max_age: float = DEFAULT_MAX_AGE,
        retry_after: float = DEFAULT_RETRY_AFTER,
    ) -> RobotsPolicy:
        """Build the policy for a robots.txt fetch result.

        Args:
            status: the final HTTP status after redirects; None if no response came.
            body: the response body (ignored unless the status is 2xx).
            url: the robots.txt URL, to make relative ``Sitemap:`` lines absolute.
            max_age: how long a parsed or allow-all policy is valid.
            retry_after: how long a disallow-all policy (5xx, 429, no response) is valid
                before the engine fetches robots.txt again; a ``Retry-After`` fits here.

        Returns:
            The policy. It never raises on a bad body: unreadable lines are ignored.
        """
        if status is None or status == 429 or status >= 500:
            return cls("disallow_all", status=status, max_age=retry_after)
        if not 200 <= status < 300:
            return cls("allow_all", status=status, max_age=max_age)
        text, truncated = _decode(body)
        parser = Protego.parse(text)
        return cls(
            "parsed",
            status=status,
            parser=parser,
            max_age=max_age,
            sitemaps=_absolute(parser.sitemaps, url),
            truncated=truncated,
        )

    def can_fetch(self, url: str, user_agent: str) -> bool:
        """Return whether ``user_agent`` may fetch ``url`` (the robots.txt itself always)."""
        if self._parser is None:
            return self.verdict == "allow_all"
        if url.endswith("/robots.txt") and url.partition("://")[2].count("/") == 1:
            return True  # RFC 9309 2.2.2: /robots.txt is implicitly allowed
        return bool(self._parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float | None:
        """Return the ``Crawl-delay`` for ``user_agent`` in seconds, if the file sets one."""
        if self._parser is None:
            return None
        delay = self._parser.crawl_delay(user_agent)
        return float(delay) if delay is not None and delay >= 0 else None

    def request_rate(self, user_agent: str) -> Rate | None:
        """Return the ``Request-rate`` for ``user_agent``, if the file sets a usable one."""
        if self._parser is None:
            return None
        rate = self._parser.request_rate(user_agent)
        if rate is None or rate.requests <= 0 or rate.seconds <= 0:
            return None
        return Rate(int(rate.requests), float(rate.seconds))

    def min_interval(self, user_agent: str) -> float | None:
        """Return the spacing the file asks between requests: the larger of both rules."""
        delays = [self.crawl_delay(user_agent)]
        rate = self.request_rate(user_agent)
        if rate is not None:
            delays.append(rate.interval)
        found = [delay for delay in delays if delay is not None]
        return max(found) if found else None

    def __repr__(self) -> str:
        return f"RobotsPolicy({self.verdict!r}, status={self.status})"


class RobotsCache:
    """Robots policies by origin, bounded: the least recently used one goes first.

    Memory stays flat however many hosts a crawl meets. Entries expire after their
    policy's ``max_age``; an expired entry reads as missing, so the engine fetches again.

    Args:
        maxsize: most policies kept.
        clock: monotonic seconds; ``corral``'s ``Clock.now`` in tests.
    """

    def __init__(
        self, maxsize: int = 10_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, RobotsPolicy]] = OrderedDict()

    def get(self, key: str) -> RobotsPolicy | None:
        """Return the fresh policy for ``key`` (a ``robots_url``), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, policy = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return policy

    def put(self, key: str, policy: RobotsPolicy) -> None:
        """Store ``policy`` for ``key`` until it expires, evicting the oldest if full."""
        self._entries[key] = (self._clock() + policy.max_age, policy)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _decode(body: bytes) -> tuple[str, bool]:
    """Return the text to parse: at most 500 KiB, cut at a line end, UTF-8 (RFC 9309 2.2)."""
    truncated = len(body) > MAX_ROBOTS_BYTES
    if truncated:
        body = body[:MAX_ROBOTS_BYTES]
        cut = max(body.rfind(b"\n"), body.rfind(b"\r"))
        body = body[: cut + 1] if cut >= 0 else body  # no half rule at the end
    return body.decode("utf-8", errors="replace").removeprefix("\ufeff"), truncated


def _absolute(sitemaps: Iterable[str], base: str | None) -> tuple[str, ...]:
    """Return the ``Sitemap:`` URLs normalised, relative ones resolved against ``base``."""
    try:
        resolve = Resolver(check(base)) if base else None
    except BadURL:
        resolve = None
    found = []
    for line in sitemaps:
        target = resolve(line) if resolve is not None else validate(line)
        if isinstance(target, str):
            found.append(target)
    return tuple(dict.fromkeys(found))
