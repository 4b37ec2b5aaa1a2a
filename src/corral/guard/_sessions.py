"""aiohttp ``ClientSession`` objects never closed, reported with the place they were created.

aiohttp's own "Unclosed client session" says nothing about which session. The guard wraps
``ClientSession.__init__`` (to note the creation stack on the instance) and ``__del__`` (to
report a session destroyed while open), and checks the sessions still open when their loop
closes. aiohttp is never imported by the guard: if it is not loaded yet, a meta-path finder
patches ``aiohttp.client`` right after it is first imported.

A reported session's own warning and its connector's ("Unclosed connector") are silenced: under
``filterwarnings = error`` they would fail whichever test the garbage collector ran in.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from corral.guard._finding import Finding, FindingKind, Frame
from corral.guard._frames import innermost_user, stack_of, walk

_ORIGIN = "_corral_guard_origin"
_OWNED = "_corral_guard_owned"


@dataclass(frozen=True, slots=True)
class SessionOrigin:
    """Where and under which test a session was created, and on which loop."""

    stack: tuple[Frame, ...]
    test: str | None
    loop: weakref.ref[Any] | None
    reported: list[bool]


class SessionSink(Protocol):
    """What the session hooks ask the guard and tell it."""

    def session_watch(self) -> tuple[str | None] | None:
        """Return ``(current test,)`` when sessions are watched, else ``None``."""

    def session_leaked(self, finding: Finding) -> None:
        """Record a session never closed."""


_sink: SessionSink | None = None
_live: weakref.WeakSet[Any] = weakref.WeakSet()
_patched = False


class _Silent:
    @staticmethod
    def warn(*args: object, **kwargs: object) -> None:
        """Drop a warning already reported as a finding."""


def set_sink(sink: SessionSink | None) -> None:
    """Route session events to ``sink``; patch aiohttp now or when it is first imported."""
    global _sink
    _sink = sink
    if sink is None or _patched:
        return
    module = sys.modules.get("aiohttp.client")
    if module is not None:
        _patch(module)
    elif not any(isinstance(finder, _ImportWatcher) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ImportWatcher())


class _ImportWatcher(importlib.abc.MetaPathFinder):
    """Patch ``aiohttp.client`` right after its module body has run."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "aiohttp.client":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return None
        exec_module = loader.exec_module

        def exec_then_patch(module: ModuleType) -> None:
            exec_module(module)
            _patch(module)

        loader.exec_module = exec_then_patch  # type: ignore[method-assign]
        sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
        return spec


def _patch(client: ModuleType) -> None:
    global _patched
    if _patched:
        return
    _patched = True
    session_cls = client.ClientSession
    connector_cls = sys.modules["aiohttp.connector"].BaseConnector
    session_cls.__init__ = _wrap_init(session_cls.__init__)
    session_cls.__del__ = _wrap_session_del(session_cls.__del__)
    connector_cls.__del__ = _wrap_connector_del(connector_cls.__del__)


def _wrap_init(original: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        sink = _sink
        watch = sink.session_watch() if sink is not None else None
        if watch is None:
            return
        loop = getattr(self, "_loop", None)
        origin = SessionOrigin(
            stack=stack_of(walk(sys._getframe(1))),
            test=watch[0],
            loop=weakref.ref(loop) if loop is not None else None,
            reported=[False],
        )
        # object.__setattr__: aiohttp's debug-mode __setattr__ warns about unknown attributes.
        object.__setattr__(self, _ORIGIN, origin)
        connector = getattr(self, "_connector", None)
        if connector is not None and getattr(self, "_connector_owner", False):
            object.__setattr__(connector, _OWNED, True)
        _live.add(self)

    __init__.__wrapped__ = original  # type: ignore[attr-defined]
    return __init__


def _wrap_session_del(original: Callable[..., None]) -> Callable[..., None]:
    def __del__(self: Any, *args: Any, **kwargs: Any) -> None:
        origin = getattr(self, _ORIGIN, None)
        sink = _sink
        if origin is None or sink is None or self.closed:
            original(self, *args, **kwargs)
            return
        if not origin.reported[0]:
            origin.reported[0] = True
            sink.session_leaked(leak_finding(origin, "was destroyed without being closed"))

    return __del__


def _wrap_connector_del(original: Callable[..., None]) -> Callable[..., None]:
    def __del__(self: Any, *args: Any, **kwargs: Any) -> None:
        if getattr(self, _OWNED, False) and _sink is not None:
            try:
                original(self, _warnings=_Silent)  # aiohttp takes the module as a parameter
                return
            except TypeError:
                pass
        original(self, *args, **kwargs)

    return __del__


def leak_finding(origin: SessionOrigin, what: str) -> Finding:
    """Return the finding for a session never closed."""
    place = innermost_user(origin.stack)
    return Finding(
        kind=FindingKind.UNCLOSED_SESSION,
        message=f"aiohttp.ClientSession {what}; use `async with aiohttp.ClientSession() as s:`",
        file=place.file if place else None,
        line=place.line if place else None,
        function=place.function if place else None,
        stack=origin.stack,
        test=origin.test,
    )


def open_sessions(loop: Any) -> list[Finding]:
    """Return a finding for each watched session still open on ``loop`` as it closes."""
    findings = []
    for session in list(_live):
        origin: SessionOrigin | None = getattr(session, _ORIGIN, None)
        if origin is None or origin.reported[0] or session.closed:
            continue
        if origin.loop is not None and origin.loop() is not loop:
            continue
        origin.reported[0] = True
        findings.append(leak_finding(origin, "was still open when its event loop closed"))
    return findings


def is_guarded_context(context: dict[str, Any]) -> bool:
    """Return whether a handler context is about a session or connector already reported."""
    session = context.get("client_session")
    if session is not None and getattr(session, _ORIGIN, None) is not None:
        return True
    connector = context.get("connector")
    return connector is not None and getattr(connector, _OWNED, False)
