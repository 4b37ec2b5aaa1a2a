"""Per-host politeness: concurrency, start rate, Retry-After cool-downs and adaptive slow-down.

One ``Politeness`` per fetcher holds a ``HostState`` for every host with work in flight or a
recent throttle, shared by all the fetcher's runs, so limits hold across concurrent calls.

Adaptive slow-down is AIMD, as in TCP congestion control: a 429 or 503 halves the host's
concurrency, and once it is down to one, doubles the time between starts (up to 5 s); a
Retry-After closes the host until then. The host is cut at most once a second, so one burst
of refusals (every request in flight answering 503 at once) counts as one signal, as TCP
cuts once per round trip. A Retry-After longer than the fetcher's cap (``max_retry_after``)
is not waited for: that URL is recorded at once, the host is closed for the cap only, and
the host is remembered with what it asked (issue 13: a day's Retry-After closed a host for
the day and the run never ended). Recovery: every four successes halve the added interval, and
every run of successes as long as the current concurrency adds one to the concurrency,
back to the configured values.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

_MIN_THROTTLE_INTERVAL = 0.1  # seconds: the first slow-down of a host with no fixed rate
_MAX_THROTTLE_INTERVAL = 5.0  # seconds: the slowest adaptive pace (Retry-After may ask more)
_CUT_HOLD = 1.0  # seconds between two cuts of one host
_EVENTS = 10_000  # throttle events kept until the run's sampler takes them (the oldest go)

# (wall-clock time, host, kind, value): ``slow_down`` (a 429/503 cut the host's pace; value:
# its seconds between starts, or its concurrency while above one as a negative number),
# ``retry_after`` (the host closed for value seconds), ``crawl_delay`` (robots.txt asked
# value seconds between starts). The run report's per-host columns come from these.
Event = tuple[float, str, str, float]


class HostState:
    """The politeness state of one host."""

    __slots__ = (
        "active",
        "base_interval",
        "cooldown_until",
        "cut_at",
        "interval",
        "limit",
        "max_limit",
        "name",
        "next_start",
        "queued",
        "streak",
    )

    def __init__(self, name: str, max_limit: int, interval: float) -> None:
        self.name = name
        self.max_limit = max_limit
        self.limit = max_limit
        self.base_interval = interval
        self.interval = interval
        self.next_start = float("-inf")
        self.cooldown_until = float("-inf")
        self.active = 0
        self.streak = 0
        self.cut_at = float("-inf")
        self.queued = 0  # jobs waiting for this host, over all runs

    def ready_at(self) -> float:
        """Return when the next start is allowed by rate and cool-down (concurrency aside)."""
        return max(self.next_start, self.cooldown_until)

    def throttled(self, now: float) -> bool:
        """Return whether the host runs below its configured pace now."""
        return (
            self.limit < self.max_limit
            or self.interval > self.base_interval
            or self.cooldown_until > now
        )


class Politeness:
    """Host states and the global in-flight count of one fetcher."""

    def __init__(
        self,
        *,
        concurrency: int,
        per_host: int,
        interval: float,
        adaptive: bool,
        max_wait: float = float("inf"),
    ) -> None:
        self.concurrency = concurrency
        self.per_host = per_host
        self.interval = interval
        self.adaptive = adaptive
        self.max_wait = max_wait  # the longest Retry-After honoured (FetchConfig.max_retry_after)
        self.active = 0
        self.hosts: dict[str, HostState] = {}
        self.long_waits: dict[str, float] = {}  # host -> the longest wait it asked past the cap
        # host -> its robots.txt interval; a lane of it ("host via proxy", --per-proxy) too
        self._floors: dict[str, float] = {}
        self._listeners: list[Callable[[], None]] = []
        self.events: deque[Event] = deque(maxlen=_EVENTS)

    def host(self, name: str) -> HostState:
        """Return the state of ``name``, making it on first use."""
        state = self.hosts.get(name)
        if state is None:
            interval = self.interval
            if self._floors:
                interval = max(interval, self._floors.get(name.partition(" via ")[0], 0.0))
            state = self.hosts[name] = HostState(name, self.per_host, interval)
        return state

    def set_interval(self, name: str, interval: float) -> None:
        """Raise a host's minimum interval (robots.txt Crawl-delay / Request-rate), and its
        lanes' (``FetchConfig.per_proxy``: each proxy keeps it apart)."""
        self._floors[name] = max(self._floors.get(name, 0.0), interval)
        lanes = [s for key, s in self.hosts.items() if key.startswith(f"{name} via ")]
        for state in (self.host(name), *lanes):
            state.base_interval = max(state.base_interval, interval)
            state.interval = max(state.interval, state.base_interval)
        self.events.append((time.time(), name, "crawl_delay", interval))

    def can_start(self, state: HostState, now: float) -> bool:
        """Return whether a request to ``state`` may start now."""
        return (
            self.active < self.concurrency
            and state.active < state.limit
            and now >= state.next_start
            and now >= state.cooldown_until
        )

    def start(self, state: HostState, now: float) -> None:
        """Count a start on ``state``."""
        state.active += 1
        self.active += 1
        state.next_start = max(now, state.next_start) + state.interval

    def finish(
        self, state: HostState, status: int | None, retry_after: float | None, now: float
    ) -> None:
        """Count an attempt's end and adapt the host's pace to its answer."""
        state.active -= 1
        self.active -= 1
        if status in (429, 503):
            if retry_after is not None:
                wait = self._wait(state, retry_after)
                state.cooldown_until = max(state.cooldown_until, now + wait)
                self.events.append((time.time(), state.name, "retry_after", wait))
            if self.adaptive and now - state.cut_at >= _CUT_HOLD:
                state.cut_at = now
                state.streak = 0
                if state.limit > 1:
                    state.limit //= 2
                    pace = -float(state.limit)
                else:
                    slower = max(state.interval * 2, _MIN_THROTTLE_INTERVAL)
                    state.interval = max(state.base_interval, min(slower, _MAX_THROTTLE_INTERVAL))
                    pace = state.interval
                self.events.append((time.time(), state.name, "slow_down", pace))
        elif status is not None and status < 400 and self.adaptive and state.throttled(now):
            state.streak += 1
            if state.streak % 4 == 0 and state.interval > state.base_interval:
                extra = (state.interval - state.base_interval) / 2
                state.interval = state.base_interval + (extra if extra > 1e-3 else 0.0)
            if state.streak >= state.limit:
                state.streak = 0
                state.limit = min(state.max_limit, state.limit + 1)
        self.changed()

    def _wait(self, state: HostState, retry_after: float) -> float:
        """Return how long a Retry-After closes the host: at most the cap."""
        if retry_after <= self.max_wait:
            return retry_after
        self.long_waits[state.name] = max(self.long_waits.get(state.name, 0.0), retry_after)
        return self.max_wait

    def forget_idle(self, now: float) -> None:
        """Drop states of hosts with nothing queued or running and no throttle to remember."""
        idle = [
            name
            for name, s in self.hosts.items()
            if not s.active and not s.queued and not s.throttled(now) and s.next_start <= now
        ]
        for name in idle:
            del self.hosts[name]

    def throttled_hosts(self, now: float) -> tuple[str, ...]:
        """Return the hosts running below their configured pace now."""
        return tuple(name for name, s in self.hosts.items() if s.throttled(now))

    def take_events(self) -> list[Event]:
        """Return the throttle events since the last call, oldest first, and forget them."""
        taken = list(self.events)
        self.events.clear()
        return taken

    def changed(self) -> None:
        """Tell every listener (each run's dispatcher) that a slot came free or a pace changed."""
        for listener in self._listeners:
            listener()

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` at every change."""
        self._listeners.append(listener)

    def unlisten(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)
