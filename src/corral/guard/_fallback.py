"""The faulthandler fallback: a stack for stalls the watchdog thread cannot see.

A native call that holds the GIL (a C extension, a ``ctypes.PyDLL`` call, a huge regex) stops
every Python thread, the watchdog included. ``faulthandler.dump_traceback_later`` runs a C
thread that needs no GIL: the watchdog re-arms it while it can run, so it fires only when the
watchdog has been starved for ``timeout`` seconds (see GIL_TIMEOUT_FLOOR), and then writes every
thread's Python stack to a temporary file. The watchdog reads the file once it runs again.

Limits: faulthandler has one timer per process (arming ours cancels anyone else's, so the
pytest plugin turns the fallback off when ``faulthandler_timeout`` is set); the dump has only
Python frames (no C frames, no task names); and each re-arm starts a short-lived C thread,
which is why the timer is re-armed only every ``timeout / 4`` (with a ``1.25 x timeout`` delay,
so it still fires after between one and one and a quarter ``timeout`` without the watchdog):
re-arming on every watchdog tick (40 a second) cost a tenth of a busy fetch's time.
"""

from __future__ import annotations

import faulthandler
import re
import tempfile
import time
from typing import IO

from corral.guard._finding import Frame

_THREAD = re.compile(r"^(?:Current thread|Thread) (0x[0-9a-fA-F]+)")
_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d+|\?\?\?) in (?P<function>.*)$')


def parse_dump(text: str) -> dict[int, tuple[Frame, ...]]:
    """Return each thread's stack from a faulthandler dump, outermost first."""
    stacks: dict[int, list[Frame]] = {}
    current: list[Frame] | None = None
    for line in text.splitlines():
        thread = _THREAD.match(line)
        if thread:
            current = stacks.setdefault(int(thread.group(1), 16), [])
            continue
        frame = _FRAME.match(line)
        if frame and current is not None:
            number = frame.group("line")
            current.append(
                Frame(
                    file=frame.group("file"),
                    line=int(number) if number.isdigit() else 0,
                    function=frame.group("function"),
                )
            )
    # faulthandler lists the most recent call first.
    return {ident: tuple(reversed(frames)) for ident, frames in stacks.items()}


class GilFallback:
    """Arm faulthandler's timer while the watchdog runs; collect what it wrote if it fired."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._rearm = 0.25 * timeout  # the least time between two re-armings
        self._delay = timeout + self._rearm  # the timer's delay from each (re-)arming
        self._file: IO[bytes] | None = None
        self.armed_at: float | None = None

    def arm(self, now: float) -> None:
        """Arm (or re-arm) the timer, so that it fires only if the watchdog stops re-arming."""
        if self.armed_at is not None and now - self.armed_at < self._rearm:
            return
        if self._file is None:
            # Unbuffered: faulthandler writes to the descriptor behind our back.
            self._file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115  (closed in disarm)
        faulthandler.dump_traceback_later(self._delay, repeat=False, file=self._file, exit=False)
        # The timer runs from the call, which may come a while after ``now`` was read.
        self.armed_at = max(now, time.monotonic())

    def disarm(self) -> None:
        """Cancel the timer and drop the file."""
        if self.armed_at is not None:
            faulthandler.cancel_dump_traceback_later()
            self.armed_at = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def collect(self) -> tuple[float, dict[int, tuple[Frame, ...]]] | None:
        """Return (when it fired, each thread's stack) if the timer fired since the last call."""
        file = self._file
        if file is None or self.armed_at is None:
            return None
        size = file.seek(0, 2)
        if size == 0:
            return None
        file.seek(0)
        text = file.read().decode("utf-8", "replace")
        file.seek(0)
        file.truncate()
        fired_at = self.armed_at + self._delay
        self.armed_at = None  # it fired once (repeat=False): arm again on the next tick
        return fired_at, parse_dump(text)
