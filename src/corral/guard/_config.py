"""The guard's configuration: one frozen, keyword-only dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field

from corral.guard._finding import FindingKind


def _all_kinds() -> frozenset[FindingKind]:
    return frozenset(FindingKind)


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardConfig:
    """How the guard watches a program.

    Attributes:
        threshold: Seconds a ping to the event loop may wait before the loop counts as stalled.
        sample_interval: Seconds between stack samples while a stall goes on; ``None`` means
            ``threshold``.
        strict: Report (and raise :class:`~corral.guard.BlockingCallError` on) blocking calls
            made on the event loop's thread, however short.
        allow: Extra module names (``"mypkg.cache"`` also covers its submodules) whose blocking
            calls strict mode lets through, beside the built-in allowlist (logging, imports,
            the guard itself).
        gil_fallback: Catch stalls in native calls that hold the GIL (and so stop the
            watchdog thread too): :mod:`faulthandler` records the loop's stack when the
            watchdog has not run for a second (or ``threshold``, if longer). It uses
            faulthandler's one timer, so turn it off if something else needs that timer.
        origin_depth: Frames recorded where each coroutine is created, to tell where an
            un-awaited coroutine or a leaked task came from. Off (``0``) by default: CPython
            then pays on every coroutine created (about 10 % on an aiohttp client at depth 1,
            see docs/benchmarks.md). Without it the guard names the place a coroutine was
            dropped, a failed task's raise and a pending task's wait. ``corral run`` uses 4
            and the pytest plugin 16.
        detect: The kinds of finding to look for.
    """

    threshold: float = 0.1
    sample_interval: float | None = None
    strict: bool = False
    allow: tuple[str, ...] = ()
    gil_fallback: bool = True
    origin_depth: int = 0
    detect: frozenset[FindingKind] = field(default_factory=_all_kinds)

    def __post_init__(self) -> None:
        if not self.threshold > 0:
            raise ValueError(f"threshold must be > 0 seconds, got {self.threshold!r}")
        if self.sample_interval is not None and not self.sample_interval > 0:
            raise ValueError(f"sample_interval must be > 0 seconds, got {self.sample_interval!r}")
        if self.origin_depth < 0:
            raise ValueError(f"origin_depth must be >= 0, got {self.origin_depth!r}")
        unknown = set(self.detect) - set(FindingKind)
        if unknown:
            raise ValueError(f"detect has unknown kinds: {sorted(map(str, unknown))}")

    @property
    def sampling(self) -> float:
        """Return the seconds between samples of an ongoing stall."""
        return self.sample_interval if self.sample_interval is not None else self.threshold

    def watches(self, kind: FindingKind) -> bool:
        """Return whether findings of ``kind`` are looked for."""
        return kind in self.detect
