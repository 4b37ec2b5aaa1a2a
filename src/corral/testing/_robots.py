"""``/robots.txt``, written from a :class:`RobotsPolicy` (RFC 9309 plus common extensions)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from corral.testing._layout import Origins

# A group for one named agent that may read nothing, so crawlers' agent matching can be tested.
_BLOCKED_AGENT = "corral-test-blocked"


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotsPolicy:
    """What ``/robots.txt`` says.

    Attributes:
        user_agent: The agent the main group is for (``*`` by default).
        disallow: ``Disallow`` paths of the main group.
        allow: ``Allow`` paths of the main group (written before the disallows, so that
            first-match parsers such as ``urllib.robotparser`` agree with longest-match ones).
        crawl_delay: ``Crawl-delay`` in seconds, or ``None`` for no such line.
        request_rate: ``Request-rate`` as written, e.g. ``"1/5"`` (one request per 5 s), or
            ``None``.
        sitemap: Whether to add ``Sitemap: <origin>/sitemap.xml``.
        status: The status ``/robots.txt`` answers with: 404 means "no robots.txt" (RFC 9309:
            crawl everything), 5xx means "unreachable" (RFC 9309: crawl nothing).
        text: The whole file, served as is (``{base_url}`` replaced by the site's origin);
            when set, the fields above except ``status`` are ignored.

    Raises:
        ValueError: ``status`` is not an HTTP status or ``crawl_delay`` is negative.
    """

    user_agent: str = "*"
    disallow: tuple[str, ...] = ("/private/",)
    allow: tuple[str, ...] = ("/private/public.html",)
    crawl_delay: float | None = None
    request_rate: str | None = None
    sitemap: bool = True
    status: int = 200
    text: str | None = None

    def __post_init__(self) -> None:
        if not 200 <= self.status <= 599:
            raise ValueError(f"RobotsPolicy.status must be in [200, 599], got {self.status!r}")
        if self.crawl_delay is not None and self.crawl_delay < 0:
            raise ValueError(f"RobotsPolicy.crawl_delay must be >= 0, got {self.crawl_delay!r}")

    def render(self, base_url: str) -> str:
        """Return the text of robots.txt for a site at ``base_url``."""
        if self.text is not None:
            return self.text.replace("{base_url}", base_url)
        lines = ["# robots.txt of the corral.testing site", f"User-agent: {self.user_agent}"]
        lines += [f"Allow: {path}" for path in self.allow]
        lines += [f"Disallow: {path}" for path in self.disallow]
        if self.crawl_delay is not None:
            lines.append(f"Crawl-delay: {self.crawl_delay:g}")
        if self.request_rate is not None:
            lines.append(f"Request-rate: {self.request_rate}")
        lines += ["", f"User-agent: {_BLOCKED_AGENT}", "Disallow: /"]
        if self.sitemap:
            lines += ["", f"Sitemap: {base_url}/sitemap.xml"]
        return "\n".join(lines) + "\n"


class Robots:
    """The ``/robots.txt`` handler."""

    __slots__ = ("_origins", "_policy")

    def __init__(self, policy: RobotsPolicy, origins: Origins) -> None:
        self._policy = policy
        self._origins = origins

    def routes(self) -> list[web.RouteDef]:
        """Return this module's routes."""
        return [web.get("/robots.txt", self.robots)]

    async def robots(self, request: web.Request) -> web.StreamResponse:
        """``/robots.txt``: the policy's text, or its ``status`` when that is not 200."""
        if self._policy.status != 200:
            return web.Response(status=self._policy.status, text="no robots.txt here\n")
        return web.Response(text=self._policy.render(self._origins.own(request)))
