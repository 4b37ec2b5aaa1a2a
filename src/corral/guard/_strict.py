"""Strict mode: blocking calls on the event loop's thread, reported where the user made them.

Mechanism: one ``sys.addaudithook`` hook. CPython raises audit events from the C code of the
calls that matter (``time.sleep``, ``open``, ``socket.connect``, ``sqlite3.connect``,
``subprocess.Popen``, ...), so the hook sees them whoever calls them, without patching any
module. An audit hook cannot be removed, so it is added once and does nothing unless a guard
in strict mode is on and the current thread is running a watched loop.

For an event on a loop thread the hook walks the stack outward to the innermost user frame.
It lets the call through when an allowlisted module is on the way (logging, imports, the
guard itself, see ``ALLOWED``), when a coroutine frame is on the way (an async library doing
its own IO is that library's business; the stall watchdog still sees it if it is long), or when
no user frame is found. Otherwise the frame just inside the user's names the API the user
called (``requests.get``), the finding is recorded out of band, and ``BlockingCallError`` is
raised at the call, so an ``except Exception:`` around it cannot hide the finding.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from types import CodeType, FrameType
from typing import Protocol, SupportsIndex

from corral.guard._apiname import public_name
from corral.guard._exceptions import BlockingCallError
from corral.guard._finding import Finding, FindingKind
from corral.guard._frames import ASYNC_CODE_FLAGS, is_user_code, stack_of, walk

# Audit event -> the API named when the user called it directly (no Python frame between).
EVENTS: dict[str, str] = {
    "time.sleep": "time.sleep",
    "builtins.input": "input",
    "open": "open",
    "os.listdir": "os.listdir",
    "os.scandir": "os.scandir",
    "os.remove": "os.remove",
    "os.rename": "os.rename",
    "os.mkdir": "os.mkdir",
    "os.rmdir": "os.rmdir",
    "os.truncate": "os.truncate",
    "os.link": "os.link",
    "os.symlink": "os.symlink",
    "os.chmod": "os.chmod",
    "os.chown": "os.chown",
    "os.utime": "os.utime",
    "shutil.copyfile": "shutil.copyfile",
    "shutil.copytree": "shutil.copytree",
    "shutil.rmtree": "shutil.rmtree",
    "shutil.move": "shutil.move",
    "shutil.make_archive": "shutil.make_archive",
    "shutil.unpack_archive": "shutil.unpack_archive",
    "glob.glob": "glob.glob",
    "tempfile.mkstemp": "tempfile.mkstemp",
    "tempfile.mkdtemp": "tempfile.mkdtemp",
    "socket.connect": "socket.socket.connect",
    "socket.sendto": "socket.socket.sendto",
    "socket.sendmsg": "socket.socket.sendmsg",
    "socket.getaddrinfo": "socket.getaddrinfo",
    "socket.gethostbyname": "socket.gethostbyname",
    "socket.gethostbyname_ex": "socket.gethostbyname_ex",
    "socket.gethostbyaddr": "socket.gethostbyaddr",
    "socket.getnameinfo": "socket.getnameinfo",
    "urllib.Request": "urllib.request.urlopen",
    "http.client.connect": "http.client.HTTPConnection.connect",
    "ftplib.connect": "ftplib.FTP.connect",
    "smtplib.connect": "smtplib.SMTP.connect",
    "poplib.connect": "poplib.POP3",
    "imaplib.open": "imaplib.IMAP4.open",
    "nntplib.connect": "nntplib.NNTP",
    "sqlite3.connect": "sqlite3.connect",
    "subprocess.Popen": "subprocess.Popen",
    "os.system": "os.system",
    "os.posix_spawn": "os.posix_spawn",
    "os.spawn": "os.spawn",
    "os.exec": "os.exec",
    "os.fork": "os.fork",
    "os.forkpty": "os.forkpty",
    "webbrowser.open": "webbrowser.open",
}

# Socket events that block only when the socket does (asyncio's own sockets do not).
_SOCKET_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})

# Modules whose blocking calls are expected and short: logging handlers, the import system
# and its caches (linecache, tokenize, zipimport, encodings), warning and traceback printing,
# one-time system tables (mimetypes, locale), the debugger, and the guard itself.
ALLOWED: tuple[str, ...] = (
    "logging",
    "importlib",
    "zipimport",
    "pkgutil",
    "encodings",
    "linecache",
    "tokenize",
    "traceback",
    "warnings",
    "inspect",
    "mimetypes",
    "locale",
    "gettext",
    "bdb",
    "pdb",
    "faulthandler",
    "corral.guard",
)


class StrictGate(Protocol):
    """What the hook asks the guard."""

    def strict_allow(self) -> tuple[str, ...] | None:
        """Return the extra allowlist when strict mode is on, else ``None``."""

    def loop_on_thread(self, thread_id: int) -> object | None:
        """Return the watched loop running on ``thread_id``, if any."""

    def blocking_call(self, finding: Finding) -> Finding:
        """Record a strict-mode finding; return it as recorded."""

    def task_name(self, loop: object) -> str | None:
        """Return the name of the task ``loop`` is running."""


_gate: StrictGate | None = None
_installed = False
_busy = threading.local()
_WRAPPERS: set[CodeType] = set()


def set_gate(gate: StrictGate | None) -> None:
    """Add the audit hook (once) and route it to ``gate`` (``None``: let everything through)."""
    global _gate, _installed
    _gate = gate
    if not _installed:
        _installed = True
        sys.addaudithook(_hook)
        if sys.version_info < (3, 12):
            _audit_sleep()


def _audit_sleep() -> None:
    # Python 3.11 raises no audit event for time.sleep (3.12 does). Wrap it to raise one;
    # this sees calls made through ``time.sleep`` and through names imported after this point.
    original = time.sleep

    def sleep(seconds: float | SupportsIndex, /) -> None:
        __tracebackhide__ = True  # pytest: the user's call is the place to show
        sys.audit("time.sleep", seconds)
        original(seconds)

    sleep.__wrapped__ = original  # type: ignore[attr-defined]
    _WRAPPERS.add(sleep.__code__)
    time.sleep = sleep


def _hook(event: str, args: tuple[object, ...]) -> None:
    __tracebackhide__ = True  # pytest: the user's call is the place to show
    if event not in EVENTS:
        return
    gate = _gate
    if gate is None or getattr(_busy, "on", False):
        return
    allow = gate.strict_allow()
    if allow is None:
        return
    loop = gate.loop_on_thread(threading.get_ident())
    if loop is None or not _blocks(event, args):
        return
    _busy.on = True
    try:
        caller = sys._getframe(1)
        if caller.f_code in _WRAPPERS and caller.f_back is not None:
            caller = caller.f_back
        finding = _inspect(event, _direct_name(event, args), walk(caller), ALLOWED + allow)
        if finding is None:
            return
        finding = _with_task(finding, gate.task_name(loop))
        finding = gate.blocking_call(finding)
    finally:
        _busy.on = False
    raise BlockingCallError(finding.message, finding=finding)


def _blocks(event: str, args: tuple[object, ...]) -> bool:
    if event in _SOCKET_EVENTS:
        gettimeout = getattr(args[0], "gettimeout", None)
        return gettimeout is None or gettimeout() != 0.0
    if event == "time.sleep":
        seconds = args[0] if args else 0
        return not isinstance(seconds, int | float) or seconds > 0
    if event == "open":
        return not isinstance(args[0], int)  # wrapping a descriptor does no IO
    return True


def _direct_name(event: str, args: tuple[object, ...]) -> str:
    if event == "open" and len(args) > 1 and args[1] is None:
        return "os.open"  # os.open passes no mode; the builtin open passes one
    return EVENTS[event]


def _allowed(frame: FrameType, allow: tuple[str, ...]) -> bool:
    if frame.f_code.co_filename.startswith("<frozen importlib"):
        return True
    module = frame.f_globals.get("__name__")
    if not isinstance(module, str):
        return False
    return any(module == name or module.startswith(name + ".") for name in allow)


def _inspect(
    event: str, direct: str, frames: Sequence[FrameType], allow: tuple[str, ...]
) -> Finding | None:
    """Return the finding for an event seen with ``frames`` (innermost first), or ``None``."""
    for index, frame in enumerate(frames):
        if _allowed(frame, allow):
            return None
        if is_user_code(frame.f_code):
            callee = frames[index - 1] if index > 0 else None
            api = public_name(callee) if callee is not None else direct
            return _finding(event, api, frames, index)
        if frame.f_code.co_flags & ASYNC_CODE_FLAGS:
            return None
    return None


def _finding(event: str, api: str, frames: Sequence[FrameType], index: int) -> Finding:
    user = frames[index]
    via = "" if api in (EVENTS[event], "os.open") else f" ({event})"
    code = user.f_code
    message = (
        f"blocking call {api}(){via} on the event loop's thread; "
        "run it in a thread (asyncio.to_thread) or use an async API"
    )
    return Finding(
        kind=FindingKind.BLOCKING_CALL,
        message=message,
        file=code.co_filename,
        line=user.f_lineno or 0,
        function=code.co_qualname,
        stack=stack_of(frames[index:]),
    )


def _with_task(finding: Finding, task: str | None) -> Finding:
    return replace(finding, task=task) if task else finding
