"""The public handle: a guard with its configuration and findings; ``watch`` and ``install``."""

from __future__ import annotations

import atexit
import dataclasses
import gc
import sys
import threading
from types import TracebackType
from typing import Self

from corral.guard._config import GuardConfig
from corral.guard._finding import Finding
from corral.guard._hooks import HOOKS
from corral.guard._report import format_json, format_text


class Guard:
    """A guard: while active, it receives what the detectors find.

    Use it through :func:`watch` (a context manager, sync or async) or :func:`install`
    (process-wide). Guards nest: the innermost active one is in force and gets the findings.
    """

    def __init__(self, config: GuardConfig) -> None:
        self.config = config
        self._findings: list[Finding] = []
        self._lock = threading.RLock()
        self._active = False

    @property
    def active(self) -> bool:
        """Return whether the guard is on."""
        return self._active

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Return the findings so far, in the order they were found."""
        with self._lock:
            return tuple(self._findings)

    def add(self, finding: Finding) -> None:
        """Record a finding (the detectors call this)."""
        with self._lock:
            self._findings.append(finding)

    def replace(self, old: Finding, new: Finding) -> None:
        """Put ``new`` in the place of ``old`` (a stall's final form replaces its first report)."""
        with self._lock:
            for index, finding in enumerate(self._findings):
                if finding is old:
                    self._findings[index] = new
                    return
            self._findings.append(new)

    def withdraw(self, old: Finding) -> None:
        """Drop ``old``: a stall reported while it lasted turned out shorter than the threshold
        once garbage collection and the loop's wait for a CPU were counted out."""
        with self._lock:
            self._findings = [finding for finding in self._findings if finding is not old]

    def text(self, *, stack: bool = True) -> str:
        """Return the findings as a text report."""
        return format_text(self.findings, stack=stack)

    def json(self) -> str:
        """Return the findings as a JSON document."""
        return format_json(self.findings)

    def start(self) -> Self:
        """Switch the guard on (it becomes the innermost active guard)."""
        if not self._active:
            self._active = True
            HOOKS.push(self)
        return self

    def stop(self) -> Self:
        """Collect garbage (so objects dropped inside are reported), then switch the guard off."""
        if self._active:
            gc.collect()
            HOOKS.remove(self)
            self._active = False
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "active" if self._active else "inactive"
        return f"<Guard {state} findings={len(self._findings)} {self.config!r}>"


def _config_of(
    config: GuardConfig | None, strict: bool | None, threshold: float | None
) -> GuardConfig:
    config = config if config is not None else GuardConfig()
    changes: dict[str, object] = {}
    if strict is not None:
        changes["strict"] = strict
    if threshold is not None:
        changes["threshold"] = threshold
    return dataclasses.replace(config, **changes) if changes else config  # type: ignore[arg-type]


def watch(
    config: GuardConfig | None = None,
    *,
    strict: bool | None = None,
    threshold: float | None = None,
) -> Guard:
    """Return a guard to use as a context manager (``with`` or ``async with``).

    Entered around ``asyncio.run(...)``, it watches the loop that ``run`` creates; entered
    inside a coroutine, it watches the running loop from then on. On exit it collects
    garbage, so that coroutines and sessions dropped inside are reported, and switches off.

    Args:
        config: The configuration; ``GuardConfig()`` when not given.
        strict: Override ``config.strict``.
        threshold: Override ``config.threshold`` (seconds).

    Returns:
        The guard; read ``guard.findings``, ``guard.text()`` or ``guard.json()`` after exit.

    Raises:
        ValueError: A configuration value is out of range.
    """
    return Guard(_config_of(config, strict, threshold))


_installed: Guard | None = None


def install(
    config: GuardConfig | None = None,
    *,
    strict: bool | None = None,
    threshold: float | None = None,
    report_at_exit: bool = True,
) -> Guard:
    """Switch a guard on for the whole process, until :func:`uninstall` or exit.

    Args:
        config: The configuration; ``GuardConfig()`` when not given.
        strict: Override ``config.strict``.
        threshold: Override ``config.threshold`` (seconds).
        report_at_exit: Print the findings to standard error when the interpreter exits.

    Returns:
        The installed guard (the one already installed if called twice).

    Raises:
        ValueError: A configuration value is out of range.
    """
    global _installed
    if _installed is not None:
        return _installed
    guard = Guard(_config_of(config, strict, threshold)).start()
    _installed = guard
    if report_at_exit:
        atexit.register(_report_at_exit, guard)
    return guard


def uninstall() -> Guard | None:
    """Switch off the guard :func:`install` switched on; return it (``None`` if there was none)."""
    global _installed
    guard, _installed = _installed, None
    if guard is not None:
        atexit.unregister(_report_at_exit)
        guard.stop()
    return guard


def _report_at_exit(guard: Guard) -> None:
    global _installed
    if _installed is guard:
        _installed = None
    guard.stop()
    if guard.findings:
        print(guard.text(), file=sys.stderr)


atexit.register(HOOKS.shutdown)
