"""One stall of the event loop: the stack samples taken while it lasted, and its finding."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from corral.guard._apiname import public_name
from corral.guard._finding import Finding, FindingKind, Frame
from corral.guard._frames import (
    innermost_user,
    is_import_machinery,
    is_user_code,
    stack_of,
    thread_frame,
    trim,
    walk,
)


@dataclass(frozen=True, slots=True)
class Sample:
    """The loop thread's stack at one moment of a stall, and where it points."""

    stack: tuple[Frame, ...]
    blame: Frame
    user: bool
    task: str | None = None
    callee: str | None = None
    via_faulthandler: bool = False


def _idle(stack: tuple[Frame, ...]) -> bool:
    # Waiting in the selector means the loop itself is free: a late ping then comes from a
    # thread holding the GIL elsewhere, not from the loop's code.
    if not stack:  # in Handle._run itself, between callbacks: nothing runs to blame
        return True
    inner = stack[-1]
    return inner.function.endswith("select") and inner.file.endswith("selectors.py")


def _task_name(loop: asyncio.AbstractEventLoop) -> str | None:
    try:
        task = asyncio.current_task(loop)
    except RuntimeError:
        return None
    return task.get_name() if task is not None else None


def sample_live(thread_id: int, loop: asyncio.AbstractEventLoop) -> Sample | None:
    """Return a sample of the loop thread's stack, or ``None`` when it is not to be blamed."""
    frames = walk(thread_frame(thread_id))  # innermost first
    if not frames:
        return None
    stack = stack_of(frames)
    if _idle(stack) or any(is_import_machinery(frame) for frame in stack):
        return None
    callee: str | None = None
    for index, frame in enumerate(frames):
        if is_user_code(frame.f_code):
            if index > 0:
                callee = public_name(frames[index - 1])
            return Sample(stack, stack[-1 - index], True, _task_name(loop), callee)
    return Sample(stack, stack[-1], False, _task_name(loop))


def sample_dump(stack: tuple[Frame, ...]) -> Sample | None:
    """Return a sample from a faulthandler dump of the loop thread's stack."""
    if not stack or _idle(stack) or any(is_import_machinery(frame) for frame in stack):
        return None
    stack = trim(stack)
    if not stack:
        return None
    user = innermost_user(stack)
    return Sample(stack, user or stack[-1], user is not None, via_faulthandler=True)


@dataclass(slots=True)
class Stall:
    """A ping that is late past the threshold, from detection until the loop answers."""

    started: float
    samples: list[Sample] = field(default_factory=list)
    starved: bool = False
    last_sample_at: float = 0.0
    reported: Finding | None = None
    # the loop thread's wait for a CPU (``_runqueue``) when it began; None: not known
    waited_at_start: float | None = None

    def finding(self, duration: float, ongoing: bool) -> Finding | None:
        """Return the stall's finding, blaming the place seen most often; ``None`` if none."""
        if not self.samples:
            return None
        counts = Counter((s.blame.file, s.blame.line) for s in self.samples)
        top = max(counts.values())
        chosen = next(s for s in self.samples if counts[(s.blame.file, s.blame.line)] == top)
        return Finding(
            kind=FindingKind.STALL,
            message=self._message(chosen, duration, ongoing, top),
            file=chosen.blame.file,
            line=chosen.blame.line,
            function=chosen.blame.function,
            task=chosen.task or next((s.task for s in self.samples if s.task), None),
            stack=chosen.stack,
            duration=round(duration, 4),
        )

    def _message(self, chosen: Sample, duration: float, ongoing: bool, hits: int) -> str:
        verb = "has been blocked" if ongoing else "was blocked"
        text = f"the event loop {verb} for {duration:.2f} s"
        if chosen.callee:
            text += f" in a call to {chosen.callee}"
        if not chosen.user:
            text += " (no user code on the stack)"
        if len(self.samples) > 1:
            text += f"; {hits} of {len(self.samples)} samples here"
        if chosen.via_faulthandler:
            text += "; the GIL was held (a native call?): stack taken by faulthandler"
        elif self.starved:
            text += (
                "; the watchdog could not run meanwhile (the GIL was held): this is where"
                " the loop was when it could look"
            )
        return text
