"""A worker process of ``corral fetch --workers N``: ``python -m corral.http.scale._child CONFIG``.

It runs the ordinary engine (``Runtime(config)``) on the flights its parent sends as frames
on stdin (``_procwire``), and writes each final record back on stdout as it is made, with
its counters' differences. The end of stdin is the end of the work: it finishes what is in
flight, sends the last records and exits 0. SIGTERM stops it at once (its parent keeps the
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
from collections.abc import AsyncIterator
from typing import Any

from corral.http.engine._config import FetchConfig
from corral.http.engine._flight import Flight
from corral.http.engine._result import FetchResult
from corral.http.engine._runtime import Runtime
from corral.http.scale._figures import GAUGE_EVERY, FigureDeltas
from corral.http.scale._procwire import (
    decode_request,
    encode_result,
    frame,
    read_frame,
)
from corral.http.scale._wire import config_from_json


class _Outbox:
    """Records waiting to go to the parent, sent as one frame whenever the pipe is free."""

    def __init__(self, writer: asyncio.StreamWriter, figures: FigureDeltas) -> None:
        self._writer = writer
        self._figures = figures
        self._records: list[list[Any]] = []
        self._ready = asyncio.Event()

    async def sink(self, flight: Flight, result: FetchResult) -> None:
        self._records.append([flight.ident, encode_result(result)])
        self._ready.set()

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
        self._writer.write(frame({"r": records, "c": self._figures.take()}))
        await self._writer.drain()


async def _flights(reader: asyncio.StreamReader) -> AsyncIterator[list[Flight]]:
    while (message := await read_frame(reader)) is not None:
        yield [Flight(request, seq) for seq, request in map(decode_request, message["f"])]


async def serve(config: FetchConfig) -> None:
    """Fetch what stdin sends until its end; write the records to (the saved) stdout."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    reader, stdin, writer = await _pipes(loop)
    try:
        async with Runtime(config) as runtime:
            pool = runtime.proxies
            figures = FigureDeltas(
                runtime.counters, runtime.statistics, pool.figures if pool is not None else None
            )
            outbox = _Outbox(writer, figures)
            sending = loop.create_task(outbox.send_all())
            try:
                await runtime.engine.drive(_flights(reader), runtime.counters, outbox.sink)
            finally:
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
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


def main(argv: list[str]) -> int:
    """Run the worker with the configuration in ``argv[0]``; return its exit code."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers (SIGTERM)
    try:
        asyncio.run(serve(config_from_json(argv[0])))
    except asyncio.CancelledError:  # SIGTERM
        return 128 + signal.SIGTERM
    except (BrokenPipeError, ConnectionResetError):  # the parent is gone: nothing to tell
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
