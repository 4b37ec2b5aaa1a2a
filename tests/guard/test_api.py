"""The Python API: watch(), install(), GuardConfig, Finding as objects, text and JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

import corral.guard
from corral.guard import Finding, FindingKind, Frame, GuardConfig, format_json, format_text, watch
from guard.support import run_corral


async def _fetch() -> int:
    return 1


def test_guard_exports_claim_the_public_module() -> None:
    """``corral.guard.__all__`` is sorted and its classes and functions say ``corral.guard``."""
    assert corral.guard.__all__ == sorted(corral.guard.__all__)
    for name in corral.guard.__all__:
        assert getattr(corral.guard, name).__module__ == "corral.guard", name


async def test_watch_inside_a_coroutine_captures_an_unawaited_coroutine() -> None:
    """``async with watch()`` records a dropped coroutine with its creation line, as an object."""
    async with watch() as guard:
        _fetch()  # type: ignore[unused-coroutine]  # CREATED  # noqa: COR102 - on purpose
    (finding,) = guard.findings
    assert finding.kind is FindingKind.UNAWAITED_COROUTINE
    assert (finding.file, finding.function) == (
        __file__,
        "test_watch_inside_a_coroutine_captures_an_unawaited_coroutine",
    )
    assert not guard.active


async def test_nested_guards_give_findings_to_the_innermost() -> None:
    """Guards nest like ``catch_warnings``: the inner one gets the findings, the outer none."""
    async with watch() as outer:
        async with watch() as inner:
            _fetch()  # type: ignore[unused-coroutine]  # noqa: COR102 - on purpose
        assert len(inner.findings) == 1
    assert outer.findings == ()


async def test_watch_strict_raises_and_records() -> None:
    """Inside ``watch(strict=True)`` a blocking call raises and is recorded anyway."""
    import time

    async with watch(strict=True) as guard:
        with pytest.raises(corral.guard.BlockingCallError) as caught:
            time.sleep(0.001)  # noqa: ASYNC251  (the blocking call under test)
    assert guard.findings == (caught.value.finding,)
    assert guard.findings[0].kind is FindingKind.BLOCKING_CALL


def test_finding_as_text_and_json() -> None:
    """A finding renders as a readable block and as JSON with every field."""
    finding = Finding(
        kind=FindingKind.STALL,
        message="the event loop was blocked for 0.50 s",
        file="app.py",
        line=12,
        function="fetch",
        task="Task-2",
        stack=(
            Frame(file="app.py", line=20, function="main"),
            Frame(file="app.py", line=12, function="fetch"),
        ),
        duration=0.5,
    )
    text = format_text([finding])
    assert text.splitlines()[:2] == [
        "corral guard: 1 finding",
        "stall: app.py:12 in fetch [task 'Task-2']",
    ]
    assert "      app.py:20 in main" in text
    data = json.loads(format_json([finding]))["findings"][0]
    assert data == {**finding.to_dict(), "count": 1}
    assert data["kind"] == "stall"
    assert data["stack"][0] == {"file": "app.py", "line": 20, "function": "main"}
    assert format_text([]) == "corral guard: no findings"


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"threshold": 0}, id="zero-threshold"),
        pytest.param({"sample_interval": -1.0}, id="negative-sampling"),
        pytest.param({"origin_depth": -1}, id="negative-depth"),
    ],
)
def test_config_rejects_values_out_of_range(options: dict[str, float]) -> None:
    """A bad configuration value raises ``ValueError`` naming the field."""
    with pytest.raises(ValueError, match=next(iter(options))):
        GuardConfig(**options)  # type: ignore[arg-type]


def test_config_is_frozen() -> None:
    """``GuardConfig`` cannot be changed after creation."""
    config = GuardConfig()
    with pytest.raises(AttributeError):
        config.strict = True  # type: ignore[misc]


async def test_install_reports_at_exit(tmp_path: Path) -> None:
    """``install()`` watches the whole process and prints its findings when it exits."""
    script = tmp_path / "app.py"
    source = (
        "import asyncio, corral.guard\n"
        "corral.guard.install()\n"
        "async def fetch(): return 1\n"
        "async def main():\n"
        "    fetch()\n"
        "asyncio.run(main())\n"
    )
    await asyncio.to_thread(script.write_text, source)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    assert process.returncode == 0
    assert f"unawaited-coroutine: {script}:5 in main" in err.decode()


async def test_guard_import_starts_nothing_and_loads_no_aiohttp(tmp_path: Path) -> None:
    """Importing ``corral.guard`` starts no thread and does not import aiohttp."""
    code = (
        "import sys, threading, corral.guard; "
        "assert threading.active_count() == 1; assert 'aiohttp' not in sys.modules; print('ok')"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert out.decode().strip() == "ok"


async def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A missing script or a bad threshold gives a one-line error and exit code 2."""
    code, _, err = await run_corral("run", "missing.py", cwd=tmp_path)
    assert (code, err.strip()) == (
        2,
        "corral: error: cannot open script 'missing.py': no such file",
    )
    code, _, err = await run_corral("run", "--threshold", "0", "missing.py", cwd=tmp_path)
    assert code == 2
    assert err.strip().startswith("corral: error: --threshold must be a positive number")


async def test_cli_text_report_goes_to_stderr(tmp_path: Path) -> None:
    """Without ``--json`` the findings are printed as text on standard error."""
    script = tmp_path / "s.py"
    await asyncio.to_thread(
        script.write_text,
        "import asyncio\nasync def f(): pass\nasync def main():\n    f()\nasyncio.run(main())\n",
    )
    code, out, err = await run_corral("run", str(script), cwd=tmp_path)
    assert (code, out) == (0, "")
    assert err.splitlines()[:2] == [
        "corral guard: 1 finding",
        f"unawaited-coroutine: {script}:4 in main",
    ]
