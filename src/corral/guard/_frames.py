"""Which frames are the user's code, and stacks turned into :class:`Frame` tuples.

A frame is "user code" unless its file lives in the standard library, in an installed
distribution (site-packages), in corral itself, or is frozen import machinery. The answer is
cached per file name: classification runs inside hooks that must stay cheap.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from collections.abc import Iterable, Iterator, Sequence
from types import CodeType, FrameType

from corral.guard._finding import Frame

# Coroutine, async generator and types.coroutine code: strict mode stops at these (see _strict).
ASYNC_CODE_FLAGS = 0x0080 | 0x0100 | 0x0200

_MAX_FRAMES = 40
_EVENTS_FILE = os.path.join("asyncio", "events.py")


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    roots.update(site.getsitepackages())
    user_site = site.getusersitepackages()
    if isinstance(user_site, str):
        roots.add(user_site)
    import corral

    roots.add(os.path.dirname(corral.__file__))
    return tuple(sorted({os.path.realpath(root) + os.sep for root in roots}))


class _Classifier:
    """Decide, once per file name, whether a file holds user code."""

    def __init__(self) -> None:
        self._roots: tuple[str, ...] | None = None
        self._cache: dict[str, bool] = {}

    def is_user_file(self, filename: str) -> bool:
        known = self._cache.get(filename)
        if known is None:
            known = self._cache[filename] = self._classify(filename)
        return known

    def _classify(self, filename: str) -> bool:
        if filename.startswith("<"):
            # "<string>", "<stdin>" and notebook cells are the user's; frozen modules are not.
            return not filename.startswith("<frozen")
        if self._roots is None:
            self._roots = _library_roots()
        path = os.path.realpath(filename)
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return not path.startswith(self._roots)


_classifier = _Classifier()
is_user_file = _classifier.is_user_file


def is_user_code(code: CodeType) -> bool:
    """Return whether ``code`` belongs to the user's program."""
    return is_user_file(code.co_filename)


def walk(frame: FrameType | None, limit: int = _MAX_FRAMES) -> list[FrameType]:
    """Return ``frame`` and its callers, innermost first, at most ``limit`` of them."""
    frames: list[FrameType] = []
    while frame is not None and len(frames) < limit:
        frames.append(frame)
        frame = frame.f_back
    return frames


def to_frame(frame: FrameType) -> Frame:
    """Return the :class:`Frame` record of a live frame."""
    code = frame.f_code
    return Frame(file=code.co_filename, line=frame.f_lineno or 0, function=code.co_qualname)


def stack_of(frames: Iterable[FrameType]) -> tuple[Frame, ...]:
    """Return records of ``frames`` (innermost first) as a stack, outermost first, trimmed."""
    return trim(tuple(reversed([to_frame(frame) for frame in frames])))


def trim(stack: tuple[Frame, ...]) -> tuple[Frame, ...]:
    """Drop the event loop's own frames: keep what runs inside the current callback."""
    for index in range(len(stack) - 1, -1, -1):
        frame = stack[index]
        # faulthandler dumps name functions without their class: "_run", not "Handle._run".
        if frame.function.endswith("_run") and frame.file.endswith(_EVENTS_FILE):
            return stack[index + 1 :]
    return stack


def from_origin(origin: Sequence[tuple[str, int, str]]) -> tuple[Frame, ...]:
    """Return a coroutine's ``cr_origin`` (innermost first) as a stack, outermost first."""
    return trim(tuple(Frame(file=f, line=n, function=fn) for f, n, fn in reversed(origin)))


def innermost_user(stack: Sequence[Frame]) -> Frame | None:
    """Return the innermost user frame of a stack given outermost first, if any."""
    for frame in reversed(stack):
        if is_user_file(frame.file):
            return frame
    return None


def user_frames(frames: Iterable[FrameType]) -> Iterator[FrameType]:
    """Yield the frames of user code among ``frames``, in the given order."""
    return (frame for frame in frames if is_user_code(frame.f_code))


def is_import_machinery(frame: Frame) -> bool:
    """Return whether a frame belongs to the import system (imports are not blamed)."""
    return frame.file.startswith("<frozen importlib")


def thread_frame(thread_id: int) -> FrameType | None:
    """Return the current frame of a thread, read from another thread."""
    return sys._current_frames().get(thread_id)
