"""Support for the guard's tests: run ``corral run`` on a script in a subprocess."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Run:
    """What a ``corral run`` subprocess did."""

    exit_code: int
    stdout: str
    stderr: str
    findings: list[dict[str, Any]]
    script: Path
    source: str

    def kinds(self) -> list[str]:
        """Return the kinds of the findings, in order."""
        return [f["kind"] for f in self.findings]

    def only(self, kind: str) -> dict[str, Any]:
        """Return the one finding of ``kind``; fail if there is not exactly one."""
        found = [f for f in self.findings if f["kind"] == kind]
        assert len(found) == 1, (kind, self.findings, self.stderr)
        return found[0]

    def line_of(self, marker: str) -> int:
        """Return the 1-based line of the script that contains ``marker``."""
        for number, line in enumerate(self.source.splitlines(), start=1):
            if marker in line:
                return number
        raise AssertionError(f"{marker!r} not in {self.script}")


RunScript = Callable[..., Awaitable[Run]]


async def run_corral(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run ``python -m corral ARGS`` in ``cwd``; return exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "corral",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
