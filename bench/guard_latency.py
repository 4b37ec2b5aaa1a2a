"""How long after a stall starts is it reported? corral's guard against asyncio debug and aiodebug.

A coroutine blocks the loop for ``--stall`` seconds in one of three ways: ``time.sleep`` (the GIL
is free), a busy Python loop (the GIL changes hands every 5 ms), and a native call that holds
the GIL (``ctypes.PyDLL``: nothing else runs). A poller thread, or the peer's callback, notes
when the stall is first reported; the latency is that moment minus the stall's start.

The guard reports a stall while it lasts (threshold 100 ms); asyncio's debug mode and aiodebug
time each callback and can only report once it has returned. A native call that holds the GIL
stops the guard's watchdog too: its faulthandler fallback records the stack, and the finding
appears when the call returns.

Usage::

    python bench/guard_latency.py [--repeat 5] [--stall 1.5]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import logging
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

KINDS = ("sleep", "busy", "native")
TOOLS = ("guard", "asyncio-debug", "aiodebug")


def _blocker(kind: str, seconds: float) -> Callable[[], None]:
    if kind == "sleep":
        return lambda: time.sleep(seconds)
    if kind == "busy":

        def busy() -> None:
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                pass

        return busy
    libc = ctypes.PyDLL(None)  # PyDLL keeps the GIL held for the whole call
    return lambda: libc.usleep(int(seconds * 1_000_000))


def _one(tool: str, kind: str, seconds: float, reported: list[float]) -> float:
    block = _blocker(kind, seconds)
    started: list[float] = []

    async def main() -> None:
        await asyncio.sleep(0.3)  # let the watchdog see a healthy loop first
        started.append(time.perf_counter())
        block()
        await asyncio.sleep(0.05)

    reported.clear()
    asyncio.run(main(), debug=tool == "asyncio-debug")
    if not reported:
        return float("nan")
    return reported[0] - started[0]


def _child(tool: str, kind: str, seconds: float, repeat: int) -> None:
    reported: list[float] = []
    if tool == "guard":
        import corral.guard

        current: list[corral.guard.Guard] = []
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(0.001):
                if current and current[-1].findings and not reported:
                    reported.append(time.perf_counter())

        threading.Thread(target=poll, daemon=True).start()
        latencies = []
        for _ in range(repeat):
            with corral.guard.watch() as guard:  # a fresh guard for each stall
                current.append(guard)
                latencies.append(_one(tool, kind, seconds, reported))
        stop.set()
    else:
        if tool == "aiodebug":
            from aiodebug import log_slow_callbacks

            log_slow_callbacks.enable(
                0.1, on_slow_callback=lambda *_: reported.append(time.perf_counter())
            )
        else:

            class Note(logging.Handler):
                def emit(self, record: logging.LogRecord) -> None:
                    if "took" in record.getMessage():
                        reported.append(time.perf_counter())

            logging.getLogger("asyncio").addHandler(Note())
        latencies = [_one(tool, kind, seconds, reported) for _ in range(repeat)]
    print(json.dumps(latencies))


def main() -> None:
    """Measure each tool on each kind of stall; print median and worst latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stall", type=float, default=1.5, help="seconds each stall lasts")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.stall, args.repeat)
        return
    print(f"time from a {args.stall:g} s stall's start to its report, {args.repeat} stalls each")
    print(f"{'stall':<8} {'tool':<14} {'median s':>9} {'worst s':>8}  {'vs guard':>8}")
    for kind in KINDS:
        medians: dict[str, float] = {}
        for tool in TOOLS:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    tool,
                    kind,
                    "--stall",
                    str(args.stall),
                    "--repeat",
                    str(args.repeat),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            latencies = json.loads(out.stdout.strip().splitlines()[-1])
            medians[tool] = statistics.median(latencies)
            ratio = medians[tool] / medians["guard"]
            print(
                f"{kind:<8} {tool:<14} {medians[tool]:>9.3f} {max(latencies):>8.3f}  {ratio:>7.1f}x"
            )


if __name__ == "__main__":
    main()
