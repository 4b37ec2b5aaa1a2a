"""Repeated findings are grouped: one block (or JSON entry) per kind and place, with a count.

A script that leaks 1,000 sessions from one line made 1,000 identical findings, 4,000 lines of
report. Findings of one kind at one place (file, line, function, test) whose messages differ
at most in figures (a stall's duration) are one group, reported once with its count; findings
at other places, or with other messages (two coroutines made on one line), stay apart.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from corral.guard import Finding, FindingKind, Frame, format_json, format_text
from guard.support import RunScript, run_corral
from guard.test_pytest_plugin import INI

LEAKY = """
import asyncio
import aiohttp

async def make():
    return aiohttp.ClientSession()  # LEAK

async def main():
    sessions = [await make() for _ in range(1000)]
    del sessions

asyncio.run(main())
"""


def _finding(line: int, message: str, *, task: str | None = None) -> Finding:
    return Finding(
        kind=FindingKind.UNAWAITED_COROUTINE,
        message=message,
        file="app.py",
        line=line,
        function="main",
        task=task,
        stack=(Frame(file="app.py", line=line, function="main"),),
    )


async def test_a_thousand_leaks_from_one_line_are_one_finding(run_script: RunScript) -> None:
    """`corral run --json`: one entry for the line, with its count of 1,000."""
    run = await run_script(LEAKY, "--threshold", "60000")  # (no stall on a loaded machine)
    (leak,) = run.findings
    assert leak["kind"] == "unclosed-session"
    assert leak["line"] == run.line_of("# LEAK")
    assert leak["count"] == 1000


async def test_the_text_report_of_a_thousand_leaks_is_one_block(tmp_path: Path) -> None:
    """`corral run` (text): the headline gives the total and the one block says 1,000 times."""
    script = tmp_path / "leaky.py"
    await asyncio.to_thread(script.write_text, LEAKY)
    code, out, err = await run_corral("run", "--threshold", "60000", str(script), cwd=tmp_path)
    assert (code, out) == (0, "")
    lines = err.splitlines()
    line = next(n for n, text in enumerate(LEAKY.splitlines(), 1) if "# LEAK" in text)
    assert lines[:2] == [
        "corral guard: 1,000 findings (1 distinct)",
        f"unclosed-session: {script}:{line} in make (1,000 times)",
    ]
    assert len(lines) < 10


def test_groups_by_kind_and_place_and_keep_distinct_messages_apart() -> None:
    """Same place, messages differing in figures: one group. Another line or another
    coroutine's name: another group. Groups come in order of their first finding."""
    findings = [
        _finding(4, "coroutine 'save' was created but never awaited", task="Task-1"),
        _finding(4, "coroutine 'load' was created but never awaited"),
        _finding(4, "coroutine 'save' was created but never awaited", task="Task-2"),
        _finding(9, "coroutine 'save' was created but never awaited"),
    ]
    data = json.loads(format_json(findings))["findings"]
    assert [(d["line"], d["message"].split("'")[1], d["count"]) for d in data] == [
        (4, "save", 2),
        (4, "load", 1),
        (9, "save", 1),
    ]
    assert data[0] == {**findings[0].to_dict(), "count": 2}
    text = format_text(findings, stack=False).splitlines()
    assert text == [
        "corral guard: 4 findings (3 distinct)",
        "unawaited-coroutine: app.py:4 in main (2 times)",
        "    coroutine 'save' was created but never awaited",
        "unawaited-coroutine: app.py:4 in main",
        "    coroutine 'load' was created but never awaited",
        "unawaited-coroutine: app.py:9 in main",
        "    coroutine 'save' was created but never awaited",
    ]


def test_repeated_stalls_at_one_line_are_grouped() -> None:
    """Stalls at one line whose durations differ are one group; its task is shown only when
    every finding in it has the same one."""
    stalls = [
        Finding(
            kind=FindingKind.STALL,
            message=f"the event loop was blocked for {seconds:.2f} s; 3 of 3 samples here",
            file="app.py",
            line=12,
            function="fetch",
            task=f"Task-{n}",
            duration=seconds,
        )
        for n, seconds in enumerate((0.21, 0.35, 1.02))
    ]
    text = format_text(stalls, stack=False).splitlines()
    assert text[:3] == [
        "corral guard: 3 findings (1 distinct)",
        "stall: app.py:12 in fetch (3 times)",
        "    the event loop was blocked for 0.21 s; 3 of 3 samples here",
    ]
    same_task = [
        Finding(kind=s.kind, message=s.message, file=s.file, line=s.line, task="w") for s in stalls
    ]
    assert format_text(same_task).splitlines()[1] == "stall: app.py:12 (3 times) [task 'w']"


def test_one_finding_reads_as_before() -> None:
    """A single finding keeps its block, and its JSON entry has a count of 1."""
    finding = _finding(4, "coroutine 'save' was created but never awaited", task="Task-1")
    assert format_text([finding]).splitlines()[:2] == [
        "corral guard: 1 finding",
        "unawaited-coroutine: app.py:4 in main [task 'Task-1']",
    ]
    assert json.loads(format_json([finding]))["findings"] == [{**finding.to_dict(), "count": 1}]


async def test_the_pytest_plugin_reports_a_repeated_finding_once(
    pytester: pytest.Pytester,
) -> None:
    """A test that leaks 50 sessions from one line fails with one block saying 50 times."""
    pytester.makeini(INI)
    source = """
        import aiohttp

        async def test_leaks():
            for _ in range(50):
                aiohttp.ClientSession()  # LEAK
        """
    pytester.makepyfile(test_leaky=source)
    line = next(n for n, text in enumerate(source.strip().splitlines(), 1) if "# LEAK" in text)
    result = await asyncio.to_thread(
        pytester.runpytest_subprocess, "-p", "no:cacheprovider", "--corral-guard"
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "corral guard: 50 findings in call" in output
    # Counted in the failure's own block: pytest's short summary repeats the message in full
    # when it runs under CI (the CI variable set), and only its first line elsewhere.
    failures = output.split("short test summary info")[0]
    assert failures.count("unclosed-session: ") == 1, output
    headline = f"unclosed-session: *test_leaky.py:{line} in test_leaks (50 times) *"
    result.stdout.fnmatch_lines([headline])
