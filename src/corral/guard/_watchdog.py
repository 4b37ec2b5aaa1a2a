"""The stall watchdog: a thread that pings each running loop and samples it when a ping is late.

Each loop gets one ping in flight: a callback sent with ``call_soon_threadsafe`` that stamps
when it ran. A ping still unanswered ``threshold`` seconds after it was sent (minus garbage
collection time, see :mod:`._gcclock`, and the loop thread's wait for a CPU, see
:mod:`._runqueue`) means the loop is stalled: the watchdog reads the loop
thread's stack with ``sys._current_frames()`` and reports its innermost user frame, then
samples again every ``sample_interval`` while the stall goes on. The finding is reported at the
first sample and replaced by its final form when the loop answers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from corral.guard._config import GuardConfig
from corral.guard._fallback import GilFallback
from corral.guard._finding import Finding
from corral.guard._gcclock import GcClock
from corral.guard._runqueue import RunQueueClock, no_wait, run_queue_clock
from corral.guard._stall import Sample, Stall, sample_dump, sample_live

_JOIN_TIMEOUT = 2.0
# faulthandler reads the stacks of running threads without the GIL, and can crash the process
# when one of them is executing Python meanwhile (seen on 3.11 when the timer fired during a
# garbage collection that ran finalizers, or a short scheduling hiccup). A native call that
# holds the GIL keeps every stack still, so the dump is safe then; the timer therefore fires
# only after a full second without the watchdog, which nothing but such a call explains.
GIL_TIMEOUT_FLOOR = 1.0
_IDLE_PERIOD = 1.0


class StallSink(Protocol):
    """Where the watchdog gets its configuration and sends its findings."""

    def current_config(self) -> GuardConfig | None:
        """Return the configuration in force, or ``None`` when no guard is on."""

    def report(self, finding: Finding, replaces: Finding | None) -> Finding | None:
        """Record ``finding``, in place of ``replaces`` when given; return what was stored."""

    def withdraw(self, finding: Finding) -> None:
        """Drop ``finding``, reported earlier."""


@dataclass(slots=True)
class _Monitor:
    loop: asyncio.AbstractEventLoop
    thread_id: int
    sent_seq: int = 0
    sent_at: float = 0.0
    answered_seq: int = 0
    answered_at: float = 0.0
    stall: Stall | None = None
    dumped: list[Sample] = field(default_factory=list)
    dumped_at: float = 0.0
    waited: RunQueueClock = no_wait  # the loop thread's wait for a CPU (``_runqueue``)
    waited_at_send: float = 0.0

    def queued_since(self, base: float) -> float:
        """Return the seconds the loop thread waited for a CPU since ``waited`` read ``base``."""
        return max(0.0, self.waited() - base)

    def answered(self) -> bool:
        return self.answered_seq >= self.sent_seq

    def pong(self, seq: int, clock: Callable[[], float]) -> None:
        # Runs on the loop thread. The time is written before the number, so a reader that
        # sees the new number sees its time.
        if seq > self.answered_seq:
            self.answered_at = clock()
            self.answered_seq = seq


class Watchdog:
    """Watch running loops for stalls from a daemon thread."""

    def __init__(
        self,
        sink: StallSink,
        gc_clock: GcClock,
        run_queue: Callable[[], RunQueueClock] = run_queue_clock,
    ) -> None:
        self._sink = sink
        self._gc = gc_clock
        self._run_queue = run_queue  # called on the loop's thread: that thread's clock
        self._clock = time.monotonic
        self._monitors: dict[asyncio.AbstractEventLoop, _Monitor] = {}
        # One lock for all monitor state: the watchdog thread and loop threads (unwatch) both
        # read the faulthandler dump and finish stalls.
        self._lock = threading.RLock()
        self._wakeup = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._fallback: GilFallback | None = None
        self._next_wake = 0.0
        self._tick_at = 0.0  # when the last finished tick began

    # -- attach and detach (called from loop threads) -------------------------------------

    def watch(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> None:
        """Start watching ``loop``, which runs on thread ``thread_id``."""
        now = self._clock()
        waited = self._run_queue()
        with self._lock:
            self._monitors[loop] = _Monitor(
                loop, thread_id, answered_at=now, sent_at=now, waited=waited
            )
        # Arm the fallback now: the loop may hold the GIL before the watchdog thread runs.
        config = self._sink.current_config()
        if config is not None:
            self._arm_fallback(config, now, busy=True)
            # The watchdog may be in its idle sleep: it owes a tick one period from now.
            self._next_wake = min(self._next_wake, now + config.threshold / 4)
        self._wakeup.set()

    def unwatch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop watching ``loop`` (it stopped running); finish a stall in progress."""
        with self._lock:
            monitor = self._monitors.pop(loop, None)
            if monitor is None:
                return
            # A native call may have held the GIL until just before the loop stopped: the
            # watchdog never ran, and only the faulthandler dump saw the stall.
            now = self._clock()
            config = self._sink.current_config()
            threshold = config.threshold if config is not None else 0.1
            self._collect_dump([monitor], starved=now - self._next_wake > threshold)
            self._adopt_dump(monitor, now)
            stall = monitor.stall
            if stall is not None:
                answered = monitor.answered() and monitor.answered_at > stall.started
                self._finish(monitor, monitor.answered_at if answered else now)
            if not self._monitors and self._fallback is not None:
                # Nothing to watch: a timer left armed would fire while the thread runs on.
                self._fallback.disarm()
                self._fallback = None

    def flush(self) -> None:
        """Finish the stalls in progress now (their guard is about to leave)."""
        with self._lock:
            now = self._clock()
            for monitor in self._monitors.values():
                if monitor.stall is not None:
                    self._finish(monitor, now)

    # -- the thread -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the watchdog thread (a daemon: it never holds up the interpreter's exit)."""
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="corral-guard-watchdog")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, finish stalls in progress and disarm the fallback."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping = True
        self._wakeup.set()
        if thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT)
        self.flush()

    def _run(self) -> None:
        try:
            while not self._stopping:
                config = self._sink.current_config()
                period = max(0.002, (config.threshold if config else 0.1) / 4)
                start = self._clock()
                if not self._monitors:
                    period = _IDLE_PERIOD  # nothing to watch: sleep until watch() wakes us
                elif self._tick_at:
                    # From the last tick's start, not from now: a native call that took the
                    # GIL during or after that tick kept this thread from getting here, and
                    # the wake-up it missed must still show (or its faulthandler dump is
                    # dropped as a mere late tick).
                    start = min(start, self._tick_at)
                self._next_wake = start + period
                self._wakeup.wait(period)
                self._wakeup.clear()
                if config is not None and not self._stopping:
                    self._tick(config)
        finally:
            with self._lock:
                if self._fallback is not None:
                    self._fallback.disarm()
                    self._fallback = None

    def _tick(self, config: GuardConfig) -> None:
        now = self._clock()
        starved = now - self._next_wake > config.threshold
        with self._lock:
            monitors = list(self._monitors.values())
            self._collect_dump(monitors, starved)
            for monitor in monitors:
                try:
                    self._check(monitor, config, now, starved)
                except RuntimeError:  # the loop was closed under us
                    self.unwatch(monitor.loop)
            self._arm_fallback(config, now, bool(monitors))
            self._tick_at = now  # its start: the GIL may have been taken from it since

    def _check(self, monitor: _Monitor, config: GuardConfig, now: float, starved: bool) -> None:
        if monitor.answered():
            self._adopt_dump(monitor, now)
            stall = monitor.stall
            if stall is not None and monitor.answered_at > stall.started:
                self._finish(monitor, monitor.answered_at)
            if monitor.loop.is_running():
                monitor.sent_seq += 1
                monitor.sent_at = now
                monitor.waited_at_send = monitor.waited()
                seq = monitor.sent_seq
                monitor.loop.call_soon_threadsafe(monitor.pong, seq, self._clock)
            return
        late = now - monitor.sent_at - self._gc.time_between(monitor.sent_at, now)
        if late < config.threshold or not monitor.loop.is_running():
            return
        late -= monitor.queued_since(monitor.waited_at_send)  # (read only for a late ping)
        if late < config.threshold:
            return
        stall = monitor.stall
        if stall is None:
            stall = Stall(started=monitor.sent_at, waited_at_start=monitor.waited_at_send)
            monitor.stall = stall
        stall.starved = stall.starved or starved
        before = len(stall.samples)
        if monitor.dumped:
            stall.samples.extend(monitor.dumped)
            monitor.dumped.clear()
        if now - stall.last_sample_at >= config.sampling and not self._gc.collecting():
            stall.last_sample_at = now
            sample = sample_live(monitor.thread_id, monitor.loop)
            if sample is not None:
                stall.samples.append(sample)
        if len(stall.samples) > before:  # report early, refresh on each new sample
            self._publish(stall, late, ongoing=True)

    def _adopt_dump(self, monitor: _Monitor, now: float) -> None:
        # The watchdog was starved through the stall (a native call held the GIL) and found no
        # late ping when it woke: the faulthandler dump is all it has. The stall ran from the
        # loop's last sign of life before the dump to its first one after.
        samples, monitor.dumped = monitor.dumped, []
        if not samples:
            return
        if monitor.stall is not None:
            monitor.stall.samples.extend(samples)
            return
        if monitor.answered() and monitor.answered_at >= monitor.dumped_at:
            start = monitor.sent_at  # the ping in flight at the dump came back late
        elif monitor.answered():
            # No ping was in flight: the stall began after the loop answered the last one
            # (sent by the last tick), and is still open until it answers the next. Not from
            # the tick's end: the native call may have taken the GIL from the tick itself.
            start = max(monitor.answered_at, self._tick_at)
        else:
            start = monitor.sent_at
        config = self._sink.current_config()
        threshold = config.threshold if config is not None else 0.0
        end = monitor.answered_at if monitor.answered_at > start else now
        # A thread taken off the CPU while it runs Python keeps the GIL: it starves the
        # watchdog as a native call does. Its wait for a CPU is taken out (read since the last
        # ping was sent, at or before the stall's start: at most a tick's wait more).
        waited = monitor.waited_at_send
        held = end - start - self._gc.time_between(start, end) - monitor.queued_since(waited)
        if held >= threshold or end == now:
            monitor.stall = Stall(started=start, samples=samples, starved=True)
            monitor.stall.waited_at_start = waited

    def _finish(self, monitor: _Monitor, end: float) -> None:
        stall, monitor.stall = monitor.stall, None
        if stall is None:
            return
        duration = end - stall.started - self._gc.time_between(stall.started, end)
        if stall.waited_at_start is not None:  # (read now: may take in one tick's wait more)
            duration -= monitor.queued_since(stall.waited_at_start)
        config = self._sink.current_config()
        if config is not None and duration < config.threshold:
            # Shorter than the threshold once garbage collection and waits are out. (The
            # kernel counts a wait for a CPU when it ends: a stall reported while the loop
            # waited is withdrawn here.)
            if stall.reported is not None:
                self._sink.withdraw(stall.reported)
            return
        self._publish(stall, duration, ongoing=False)

    def _publish(self, stall: Stall, duration: float, ongoing: bool) -> None:
        finding = stall.finding(duration, ongoing)
        if finding is not None:
            stall.reported = self._sink.report(finding, stall.reported)

    # -- the faulthandler fallback ----------------------------------------------------------

    def _collect_dump(self, monitors: list[_Monitor], starved: bool) -> None:
        fallback = self._fallback
        dump = fallback.collect() if fallback is not None else None
        if dump is None:
            return
        fired_at, stacks = dump
        # The timer also fires when the watchdog is merely late; only a watchdog that missed
        # its wake-up by the threshold was kept from running, by a GIL held in native code.
        if not starved or self._gc.covers(fired_at):
            return
        for monitor in monitors:
            sample = sample_dump(stacks.get(monitor.thread_id, ()))
            if sample is not None and monitor.sent_at <= fired_at:
                monitor.dumped.append(sample)
                monitor.dumped_at = fired_at

    def _arm_fallback(self, config: GuardConfig, now: float, busy: bool) -> None:
        with self._lock:
            fallback = self._fallback
            if not config.gil_fallback or not busy:
                if fallback is not None:
                    fallback.disarm()
                    self._fallback = None
                return
            timeout = max(GIL_TIMEOUT_FLOOR, config.threshold)
            if fallback is None or fallback.timeout != timeout:
                if fallback is not None:
                    fallback.disarm()
                fallback = self._fallback = GilFallback(timeout)
            fallback.arm(now)
