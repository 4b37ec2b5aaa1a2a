"""What the guard reports: a finding, the frames of its stack, and its text and JSON forms."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
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
        where = self.location + (f" in {self.function}" if self.function else "")
        extras = [f"task {self.task!r}"] if self.task else []
        if self.test:
            extras.append(f"test {self.test}")
        tail = f" [{', '.join(extras)}]" if extras else ""
        lines = [f"{self.kind}: {where}{tail}", f"    {self.message}"]
        if stack and self.stack:
            lines.append("    stack (most recent call last):")
            lines.extend(f"      {frame}" for frame in self.stack)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format(stack=False)


def format_text(findings: Iterable[Finding], *, stack: bool = True) -> str:
    """Return a text report of ``findings``: a count, then one block per finding.

    Args:
        findings: The findings to report.
        stack: Include each finding's stack.

    Returns:
        The report, ending without a newline; ``"corral guard: no findings"`` when empty.
    """
    items = list(findings)
    if not items:
        return "corral guard: no findings"
    noun = "finding" if len(items) == 1 else "findings"
    blocks = [f"corral guard: {len(items)} {noun}"]
    blocks.extend(finding.format(stack=stack) for finding in items)
    return "\n".join(blocks)


def format_json(findings: Iterable[Finding], *, indent: int | None = 2) -> str:
    """Return ``findings`` as a JSON document: ``{"findings": [...]}``.

    Args:
        findings: The findings to report.
        indent: Passed to :func:`json.dumps`; ``None`` gives one line.

    Returns:
        The JSON text.
    """
    return json.dumps({"findings": [f.to_dict() for f in findings]}, indent=indent)
