"""The live progress display: plain lines at the interval, the rich bar, off, clean stops."""

from __future__ import annotations

import asyncio
import io
import re
import sys
import threading

import pytest

from corral.http.report._progress import ProgressMode, open_progress, resolve_mode
from corral.http.report._stats import FetchStatistics, RunCounters

HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class BrokenPipe(io.StringIO):
    """A stream whose reader has gone away."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    def write(self, text: str) -> int:
        self.attempts += 1
        raise BrokenPipeError(32, "Broken pipe")


class Snapshots:
    """A snapshot callable over real counters that records when and where it was called."""

    def __init__(self, counters: RunCounters, fail_on_call: int | None = None) -> None:
        self.counters = counters
        self.times: list[float] = []
        self.threads: set[int] = set()
        self._fail_on_call = fail_on_call

    def __call__(self) -> FetchStatistics:
        self.times.append(asyncio.get_running_loop().time())
        self.threads.add(threading.get_ident())
        if len(self.times) == self._fail_on_call:
            raise RuntimeError("snapshot failed")
        return self.counters.snapshot()


def loop_counters(total: int | None = 100) -> RunCounters:
    """Return counters whose clock is the running loop's (virtual in virtual-time tests)."""
    loop = asyncio.get_running_loop()
    return RunCounters(output="out.db", started=loop.time(), clock=loop.time, total=total)


def finish(counters: RunCounters, n: int = 1) -> None:
    """Record ``n`` successful URLs of 1,000 bytes each."""
    counters.done += n
    counters.ok += n
    counters.bytes += 1_000 * n
    counters.by_status[200] += n


async def feed(counters: RunCounters, *, every: float, count: int) -> None:
    """Finish one URL every ``every`` seconds, the first half a period from now."""
    await asyncio.sleep(every / 2)
    for index in range(count):
        if index:
            await asyncio.sleep(every)
        finish(counters)


def screen_text(output: str) -> str:
    """Return what the terminal output says, without escape codes."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)


def last_frame(output: str) -> list[str]:
    """Return the lines of the bar as last drawn."""
    return screen_text(output).split("\r")[-1].strip("\n").splitlines()


# --- plain lines -------------------------------------------------------------------------------


@pytest.mark.virtual_time
@pytest.mark.parametrize(
    ("interval", "ticks"),
    [
        pytest.param(None, [5.0, 10.0], id="default-5s"),
        pytest.param(2.0, [2.0, 4.0, 6.0, 8.0, 10.0], id="2s"),
    ],
)
async def test_plain_mode_writes_a_line_each_interval(
    interval: float | None, ticks: list[float]
) -> None:
    """Off a terminal, one status line per interval, each from a snapshot taken then."""
    counters = loop_counters()
    snapshot = Snapshots(counters)
    out = io.StringIO()
    async with open_progress(snapshot, stream=out, interval=interval) as progress:
        assert progress.mode == "plain"
        await feed(counters, every=1.0, count=11)
    lines = out.getvalue().splitlines()
    start = snapshot.times[0]
    assert [t - start for t in snapshot.times[1:]] == ticks
    assert len(lines) == len(ticks)
    if interval is None:
        assert lines == [
            (
                "corral: 5/100 done (5.0%) 1.00/s ok 5 failed 0 retries 0 throttled 0 5.0 kB"
                " elapsed 5.0s eta 1m35s"
            ),
            (
                "corral: 10/100 done (10.0%) 1.00/s ok 10 failed 0 retries 0 throttled 0 10.0 kB"
                " elapsed 10s eta 1m30s"
            ),
        ]


@pytest.mark.virtual_time
async def test_plain_rate_follows_the_last_ten_seconds() -> None:
    """The rate and ETA follow a run that speeds up, instead of the whole run's average."""
    counters = loop_counters(total=1_000)
    out = io.StringIO()
    async with open_progress(counters.snapshot, mode="plain", stream=out):
        await feed(counters, every=1.0, count=10)  # 1/s until t=10
        await asyncio.sleep(0.5)
        await feed(counters, every=0.1, count=100)  # then 10/s until t=20
        await asyncio.sleep(0.1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert " 60/1,000 done (6.0%) 5.50/s " in lines[2]  # 55 in the last 10 s; average 4.00/s
    assert lines[3].startswith("corral: 110/1,000 done (11.0%) 10.0/s ")  # average 5.50/s
    assert lines[3].endswith(" elapsed 20s eta 1m29s")


@pytest.mark.virtual_time
async def test_plain_line_shows_throttled_hosts_frontier_and_resumed() -> None:
    """Throttled hosts are named; a crawl's frontier and a resumed run's count appear.

    The rate is that of the last seconds: nothing finished since the start, so 0/s.
    """
    counters = loop_counters(total=None)
    counters.throttled = ("a.example", "b.example", "c.example", "d.example")
    counters.frontier = 5_120
    counters.skipped = 7
    counters.retries = 3
    counters.done, counters.ok = 4, 3
    out = io.StringIO()
    async with open_progress(counters.snapshot, mode="plain", stream=out, interval=1.0):
        await asyncio.sleep(1.5)
    assert out.getvalue() == (
        "corral: 11 done 0/s ok 3 failed 1 retries 3 throttled 4"
        " (a.example, b.example, c.example +1) frontier 5,120 resumed 7 0 B elapsed 1.0s\n"
    )


@pytest.mark.virtual_time
async def test_off_writes_nothing_and_takes_no_snapshot() -> None:
    """Mode off (--quiet) writes nothing, however long the run, and never reads the counters."""
    snapshot = Snapshots(loop_counters())
    out = FakeTerminal()
    async with open_progress(snapshot, mode="off", stream=out) as progress:
        assert progress.mode == "off"
        await asyncio.sleep(3_600)
    assert out.getvalue() == ""
    assert snapshot.times == []


@pytest.mark.virtual_time
@pytest.mark.parametrize("mode", [pytest.param("plain", id="plain"), pytest.param("off", id="off")])
async def test_print_writes_a_line_of_its_own(mode: ProgressMode) -> None:
    """Messages go out as whole lines, between the status lines, even when progress is off."""
    counters = loop_counters()
    out = io.StringIO()
    async with open_progress(counters.snapshot, mode=mode, stream=out, interval=1.0) as progress:
        await asyncio.sleep(1.5)
        progress.print("host a.example banned us (403)")
        await asyncio.sleep(1.0)
    lines = out.getvalue().splitlines()
    if mode == "off":
        assert lines == ["host a.example banned us (403)"]
    else:
        assert [line.startswith("corral: ") for line in lines] == [True, False, True]
        assert lines[1] == "host a.example banned us (403)"


@pytest.mark.virtual_time
async def test_a_closed_stream_silences_progress_not_the_job() -> None:
    """A broken pipe on stderr stops the status lines after one try; the block runs on."""
    out = BrokenPipe()
    async with open_progress(loop_counters().snapshot, mode="plain", stream=out, interval=1.0):
        await asyncio.sleep(10)
    assert out.attempts == 1


@pytest.mark.virtual_time
async def test_a_failing_snapshot_cancels_the_block_and_raises() -> None:
    """A bug in the snapshot is raised at once, cancelling the block, not left to freeze."""
    loop = asyncio.get_running_loop()
    snapshot = Snapshots(loop_counters(), fail_on_call=3)
    start = loop.time()
    with pytest.raises(RuntimeError, match="snapshot failed"):
        async with open_progress(snapshot, mode="plain", stream=io.StringIO(), interval=1.0):
            await asyncio.sleep(3_600)
    assert loop.time() - start == 2.0


# --- mode choice and arguments -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "stream", "term", "chosen"),
    [
        pytest.param("auto", FakeTerminal(), "xterm-256color", "bar", id="terminal"),
        pytest.param("auto", FakeTerminal(), "dumb", "plain", id="dumb-terminal"),
        pytest.param("auto", io.StringIO(), "xterm-256color", "plain", id="pipe"),
        pytest.param("bar", io.StringIO(), "dumb", "bar", id="bar-forced"),
        pytest.param("plain", FakeTerminal(), "xterm", "plain", id="plain-forced"),
        pytest.param("off", FakeTerminal(), "xterm", "off", id="off"),
    ],
)
def test_mode_choice(
    mode: str, stream: io.StringIO, term: str, chosen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Auto means a bar on a terminal that is not dumb, plain lines elsewhere."""
    monkeypatch.setenv("TERM", term)
    assert resolve_mode(mode, stream) == chosen


@pytest.mark.parametrize(
    ("mode", "interval", "message"),
    [
        pytest.param("fancy", None, "progress mode must be one of auto", id="mode"),
        pytest.param("plain", 0.0, "interval must be positive", id="zero-interval"),
        pytest.param("off", -1.0, "interval must be positive", id="negative-interval"),
    ],
)
async def test_bad_arguments_are_refused(mode: str, interval: float | None, message: str) -> None:
    """An unknown mode or a non-positive interval raises ValueError before anything is shown."""
    out = io.StringIO()
    counters = loop_counters()
    with pytest.raises(ValueError, match=message):
        async with open_progress(counters.snapshot, mode=mode, stream=out, interval=interval):  # type: ignore[arg-type]
            pass
    assert out.getvalue() == ""


# --- the bar through open_progress, and clean stops --------------------------------------------


async def test_bar_draws_the_final_figures_and_restores_the_cursor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a terminal the bar hides the cursor, ends on the final snapshot, shows the cursor."""
    monkeypatch.setenv("TERM", "xterm-256color")
    counters = loop_counters(total=10)
    snapshot = Snapshots(counters)
    out = FakeTerminal()
    async with open_progress(snapshot, stream=out) as progress:
        assert progress.mode == "bar"
        finish(counters, 7)
    output = out.getvalue()
    assert output.startswith(HIDE_CURSOR)
    assert output.endswith(SHOW_CURSOR)
    head, details = last_frame(output)
    assert " 7/10 70.0% " in head
    assert details.startswith("  ok 7  failed 0  retries 0  active 0  elapsed ")
    # Every snapshot was taken on the loop's thread, never in rich's refresh thread.
    assert snapshot.threads == {threading.get_ident()}


async def test_bar_prints_other_stderr_output_above_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the bar runs, lines written to sys.stderr scroll above it; after, stderr is back."""
    monkeypatch.setenv("TERM", "xterm-256color")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    counters = loop_counters()
    async with open_progress(counters.snapshot) as progress:
        assert sys.stderr is not terminal
        print("a warning", file=sys.stderr)
        progress.print("a message")
    assert sys.stderr is terminal
    lines = screen_text(terminal.getvalue()).replace("\r", "\n").splitlines()
    assert lines.count("a warning") == 1
    assert lines.count("a message") == 1
    assert lines.index("a warning") < lines.index("a message") < len(lines) - 2


@pytest.mark.parametrize("mode", [pytest.param("bar", id="bar"), pytest.param("plain", id="plain")])
async def test_cancellation_stops_cleanly(
    mode: ProgressMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling the block (Ctrl-C under asyncio.run) restores stderr and the cursor."""
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    counters = loop_counters()
    entered = asyncio.Event()

    async def run() -> None:
        async with open_progress(counters.snapshot, mode=mode):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(run())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sys.stderr is terminal
    assert asyncio.all_tasks() == {asyncio.current_task()}
    output = terminal.getvalue()
    if mode == "bar":
        assert output.count(HIDE_CURSOR) == output.count(SHOW_CURSOR) == 1
        assert output.endswith(SHOW_CURSOR)
    else:
        assert output == ""


async def test_keyboard_interrupt_restores_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyboardInterrupt raised inside the block leaves the terminal as it was, and propagates."""
    monkeypatch.setenv("TERM", "xterm-256color")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    counters = loop_counters()
    with pytest.raises(KeyboardInterrupt):
        async with open_progress(counters.snapshot):
            raise KeyboardInterrupt
    assert sys.stderr is terminal
    assert terminal.getvalue().endswith(SHOW_CURSOR)
    assert asyncio.all_tasks() == {asyncio.current_task()}
