"""Fixtures for the guard's tests."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest

from guard.support import Run, RunScript, run_corral


@pytest.fixture
def run_script(tmp_path: Path) -> RunScript:
    """Return ``run(source, *flags, name=...)``: write a script and ``corral run`` it as JSON."""

    async def run(
        source: str, *flags: str, name: str = "script.py", args: tuple[str, ...] = ()
    ) -> Run:
        script = tmp_path / name
        report = tmp_path / f"{name}.json"
        source = textwrap.dedent(source)
        await asyncio.to_thread(script.write_text, source)
        code, out, err = await run_corral(
            "run", "--json", "--report", str(report), *flags, str(script), *args, cwd=tmp_path
        )
        text = await asyncio.to_thread(report.read_text)
        return Run(code, out, err, json.loads(text)["findings"], script, source)

    return run
