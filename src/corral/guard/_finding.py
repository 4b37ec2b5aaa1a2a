"""What the guard reports: a finding and the frames of its stack (reports: ``_report.py``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class FindingKind(enum.StrEnum):
    """The pitfalls the guard detects; the value is the name used in text and JSON."""

    STALL = "stall"
    BLOCKING_CALL = "blocking-call"
    UNAWAITED_COROUTINE = "unawaited-coroutine"
    UNRETRIEVED_EXCEPTION = "unretrieved-exception"
    PENDING_TASK = "pending-task"
    UNCLOSED_SESSION = "unclosed-session"


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One frame of a stack: where, and in which function."""

    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One pitfall seen while the guard was on.

    ``file``, ``line`` and ``function`` name the place in the user's code to look at: where the
    loop was blocked, where the blocking call was made, or where the object was created.
    ``stack`` lists the frames behind it, outermost first (like a traceback). ``task`` is the
    name of the asyncio task involved, ``duration`` the length of a stall in seconds, and
    ``test`` the pytest node id of the test that created the object (or in which it happened)
    when the pytest plugin is on.
    """

    kind: FindingKind
    message: str
    file: str | None = None
    line: int | None = None
    function: str | None = None
    task: str | None = None
    stack: tuple[Frame, ...] = ()
    duration: float | None = None
    test: str | None = None

    @property
    def location(self) -> str:
        """Return ``file:line`` (or ``<unknown>`` when the place is not known)."""
        if self.file is None:
            return "<unknown>"
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as plain JSON-ready data."""
        return {
            "kind": str(self.kind),
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "task": self.task,
            "stack": [{"file": f.file, "line": f.line, "function": f.function} for f in self.stack],
            "duration": self.duration,
            "test": self.test,
        }

    def format(self, *, stack: bool = True) -> str:
        """Return the finding as readable text: a headline, then its stack when asked."""
        return block(self, stack=stack)

    def __str__(self) -> str:
        return self.format(stack=False)


def block(finding: Finding, *, stack: bool, count: int = 1, task: bool = True) -> str:
    """Return the text of ``finding`` (standing for ``count`` alike; ``task``: name its task)."""
    where = finding.location + (f" in {finding.function}" if finding.function else "")
    if count > 1:
        where += f" ({count:,} times)"
    extras = [f"task {finding.task!r}"] if finding.task and task else []
    if finding.test:
        extras.append(f"test {finding.test}")
    tail = f" [{', '.join(extras)}]" if extras else ""
    lines = [f"{finding.kind}: {where}{tail}", f"    {finding.message}"]
    if stack and finding.stack:
        lines.append("    stack (most recent call last):")
        lines.extend(f"      {frame}" for frame in finding.stack)
    return "\n".join(lines)
