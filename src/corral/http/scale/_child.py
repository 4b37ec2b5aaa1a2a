"""A worker process of ``corral fetch --workers N``: ``python -m corral.http.scale._child``.

Its first frame on stdin is the job's settings (a ``FetchConfig`` as JSON: not on the command
line, where ``ps`` would show a header's secret). It runs the ordinary engine
(``Runtime(config)``) on the flights its parent sends as the next frames (``_procwire``), and
writes each final record back on stdout as it is made, with its counters' differences. The
end of stdin is the end of the work: it finishes what is in flight, sends the last records
and exits 0. SIGTERM stops it at once (its parent keeps the
records it received; the rest are still pending in the store, for a resume). SIGINT is left
to the parent (a terminal's Ctrl-C reaches the whole process group): the parent decides.

Its stdout carries frames only: what else writes to file descriptor 1 goes to stderr, which
is its parent's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from corral.http.engine._config import FetchConfig
from corral.http.engine._cookies import HostJars
from corral.http.engine._flight import Flight
from corral.http.engine._result import FetchResult
from corral.http.engine._runtime import Runtime
from corral.http.scale._figures import GAUGE_EVERY, FigureDeltas
from corral.http.scale._orphans import die_with_parent
from corral.http.scale._procwire import (
    decode_request,
    encode_result,
    frame,
    read_frame,
)
from corral.http.scale._wire import config_from_json


class After(Protocol):
    """What a child does with each record before it goes back (a crawl's child parses the
    page there: ``corral.http.crawler._child``); the parent finds what it returns in the
    flight's ``remote``."""

    def keep_body(self, content_type: str | None) -> bool:
        """Return whether the engine keeps a body of ``content_type`` for ``examine``."""
        ...

    def start(self, runtime: Runtime, tell: Tell | None = None) -> None:
        """Begin, with the child's runtime open; ``tell(flight, record)`` says at once
        (before ``examine`` runs) which page is examined now (``Partition``'s blame)."""
        ...

    async def examine(self, flight: Flight, result: FetchResult) -> tuple[FetchResult, Any]:
        """Return the record to send (changed, maybe) and JSON-ready data to send with it."""
        ...

    async def close(self) -> None:
        """End what ``start`` began."""
        ...


# Says which page a child examines now (its flight, its record): a frame of its own, at once.
Tell = Callable[[Flight, FetchResult], None]

# Makes the ``After`` of a child from its first frame (the parent's settings for it).
AfterFactory = Callable[[dict[str, Any]], After | None]


class _Outbox:
    """Records waiting to go to the parent, sent as one frame whenever the pipe is free."""

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        figures: FigureDeltas,
        after: After | None,
        jars: HostJars | None,
    ) -> None:
        self._writer = writer
        self._figures = figures
        self._after = after
        self._jars = jars  # (--cookies: the jars responses changed go back with the records)
        self._records: list[list[Any]] = []
        self._ready = asyncio.Event()

    async def sink(self, flight: Flight, result: FetchResult) -> None:
        if self._after is None:
            self._records.append([flight.ident, encode_result(result)])
        else:
            result, extra = await self._after.examine(flight, result)
            self._records.append([flight.ident, encode_result(result), extra])
        self._ready.set()

    def tell(self, flight: Flight, result: FetchResult) -> None:
        """Say which page is examined now: written at once (not batched), so that the parent
        knows it if the examination kills this process."""
        self._writer.write(frame({"x": [flight.ident, encode_result(result)]}))

    async def send_all(self) -> None:
        """Send what waits (and the figures), every time something does, or every so often."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(GAUGE_EVERY):
                    await self._ready.wait()
            await self.flush()

    async def flush(self) -> None:
        self._ready.clear()
        records, self._records = self._records, []
        message: dict[str, Any] = {"r": records, "c": self._figures.take()}
        if self._jars is not None and self._jars.changed:
            message["k"] = self._jars.take_changed()
        self._writer.write(frame(message))
        await self._writer.drain()


async def _flights(reader: asyncio.StreamReader, runtime: Runtime) -> AsyncIterator[list[Flight]]:
    while (message := await read_frame(reader)) is not None:
        for host, interval in message.get("iv", ()):  # robots.txt's Crawl-delay, the parent read
            runtime.politeness.set_interval(host, interval)
        if "jar" in message and runtime.cookies is not None:  # the run's cookies, at the start
            runtime.cookies.replace(message["jar"])
        if "f" in message:
            yield [Flight(request, seq) for seq, request in map(decode_request, message["f"])]


async def serve(make_after: AfterFactory | None = None) -> None:
    """Fetch what stdin sends until its end; write the records to (the saved) stdout.

    Raises:
        ValueError: stdin did not begin with the job's settings.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    reader, stdin, writer = await _pipes(loop)
    try:
        first = await read_frame(reader)
        if not isinstance(first, dict) or not isinstance(first.get("config"), str):
            raise ValueError("stdin did not begin with the job's settings")
        config: FetchConfig = config_from_json(first["config"])
        after = make_after(first) if make_after is not None else None
        keep_body = after.keep_body if after is not None else False
        async with Runtime(config, keep_body=keep_body) as runtime:
            pool = runtime.proxies
            figures = FigureDeltas(
                runtime.counters, runtime.statistics, pool.figures if pool is not None else None
            )
            outbox = _Outbox(writer, figures, after, runtime.cookies)
            if after is not None:
                after.start(runtime, outbox.tell)
            sending = loop.create_task(outbox.send_all())
            try:
                flights = _flights(reader, runtime)
                await runtime.engine.drive(flights, runtime.counters, outbox.sink)
            finally:
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
                if after is not None:
                    await after.close()
            await outbox.flush()
    finally:  # (a SIGTERM too: no transport left for the closed loop to warn of)
        stdin.close()
        writer.close()


async def _pipes(
    loop: asyncio.AbstractEventLoop,
) -> tuple[asyncio.StreamReader, asyncio.BaseTransport, asyncio.StreamWriter]:
    """Return stdin as a stream reader (and its transport) and the frames' pipe (stdout as
    it was) as a writer; file descriptor 1 then points at stderr, so a stray print cannot
    break a frame."""
    frames = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    reader = asyncio.StreamReader(limit=2**20)
    stdin, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer
    )
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, frames)
    return reader, stdin, asyncio.StreamWriter(transport, protocol, None, loop)


def main(make_after: AfterFactory | None = None) -> int:
    """Run the worker on the settings and flights of stdin; return its exit code."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers (SIGTERM)
    die_with_parent()  # ... or, killed, cannot: the kernel does
    try:
        asyncio.run(serve(make_after))
    except asyncio.CancelledError:  # SIGTERM
        return 128 + signal.SIGTERM
    except (BrokenPipeError, ConnectionResetError):  # the parent is gone: nothing to tell
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
