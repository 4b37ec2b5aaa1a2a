"""The progress of a running fetch or crawl: a live bar on a terminal, a plain line elsewhere.

``open_progress`` takes a ``snapshot`` callable (``RunCounters.snapshot``) and, while its
block runs, shows the run's figures. A task on the event loop takes a snapshot every
``interval`` seconds: the counters are plain Python objects that the loop thread mutates, so
only the loop may read them (copying a ``Counter`` while another thread adds a key can fail).
What happens to each snapshot depends on the mode:

- ``bar``: handed to rich's refresh thread, which draws it (see ``_bar.py`` for why there);
- ``plain``: one ``corral: ...`` line, written whole with one ``write`` so it never splits
  another writer's line; for logs, CI and pipes, where a redrawn bar would be noise;
- ``off``: nothing (``--quiet``).

The rate shown and the ETA use the last ``_RATE_WINDOW`` seconds of snapshots, not the whole
run's average, so they follow a run that slows down (a throttled host) or speeds up.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Literal, Protocol, TextIO

from corral._scope import open_scope
from corral.http.report._human import (
    human_count,
    human_duration,
    human_hosts,
    human_percent,
    human_rate,
    human_size,
)
from corral.http.report._stats import FetchStatistics
from corral.http.report._summary import render_summary

# render_summary is re-exported: the engine imports the display and the summary from here.
__all__ = ["ProgressDisplay", "ProgressMode", "open_progress", "render_summary", "resolve_mode"]

ProgressMode = Literal["auto", "bar", "plain", "off"]
ShownMode = Literal["bar", "plain", "off"]
_FIXED_MODES: dict[str, ShownMode] = {"bar": "bar", "plain": "plain", "off": "off"}
_DEFAULT_INTERVAL = {"bar": 0.2, "plain": 5.0}
_RATE_WINDOW = 10.0


class _Display(Protocol):
    def start(self, stats: FetchStatistics, rate: float, eta: float | None) -> None: ...
    def update(self, stats: FetchStatistics, rate: float, eta: float | None) -> None: ...
    def print(self, message: str) -> None: ...
    def stop(self) -> None: ...


class ProgressDisplay:
    """What ``open_progress`` yields: the mode it chose, and a way to print beside it."""

    __slots__ = ("_display", "mode")

    def __init__(self, mode: ShownMode, display: _Display) -> None:
        self.mode = mode
        self._display = display

    def print(self, message: str) -> None:
        """Write ``message`` as a line of its own: above the bar, or between the plain lines.

        In every mode, "off" included: quiet means no progress, not no messages.
        """
        self._display.print(message)


@asynccontextmanager
async def open_progress(
    snapshot: Callable[[], FetchStatistics],
    *,
    mode: ProgressMode = "auto",
    stream: TextIO | None = None,
    interval: float | None = None,
) -> AsyncIterator[ProgressDisplay]:
    """Show the progress of a run while the ``async with`` block runs.

    On leaving the block (normally, by an error, by cancellation or Ctrl-C) the ticker is
    stopped; a bar is drawn one last time with a final snapshot and left on screen, the
    cursor is shown again and ``sys.stderr`` / ``sys.stdout`` are restored.

    Args:
        snapshot: returns the run's statistics now; called on the event loop only.
        mode: ``"auto"`` (a bar when ``stream`` is a terminal and ``TERM`` is not ``dumb``,
            else plain lines), ``"bar"``, ``"plain"`` or ``"off"``.
        stream: where to write; None means ``sys.stderr`` as it is on entry.
        interval: seconds between snapshots (None: 0.2 s for the bar, 5 s for plain lines).

    Returns:
        An async context manager yielding a ``ProgressDisplay``.

    Raises:
        ValueError: an unknown ``mode``, or an ``interval`` that is not positive.
        Exception: whatever ``snapshot`` raises; the block is cancelled first.
    """
    if interval is not None and not interval > 0:
        raise ValueError(f"progress interval must be positive, not {interval!r}")
    out = sys.stderr if stream is None else stream
    chosen = resolve_mode(mode, out)
    if chosen == "off":
        yield ProgressDisplay(chosen, _PlainDisplay(out))
        return
    period = _DEFAULT_INTERVAL[chosen] if interval is None else interval
    display = _open_display(chosen, out)
    meter = _RecentRate(_RATE_WINDOW)
    display.start(*meter.read(snapshot()))
    try:
        # The ticker is a child of a scope: if it fails (a bug in ``snapshot``), the block
        # is cancelled and the error raised here, rather than the display freezing unseen.
        async with open_scope() as scope:
            ticker = await scope.spawn(_tick, snapshot, display, meter, period)
            try:
                yield ProgressDisplay(chosen, display)
            finally:
                ticker.cancel()
    finally:
        try:
            if chosen == "bar":  # a bar ends on the final figures; plain lines, on the summary
                display.update(*meter.read(snapshot()))
        finally:
            display.stop()


def resolve_mode(mode: str, stream: TextIO) -> ShownMode:
    """Return the mode ``"auto"`` stands for on ``stream``, or ``mode`` itself.

    Raises:
        ValueError: ``mode`` is not one of auto, bar, plain, off.
    """
    if mode == "auto":
        return "bar" if _is_terminal(stream) else "plain"
    try:
        return _FIXED_MODES[mode]
    except KeyError:
        known = "auto, bar, plain, off"
        raise ValueError(f"progress mode must be one of {known}, not {mode!r}") from None


def _is_terminal(stream: TextIO) -> bool:
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _open_display(mode: ShownMode, stream: TextIO) -> _Display:
    if mode == "bar":
        # Imported here: rich is needed only for the bar.
        from corral.http.report._bar import BarDisplay

        return BarDisplay(stream)
    return _PlainDisplay(stream)


async def _tick(
    snapshot: Callable[[], FetchStatistics], display: _Display, meter: _RecentRate, period: float
) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        due += period
        await asyncio.sleep(due - loop.time())
        if loop.time() - due > period:
            due = loop.time()  # the loop was held up: carry on from now, without a burst
        display.update(*meter.read(snapshot()))


class _RecentRate:
    """Final records per second over the last ``window`` seconds of snapshots, and the ETA."""

    def __init__(self, window: float) -> None:
        self._window = window
        self._samples: deque[tuple[float, int]] = deque()

    def read(self, stats: FetchStatistics) -> tuple[FetchStatistics, float, float | None]:
        """Add a snapshot; return it with the recent rate and the seconds left at that rate."""
        samples = self._samples
        samples.append((stats.elapsed, stats.done))
        while stats.elapsed - samples[0][0] > self._window:
            samples.popleft()
        start, done_then = samples[0]
        span = stats.elapsed - start
        rate = (stats.done - done_then) / span if span > 0 else stats.rate
        if stats.total is None:
            return stats, rate, None
        left = max(0, stats.total - stats.done - stats.skipped)
        if not left:
            return stats, rate, 0.0
        return stats, rate, left / rate if rate > 0 else None


class _PlainDisplay:
    """One line per snapshot; in mode "off", only the messages given to ``print``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._broken = False

    def start(self, stats: FetchStatistics, rate: float, eta: float | None) -> None:
        """Write nothing: the first line comes after one interval."""

    def update(self, stats: FetchStatistics, rate: float, eta: float | None) -> None:
        """Write the status line."""
        self._write(status_line(stats, rate, eta))

    def print(self, message: str) -> None:
        """Write a message line."""
        self._write(message)

    def stop(self) -> None:
        """Write nothing: the run's summary follows."""

    def _write(self, line: str) -> None:
        if self._broken:
            return
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            # A closed pipe or file (`corral fetch ... 2>&1 | head`): progress goes quiet
            # and the job goes on; its results do not depend on being watched.
            self._broken = True


def status_line(stats: FetchStatistics, rate: float, eta: float | None) -> str:
    """Return the plain one-line status of a snapshot.

    Example: ``corral: 12,340/20,000 done (61.7%) 2,051/s ok 12,301 failed 39 retries 57
    throttled 1 (api.example.org) 3.4 MB elapsed 6.0s eta 3.7s``.
    """
    finished = stats.done + stats.skipped
    if stats.total is None:
        parts = [f"{human_count(finished)} done"]
    else:
        of = f"{human_count(finished)}/{human_count(stats.total)}"
        parts = [f"{of} done ({human_percent(finished, stats.total)})"]
    parts += [
        human_rate(rate),
        f"ok {human_count(stats.ok)}",
        f"failed {human_count(stats.failed)}",
        f"retries {human_count(stats.retries)}",
        f"throttled {len(stats.throttled)}",
    ]
    if stats.throttled:
        parts.append(f"({human_hosts(stats.throttled)})")
    if stats.frontier:
        parts.append(f"frontier {human_count(stats.frontier)}")
    if stats.skipped:
        parts.append(f"resumed {human_count(stats.skipped)}")
    parts += [human_size(stats.bytes), f"elapsed {human_duration(stats.elapsed)}"]
    if eta is not None:
        parts.append(f"eta {human_duration(eta)}")
    return "corral: " + " ".join(parts)
