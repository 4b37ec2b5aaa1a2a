"""Running the real ``corral`` command from a test (a helper module, imported as
``from corral_cli import ...``: pytest puts tests/http on sys.path to collect its tests)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import corral

COMMAND = [sys.executable, "-m", "corral"]
ENV = {**os.environ, "PYTHONWARNINGS": "error"}  # a warning in the command fails the test


def run_corral(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m corral ARGS`` to its end and return what it did (``env``: variables
    set for it beside the test's)."""
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**ENV, **(env or {})},
    )


async def acorral(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command to its end in a thread, the test's loop serving its sites meanwhile."""
    return await corral.to_thread(lambda: run_corral(*args, env=env))


def children(parent: int, module: str) -> list[int]:
    """Return the processes of ``parent`` running ``python -m module`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == parent and module in (entry / "cmdline").read_text():
                found.append(int(entry.name))
    return found
