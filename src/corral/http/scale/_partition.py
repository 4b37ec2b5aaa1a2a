"""One partition of ``corral fetch --workers N``: the hosts routed to it (``HostRouter``), and
the worker process that fetches them, replaced when it dies.

The flights sent to the child stay here (``outstanding``) until its record comes back: a
child that dies (``kill -9``, out of memory) takes nothing with it, as its replacement is
sent them all again. A record read is never fetched again, so each URL gets one record.

A page whose examination kills its child (a ``--parse`` callback that calls ``os._exit`` or
crashes in C) would kill every replacement too, ending the crawl at each resume. So once a
child died, its replacements are *careful*: they examine one page at a time and say which
first (``_child``'s ``tell``). A death during a page's examination is counted against that
page, not the child; at ``PAGE_DEATHS`` the page is recorded ``parse_error`` naming the
callback and how the process ended, and the crawl goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from corral.http._errors import ScaleError
from corral.http.engine._cookies import HostJars
from corral.http.engine._engine import Sink
from corral.http.engine._flight import Flight
from corral.http.report._human import human_many
from corral.http.scale._figures import RunFigures
from corral.http.scale._orphans import parent_env
from corral.http.scale._procwire import decode_result, encode_request, frame, read_frame

MAX_DEATHS = 3  # deaths in a row, no record between them: the child cannot work here
PAGE_DEATHS = 2  # deaths of careful children examining one page: the page is failed
STOP_WAIT = 5.0  # seconds a child has to end after SIGTERM before it is killed


class Partition:
    """A worker process and the flights it holds; ``start()`` it, ``run()`` it to the end."""

    def __init__(
        self,
        index: int,
        argv: Sequence[str],
        settings: dict[str, Any],
        window: int,
        jars: HostJars | None = None,
    ) -> None:
        """``jars``: the run's cookies (``--cookies``), handed to each child it starts and
        updated with the jars its child sends back."""
        self.index = index
        self.window = window  # flights outstanding at most: back-pressure on the feeder
        self.outstanding: dict[int, Flight] = {}
        self.pids: list[int] = []  # every child it started, for the tests and the curious
        self._argv = list(argv)
        self._settings = settings  # the job's settings, the first frame on the child's stdin
        self.intervals: dict[str, float] = {}  # hosts' robots.txt intervals, told each child
        self._seq = 0
        self._ended = False  # no more flights will come: the child's stdin is closed
        self._deaths = 0
        self._lock = asyncio.Lock()  # a send and a child's replacement do not interleave
        self._room = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self._careful = False  # a child died: its replacements examine one page at a time
        self._examining: tuple[int, Any] | None = None  # (seq, record) a careful child said
        self._blamed: Counter[int] = Counter()  # deaths during each page's examination
        self._jars = jars

    async def start(self) -> None:
        """Start the child (its stderr is this process's) and send it the job's settings:
        on its stdin, not its command line, which any user of the machine can read (``ps``)
        and which would show a ``--header``'s secret or a proxy's password."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=parent_env(),
        )
        self.pids.append(self._process.pid)
        settings = {**self._settings, "careful": True} if self._careful else self._settings
        await self._write(frame(settings))
        if self._jars is not None and (jars := self._jars.export()):  # (secrets: a pipe too)
            await self._write(frame({"jar": jars}))
        if self.intervals:
            await self._write(frame({"iv": list(self.intervals.items())}))

    @property
    def pid(self) -> int | None:
        """Return the process id of its child, None before ``start``."""
        return self._process.pid if self._process is not None else None

    async def set_interval(self, host: str, interval: float) -> None:
        """Tell the child a host's minimum interval (robots.txt's Crawl-delay), now and
        after a restart."""
        self.intervals[host] = interval
        if self._process is not None:
            async with self._lock:
                await self._write(frame({"iv": [[host, interval]]}))

    async def send(self, flights: list[Flight]) -> None:
        """Hand ``flights`` to the child (kept here until their records come back)."""
        async with self._lock:  # (a replacement resends what is outstanding: these after it)
            rows = []
            for flight in flights:
                assert flight.request is not None
                self._seq += 1
                self.outstanding[self._seq] = flight
                rows.append(encode_request(self._seq, flight.request))
            await self._write(frame({"f": rows}))

    async def wait_room(self) -> None:
        """Wait until the child holds fewer than ``window`` flights."""
        while len(self.outstanding) >= self.window:
            self._room.clear()
            await self._room.wait()

    async def end(self) -> None:
        """Say no more flights will come: the child ends once it has sent their records."""
        async with self._lock:
            self._ended = True
            self._close_stdin()

    async def run(self, sink: Sink, figures: RunFigures) -> None:
        """Hand each record the child sends to ``sink``; replace the child when it dies;
        return once it ended with every flight's record sent.

        Raises:
            ScaleError: the child died ``MAX_DEATHS`` times in a row with no record between.
        """
        while True:
            process = self._process
            assert process is not None
            assert process.stdout is not None
            with contextlib.suppress(ValueError):  # a frame cut short: the child died writing
                await self._read(process.stdout, sink, figures)
            code = await process.wait()
            figures.gone(self.index)
            if code == 0 and self._ended and not self.outstanding:
                return
            blamed = await self._blame(code, sink)
            await self._replace(code, blamed=blamed)

    async def stop(self) -> None:
        """End the child if it still runs: SIGTERM, then SIGKILL after ``STOP_WAIT``."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_WAIT):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def _read(self, stdout: asyncio.StreamReader, sink: Sink, figures: RunFigures) -> None:
        outstanding, room = self.outstanding, self._room
        while (message := await read_frame(stdout)) is not None:
            if "x" in message:  # a careful child examines this page now
                self._examining = (message["x"][0], message["x"][1])
                continue
            figures.add(self.index, message["c"])
            if "k" in message and self._jars is not None:  # the jars its responses changed
                self._jars.replace(message["k"])
            for row in message["r"]:
                flight = outstanding.pop(row[0])
                self._deaths = 0
                if len(row) > 2:  # what the child made of the record (a crawl's parse)
                    flight.remote = row[2]
                await sink(flight, decode_result(row[1]))
                if len(outstanding) < self.window:
                    room.set()

    async def _blame(self, code: int, sink: Sink) -> bool:
        """Count a death against the page a careful child was examining, and record the page
        ``parse_error`` at its ``PAGE_DEATHS``-th; return whether a page was to blame."""
        said, self._examining = self._examining, None
        flight = self.outstanding.get(said[0]) if said is not None else None
        if said is None or flight is None:  # (its record came: the death came later)
            return False
        seq, row = said
        self._blamed[seq] += 1
        how = f"signal {_signal_name(-code)}" if code < 0 else f"exit code {code}"
        url = decode_result(row).url
        if self._blamed[seq] < PAGE_DEATHS:
            print(f"corral: worker process {self.index + 1} ended ({how}) examining {url}; "
                  "trying the page once more", file=sys.stderr)  # fmt: skip
            return True
        del self.outstanding[seq], self._blamed[seq]
        who = self._settings.get("parse") or "the link parser"
        error = f"{who} ended its worker process ({how}) on this page, {PAGE_DEATHS} times"
        print(f"corral: {url}: {error}: recorded as parse_error", file=sys.stderr)
        flight.remote = {"f": [], "s": [], "i": [], "e": f"{url}: {error}", "d": 1}  # (died)
        failed = replace(decode_result(row), ok=False, error_kind="parse_error", error=error)
        await sink(flight, failed)
        self._room.set()
        return True

    async def _replace(self, code: int, *, blamed: bool = False) -> None:
        """Start a new child for the partition and send it the dead one's flights."""
        self._careful = True
        self._deaths += 0 if blamed else 1  # (a page to blame says nothing of the child)
        if self._deaths >= MAX_DEATHS:
            raise ScaleError(
                f"worker process {self.index + 1} died {self._deaths} times in a row "
                f"(exit code {code}) before sending a record: see its messages above"
            )
        if not blamed:
            print(
                f"corral: worker process {self.index + 1} ended (exit code {code}); "
                f"starting another for its {human_many(len(self.outstanding), 'URL')}",
                file=sys.stderr,
            )
        async with self._lock:
            await self.start()
            rows = [
                encode_request(seq, f.request) for seq, f in self.outstanding.items() if f.request
            ]
            if rows:
                await self._write(frame({"f": rows}))
            if self._ended:
                self._close_stdin()

    async def _write(self, data: bytes) -> None:
        """Write to the child; a dead child's broken pipe is left to ``run`` to see."""
        process = self._process
        assert process is not None
        assert process.stdin is not None
        if process.stdin.is_closing():
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            process.stdin.write(data)
            await process.stdin.drain()

    def _close_stdin(self) -> None:
        process = self._process
        if process is not None and process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
