"""The rate-limited area, ``/limited/...``: 429 above a per-client rate, then a ban (403).

It behaves like the site in the field reports that banned their IP: each client may make
``rate`` requests per second with a burst of ``burst``; a request above that is answered 429
with ``Retry-After``; a client that gets ``ban_after`` such answers within ``ban_window``
seconds and still pushes is banned, and a banned client gets 403 for everything on the site.

The rate is a GCRA (generic cell rate algorithm, the token bucket written as one timestamp per
client): a request at ``now`` conforms when ``tat - now <= (burst - 1) / rate``, where ``tat``
(the theoretical arrival time) advances by ``1 / rate`` per admitted request. Strikes toward a
ban are kept in a sliding window, as fail2ban's ``maxretry`` within ``findtime`` does. All times
come from the injected clock, so tests drive the policy without sleeping.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from corral.testing._statistics import ClientStatistics


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitPolicy:
    """How the rate-limited area (``/limited/...``) treats each client.

    Attributes:
        rate: Requests per second a client may make, sustained.
        burst: Requests a client may make at once before the rate applies (at least 1).
        ban_after: 429 answers a client may get within ``ban_window`` seconds; its next request
            over the limit is answered 403 and bans it. ``None`` never bans.
        ban_window: The window, in seconds, over which 429 answers count toward a ban.
        ban_seconds: How long a ban lasts; ``None`` keeps it until the site closes.
        client_header: A request header whose value identifies the client (so one test can
            act as several clients); the peer address is used when it is absent or ``None``.

    Raises:
        ValueError: A value is out of range (a rate or window that is not positive, a burst or
            ``ban_after`` below 1).
    """

    rate: float = 20.0
    burst: int = 5
    ban_after: int | None = 10
    ban_window: float = 10.0
    ban_seconds: float | None = None
    client_header: str | None = None

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"RateLimitPolicy.rate must be > 0, got {self.rate!r}")
        if self.burst < 1:
            raise ValueError(f"RateLimitPolicy.burst must be >= 1, got {self.burst!r}")
        if self.ban_after is not None and self.ban_after < 1:
            raise ValueError(f"RateLimitPolicy.ban_after must be >= 1, got {self.ban_after!r}")
        if not self.ban_window > 0:
            raise ValueError(f"RateLimitPolicy.ban_window must be > 0, got {self.ban_window!r}")
        if self.ban_seconds is not None and not self.ban_seconds > 0:
            raise ValueError(f"RateLimitPolicy.ban_seconds must be > 0, got {self.ban_seconds!r}")


class _Client:
    """One client's rate and ban state, and its counters."""

    __slots__ = (
        "allowed",
        "banned_until",
        "bans",
        "forbidden",
        "requests",
        "strikes",
        "tat",
        "throttled",
    )

    def __init__(self, now: float) -> None:
        self.tat = now
        self.strikes: deque[float] = deque()
        self.banned_until: float | None = None
        self.requests = self.allowed = self.throttled = self.forbidden = self.bans = 0

    def snapshot(self, now: float) -> ClientStatistics:
        until = self.banned_until
        return ClientStatistics(
            requests=self.requests,
            allowed=self.allowed,
            throttled=self.throttled,
            forbidden=self.forbidden,
            bans=self.bans,
            banned=until is not None and now < until,
        )


class RateLimiter:
    """Apply a :class:`RateLimitPolicy` per client, and answer for banned clients site-wide."""

    __slots__ = ("_banned", "_clients", "_clock", "_header", "_interval", "_policy", "_tolerance")

    def __init__(self, policy: RateLimitPolicy, clock: Callable[[], float]) -> None:
        self._policy = policy
        self._clock = clock
        self._header = policy.client_header
        self._interval = 1.0 / policy.rate
        self._tolerance = (policy.burst - 1) * self._interval
        self._clients: dict[str, _Client] = {}
        self._banned: set[str] = set()

    def client_key(self, request: web.BaseRequest) -> str:
        """Return the key that identifies the client that sent ``request``."""
        if self._header is not None:
            value = request.headers.get(self._header)
            if value is not None:
                return value
        return request.remote or "unknown"

    def forbid(self, client: str) -> web.Response | None:
        """Return a 403 for a banned client, or ``None`` to serve the request normally."""
        if not self._banned or client not in self._banned:
            return None
        state = self._clients[client]
        until = state.banned_until
        if until is not None and until != math.inf and self._clock() >= until:
            self._lift(client, state)
            return None
        state.forbidden += 1
        return _banned_response()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer a request to the rate-limited area: 200, 429 or (starting a ban) 403."""
        client = self.client_key(request)
        now = self._clock()
        state = self._clients.get(client)
        if state is None:
            state = self._clients[client] = _Client(now)
        state.requests += 1
        allow_at = state.tat - self._tolerance
        if now >= allow_at:
            state.tat = max(state.tat, now) + self._interval
            state.allowed += 1
            return web.Response(text=f"allowed: {request.path}\n")
        if self._strike(state, now):
            self._ban(client, state, now)
            state.forbidden += 1
            return _banned_response()
        state.throttled += 1
        retry_after = max(1, math.ceil(allow_at - now))
        return web.Response(
            status=429, text="too many requests\n", headers={"Retry-After": str(retry_after)}
        )

    def statistics(self) -> dict[str, ClientStatistics]:
        """Return each client's counters and ban state."""
        now = self._clock()
        return {key: state.snapshot(now) for key, state in self._clients.items()}

    def _strike(self, state: _Client, now: float) -> bool:
        """Record an over-limit request; return whether it is one too many (ban)."""
        limit = self._policy.ban_after
        if limit is None:
            return False
        strikes = state.strikes
        while strikes and strikes[0] <= now - self._policy.ban_window:
            strikes.popleft()
        if len(strikes) >= limit:
            return True
        strikes.append(now)
        return False

    def _ban(self, client: str, state: _Client, now: float) -> None:
        seconds = self._policy.ban_seconds
        state.banned_until = math.inf if seconds is None else now + seconds
        state.bans += 1
        state.strikes.clear()
        self._banned.add(client)

    def _lift(self, client: str, state: _Client) -> None:
        state.banned_until = None
        state.tat = self._clock()
        self._banned.discard(client)


def _banned_response() -> web.Response:
    return web.Response(status=403, text="forbidden: this client is banned\n")
