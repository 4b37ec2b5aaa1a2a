"""The guard's process-wide machinery: the stack of active guards and the hooks they share.

Hooks are process-wide (audit hooks, loop classes, gc callbacks, one watchdog thread), so one
``Hooks`` object owns them and the guards form a stack: the innermost active guard's
configuration is in force and receives the findings, as ``warnings.catch_warnings`` nests.
A ``watch()`` inside a test run under the pytest plugin therefore captures its own findings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from corral.guard import _coroutines, _loops, _sessions, _strict, _tasks
from corral.guard._config import GuardConfig
from corral.guard._finding import Finding, FindingKind, Frame
from corral.guard._gcclock import GcClock
from corral.guard._watchdog import Watchdog

if TYPE_CHECKING:
    from corral.guard._guard import Guard


class TestContext(Protocol):
    """Names tests for findings (the pytest plugin provides one)."""

    def current(self) -> str | None:
        """Return the node id of the test running now."""

    def owner(self, origin: tuple[Frame, ...]) -> str | None:
        """Return the node id of the test whose function appears in a creation stack."""


@dataclass(slots=True)
class _Running:
    thread_id: int
    saved_depth: int


class Hooks:
    """Own the hooks; route what they see to the innermost active guard."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._guards: list[Guard] = []
        self._gc = GcClock()
        self._watchdog = Watchdog(self, self._gc)
        self._running: dict[asyncio.AbstractEventLoop, _Running] = {}
        self._threads: dict[int, asyncio.AbstractEventLoop] = {}
        self._reported: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()
        self._saved_depths: dict[int, list[int]] = {}
        self.tests: TestContext | None = None

    # -- the stack of guards -------------------------------------------------------------

    def push(self, guard: Guard) -> None:
        """Make ``guard`` the innermost active guard."""
        with self._lock:
            self._guards.append(guard)
            self._saved_depths.setdefault(id(guard), []).append(
                sys.get_coroutine_origin_tracking_depth()
            )
            self._configure()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop not in self._running:  # entered inside a running loop: watch it from now on
            self.loop_started(loop)

    def remove(self, guard: Guard) -> None:
        """Take ``guard`` off the stack, wherever it is."""
        with self._lock:
            if guard not in self._guards:
                return
            if self._guards[-1] is guard:
                self._watchdog.flush()
            self._guards.remove(guard)
            saved = self._saved_depths.get(id(guard))
            if saved:
                sys.set_coroutine_origin_tracking_depth(saved.pop())
            if not saved:
                self._saved_depths.pop(id(guard), None)
            self._configure()

    def current_config(self) -> GuardConfig | None:
        """Return the configuration of the innermost active guard, if any."""
        guards = self._guards
        return guards[-1].config if guards else None

    def _configure(self) -> None:
        config = self.current_config()
        active = config is not None
        _loops.set_listener(self if active else None)
        if config is not None and config.strict:
            _strict.set_gate(self)
        kinds = config.detect if config is not None else frozenset()
        _coroutines.set_sink(self if FindingKind.UNAWAITED_COROUTINE in kinds else None)
        _sessions.set_sink(self if FindingKind.UNCLOSED_SESSION in kinds else None)
        if FindingKind.STALL in kinds:
            self._gc.start()
            self._watchdog.start()
        else:
            self._watchdog.stop()
            self._gc.stop()
        if config is not None:
            depth = sys.get_coroutine_origin_tracking_depth()
            sys.set_coroutine_origin_tracking_depth(max(depth, config.origin_depth))
        else:
            self._forget_loops()

    def _forget_loops(self) -> None:
        # The last guard is gone while loops still run: stop watching them. (The depth saved
        # when the guard was pushed is already back; a loop thread's own is restored when its
        # run ends, or stays raised if it never does: harmless.)
        for loop in list(self._running):
            self._watchdog.unwatch(loop)
        self._running.clear()
        self._threads.clear()

    def shutdown(self) -> None:
        """Stop the watchdog thread (at interpreter exit)."""
        self._watchdog.stop()

    # -- findings ------------------------------------------------------------------------

    def _attribute(self, finding: Finding, origin: tuple[Frame, ...] = ()) -> Finding:
        tests = self.tests
        if tests is None or finding.test is not None:
            return finding
        test = (tests.owner(origin) if origin else None) or tests.current()
        return dataclasses.replace(finding, test=test) if test else finding

    def record(self, finding: Finding, origin: tuple[Frame, ...] = ()) -> Finding:
        """Give ``finding`` to the innermost active guard; return it as recorded."""
        guards = self._guards
        if guards:
            finding = self._attribute(finding, origin)
            guards[-1].add(finding)
        return finding

    def report(self, finding: Finding, replaces: Finding | None) -> Finding | None:
        """Record a stall finding, in place of its earlier form (watchdog thread)."""
        guards = self._guards
        if not guards:
            return None
        if replaces is not None:
            finding = dataclasses.replace(finding, test=replaces.test)
            guards[-1].replace(replaces, finding)
        else:
            finding = self._attribute(finding)
            guards[-1].add(finding)
        return finding

    def withdraw(self, finding: Finding) -> None:
        """Drop a stall finding reported while it lasted (watchdog thread)."""
        for guard in list(self._guards):
            guard.withdraw(finding)

    # -- loops (LoopListener) ------------------------------------------------------------

    def loop_started(self, loop: asyncio.AbstractEventLoop) -> None:
        """Watch ``loop``, which starts running on this thread."""
        config = self.current_config()
        if config is None:
            return
        thread_id = threading.get_ident()
        saved = sys.get_coroutine_origin_tracking_depth()
        sys.set_coroutine_origin_tracking_depth(max(saved, config.origin_depth))
        with self._lock:
            self._running[loop] = _Running(thread_id, saved)
            self._threads[thread_id] = loop
        if config.watches(FindingKind.STALL):
            self._watchdog.watch(loop, thread_id)

    def loop_stopped(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop watching ``loop``: it stopped running."""
        with self._lock:
            running = self._running.pop(loop, None)
            if running is None:
                return
            self._threads.pop(running.thread_id, None)
        self._watchdog.unwatch(loop)
        if running.thread_id == threading.get_ident():
            sys.set_coroutine_origin_tracking_depth(running.saved_depth)

    def runner_closing(self, loop: asyncio.AbstractEventLoop) -> None:
        """List the tasks an ``asyncio.Runner`` is about to cancel."""
        self._pending(loop, "when asyncio.run / asyncio.Runner finished (it was cancelled)")

    def loop_closing(self, loop: asyncio.AbstractEventLoop) -> None:
        """List the tasks and sessions still open on a closing loop."""
        self._pending(loop, "when its event loop was closed")
        config = self.current_config()
        if config is not None and config.watches(FindingKind.UNCLOSED_SESSION):
            for finding in _sessions.open_sessions(loop):
                self.record(finding)

    def _pending(self, loop: asyncio.AbstractEventLoop, when: str) -> None:
        config = self.current_config()
        if config is None or not config.watches(FindingKind.PENDING_TASK):
            return
        fresh = [t for t in asyncio.all_tasks(loop) if t not in self._reported]
        for task, finding, origin in _tasks.pending(fresh, when):
            self._reported.add(task)
            self.record(finding, origin)

    def exception_context(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> bool:
        """Record what the loop's exception handler was told; return whether it is handled."""
        config = self.current_config()
        if config is None:
            return False
        default = loop.get_exception_handler() is None
        if _sessions.is_guarded_context(context):
            return True
        unretrieved = _tasks.unretrieved(context)
        if unretrieved is not None and config.watches(FindingKind.UNRETRIEVED_EXCEPTION):
            self.record(*unretrieved)
            return default
        task = context.get("task")
        if context.get("message") == _tasks.DESTROYED_PENDING and isinstance(task, asyncio.Task):
            if task in self._reported:
                return True
            if config.watches(FindingKind.PENDING_TASK):
                self._reported.add(task)
                for _, finding, origin in _tasks.pending([task], "when it was destroyed"):
                    self.record(finding, origin)
                return default
        return False

    # -- strict mode (StrictGate) --------------------------------------------------------

    def strict_allow(self) -> tuple[str, ...] | None:
        """Return the extra allowlist when strict mode is on, else ``None``."""
        config = self.current_config()
        if config is None or not config.strict:
            return None
        return config.allow if config.watches(FindingKind.BLOCKING_CALL) else None

    def loop_on_thread(self, thread_id: int) -> object | None:
        """Return the watched loop running on ``thread_id``."""
        return self._threads.get(thread_id)

    def blocking_call(self, finding: Finding) -> Finding:
        """Record a strict-mode finding; return it as recorded."""
        return self.record(finding)

    def task_name(self, loop: object) -> str | None:
        """Return the name of the task ``loop`` is running now."""
        if not isinstance(loop, asyncio.AbstractEventLoop):
            return None
        task = asyncio.current_task(loop)
        return task.get_name() if task is not None else None

    # -- coroutines and sessions -----------------------------------------------------------

    def unawaited(self, finding: Finding, origin: tuple[Frame, ...]) -> bool:
        """Record a coroutine never awaited; the warning is not passed on."""
        if not self._guards:
            return False
        self.record(finding, origin)
        return True

    def session_watch(self) -> tuple[str | None] | None:
        """Return ``(current test,)`` while sessions are watched."""
        config = self.current_config()
        if config is None or not config.watches(FindingKind.UNCLOSED_SESSION):
            return None
        tests = self.tests
        return (tests.current() if tests is not None else None,)

    def session_leaked(self, finding: Finding) -> None:
        """Record a session never closed."""
        self.record(finding)


HOOKS = Hooks()
