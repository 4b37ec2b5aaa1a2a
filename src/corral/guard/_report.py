"""The guard's reports, as text and JSON: repeated findings grouped, each group with its count.

A script that leaks 1,000 sessions from one line makes 1,000 findings alike; a report that
printed each one (4,000 lines) hid everything else (issue 12). Findings of one kind at one
place (file, line, function, and test under pytest) whose messages differ at most in figures
(a stall's duration, a number in an exception) are one group, shown once, as its first
finding, with how many there were. Two coroutines made on one line and never awaited have
different messages, so they stay two groups. ``Guard.findings`` keeps every finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from corral.guard._finding import Finding, block

_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(slots=True)
class FindingGroup:
    """Findings alike: the first one, how many there were, and whether they share a task."""

    first: Finding
    count: int = 1
    tasks: set[str | None] = field(default_factory=set)

    def format(self, *, stack: bool = True) -> str:
        """Return the group as text: the first finding's block, with the count."""
        return block(self.first, stack=stack, count=self.count, task=len(self.tasks) <= 1)

    def to_dict(self) -> dict[str, object]:
        """Return the first finding's JSON-ready data, with ``count``."""
        return {**self.first.to_dict(), "count": self.count}


def group_findings(findings: Iterable[Finding]) -> list[FindingGroup]:
    """Return the groups of ``findings``, in the order of each group's first finding."""
    groups: dict[tuple[object, ...], FindingGroup] = {}
    for finding in findings:
        key = (
            finding.kind,
            finding.file,
            finding.line,
            finding.function,
            finding.test,
            _FIGURE.sub("#", finding.message),
        )
        group = groups.get(key)
        if group is None:
            group = groups[key] = FindingGroup(finding)
        else:
            group.count += 1
        group.tasks.add(finding.task)
    return list(groups.values())


def format_text(findings: Iterable[Finding], *, stack: bool = True) -> str:
    """Return a text report of ``findings``: a count, then one block per group of alike ones.

    Args:
        findings: The findings to report.
        stack: Include each group's stack (its first finding's).

    Returns:
        The report, ending without a newline; ``"corral guard: no findings"`` when empty.
    """
    items = list(findings)
    if not items:
        return "corral guard: no findings"
    groups = group_findings(items)
    noun = "finding" if len(items) == 1 else "findings"
    head = f"corral guard: {len(items):,} {noun}"
    if len(groups) < len(items):
        head += f" ({len(groups):,} distinct)"
    return "\n".join([head, *(group.format(stack=stack) for group in groups)])


def format_json(findings: Iterable[Finding], *, indent: int | None = 2) -> str:
    """Return ``findings`` as a JSON document: ``{"findings": [...]}``, one entry per group.

    Each entry is the group's first finding (``Finding.to_dict()``) with ``count``.

    Args:
        findings: The findings to report.
        indent: Passed to :func:`json.dumps`; ``None`` gives one line.

    Returns:
        The JSON text.
    """
    groups = group_findings(findings)
    return json.dumps({"findings": [group.to_dict() for group in groups]}, indent=indent)
