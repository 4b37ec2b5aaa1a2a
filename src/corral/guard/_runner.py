"""Run a Python script as ``__main__`` under a guard, the way ``python script.py`` would."""

from __future__ import annotations

import os
import runpy
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from corral._clierrors import InputError
from corral.guard._config import GuardConfig
from corral.guard._finding import Finding
from corral.guard._guard import Guard


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptResult:
    """How a script run under the guard ended."""

    exit_code: int
    findings: tuple[Finding, ...]


def run_script(
    path: str | os.PathLike[str],
    args: Sequence[str] = (),
    *,
    config: GuardConfig | None = None,
) -> ScriptResult:
    """Run ``path`` as ``__main__`` with ``args`` under a guard; return its exit code and findings.

    Like ``python path args...``: ``sys.argv`` and ``sys.path[0]`` are the script's, an
    uncaught exception prints its traceback and gives exit code 1, ``sys.exit(n)`` gives ``n``.

    Args:
        path: The script to run.
        args: Its arguments.
        config: The guard's configuration; ``GuardConfig()`` when not given.

    Returns:
        The script's exit code and the guard's findings.

    Raises:
        InputError: The script cannot be read.
    """
    script = os.fspath(path)
    if not os.path.isfile(script):
        raise InputError(f"cannot open script {script!r}: no such file")
    if not os.access(script, os.R_OK):
        raise InputError(f"cannot open script {script!r}: permission denied")
    guard = Guard(config if config is not None else GuardConfig())
    saved_argv, saved_path0 = sys.argv, sys.path[0] if sys.path else None
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        with guard:
            code = _run(script)
    finally:
        sys.argv = saved_argv
        if sys.path and sys.path[0] != saved_path0:
            del sys.path[0]
    return ScriptResult(exit_code=code, findings=guard.findings)


def _run(script: str) -> int:
    try:
        runpy.run_path(os.path.abspath(script), run_name="__main__")
    except SystemExit as exc:
        return _exit_code(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130
    except BaseException as exc:  # report it as python would, then go on
        _print_from_script(exc, script)
        return 1
    return 0


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _print_from_script(exc: BaseException, script: str) -> None:
    # Drop the runner's and runpy's frames: the traceback starts in the script, as with python.
    tb: TracebackType | None = exc.__traceback__
    target = os.path.abspath(script)
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != target:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb or exc.__traceback__)
