"""The live progress bar on a terminal, drawn by rich.

Only the progress display imports this module, and only in bar mode, so a run that logs plain
lines (CI, a pipe, ``--quiet``) never imports rich.

Threads: the event loop hands each new snapshot over by rebinding one attribute (atomic, and
the snapshot is frozen), and rich's ``Live`` refresh thread draws the latest one a few times a
second. Drawing (a millisecond or so of Python) and, above all, the write to the terminal
(which blocks while the terminal is paused with Ctrl-S or a slow SSH link drains) then happen
off the loop; the loop only pays for the snapshot. See "Progress and summary" in
docs/design.md.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from corral.http.report._human import (
    human_count,
    human_duration,
    human_hosts,
    human_percent,
    human_rate,
    human_size,
)
from corral.http.report._stats import FetchStatistics

_REFRESH_PER_SECOND = 5
_BAR_WIDTH = 24


class BarDisplay:
    """A rich ``Live`` bar on ``stream``; other writes to ``sys.stderr`` scroll above it."""

    def __init__(self, stream: TextIO) -> None:
        # The console writes to the stream object given now, never to whatever sys.stderr
        # is later: while the bar runs, sys.stderr is rich's proxy that writes through it.
        self._console = Console(
            file=stream, force_terminal=True, force_jupyter=False, highlight=False
        )
        self._latest: tuple[FetchStatistics, float, float | None] | None = None
        self._live = Live(
            console=self._console,
            get_renderable=self._render,
            refresh_per_second=_REFRESH_PER_SECOND,
            transient=False,
            # Lines written to sys.stderr (print, warnings, logging's last resort) are
            # printed above the bar instead of tearing it.
            redirect_stderr=stream is sys.stderr,
            # stdout is redirected only when it is a terminal too: then its lines land on
            # the same screen either way; when it is a file or a pipe (results with `-o -`),
            # its bytes must stay on stdout.
            redirect_stdout=stream is sys.stderr and _isatty(sys.stdout),
        )

    def start(self, stats: FetchStatistics, rate: float, eta: float | None) -> None:
        """Show the bar (hiding the cursor) and start rich's refresh thread."""
        self._latest = (stats, rate, eta)
        self._live.start(refresh=True)

    def update(self, stats: FetchStatistics, rate: float, eta: float | None) -> None:
        """Hand a new snapshot to the refresh thread."""
        self._latest = (stats, rate, eta)

    def print(self, message: str) -> None:
        """Print a line above the bar."""
        self._console.print(message, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        """Draw the latest snapshot, leave it on screen, show the cursor, restore the streams."""
        self._live.stop()

    def _render(self) -> RenderableType:
        latest = self._latest
        return "" if latest is None else render_bar(*latest)


def render_bar(stats: FetchStatistics, rate: float, eta: float | None) -> RenderableType:
    """Return the two lines of the live display for one snapshot.

    Args:
        stats: the snapshot.
        rate: final records per second, recently.
        eta: seconds left at that rate (None when unknown).

    Returns:
        A renderable: the bar with the headline figures, then a line of details.
    """
    finished = stats.done + stats.skipped
    head = Table.grid(padding=(0, 1))
    head.add_row(
        Text("corral", style="bold"),
        ProgressBar(total=stats.total, completed=finished, width=_BAR_WIDTH),
        _headline(stats, rate, eta),
    )
    return Group(head, _details(stats))


def _headline(stats: FetchStatistics, rate: float, eta: float | None) -> Text:
    finished = stats.done + stats.skipped
    text = Text(no_wrap=True, overflow="ellipsis")
    if stats.total is None:
        text.append(f"{human_count(finished)} done")
    else:
        text.append(f"{human_count(finished)}/{human_count(stats.total)} ")
        text.append(human_percent(finished, stats.total), style="bold")
    text.append(f"  {human_rate(rate)}", style="cyan")
    if stats.total is not None:
        text.append(f"  eta {'-' if eta is None else human_duration(eta)}")
    text.append(f"  {human_size(stats.bytes)}")
    return text


def _details(stats: FetchStatistics) -> Text:
    # Most telling first: on a narrow terminal the line is cut at the end, host names first.
    text = Text("  ", no_wrap=True, overflow="ellipsis")
    text.append(f"ok {human_count(stats.ok)}", style="green")
    text.append(f"  failed {human_count(stats.failed)}", style="bold red" if stats.failed else "")
    text.append(f"  retries {human_count(stats.retries)}", style="yellow" if stats.retries else "")
    text.append(f"  active {human_count(stats.in_flight)}")
    if stats.frontier:
        text.append(f"  frontier {human_count(stats.frontier)}")
    if stats.skipped:
        text.append(f"  resumed {human_count(stats.skipped)}")
    text.append(f"  elapsed {human_duration(stats.elapsed)}", style="dim")
    throttled = f"  throttled {len(stats.throttled)}"
    if stats.throttled:
        throttled += f" ({human_hosts(stats.throttled)})"
    text.append(throttled, style="yellow" if stats.throttled else "")
    return text


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False
