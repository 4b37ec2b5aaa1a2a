"""The pre-commit hook definition runs the real command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from corral._cli import main

HOOKS = Path(__file__).parents[2] / ".pre-commit-hooks.yaml"


def _field(name: str) -> str:
    match = re.search(rf"^\s*-?\s*{name}:\s*(.+)$", HOOKS.read_text(), re.M)
    assert match, name
    return match.group(1).strip()


def test_hook_is_declared() -> None:
    """The hook has the id users put in their config, and runs on Python files."""
    assert _field("id") == "corral-lint"
    assert _field("language") == "python"
    assert _field("types") == "[python]"


def test_hook_entry_runs_the_linter_on_named_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The entry, given the changed files as pre-commit does, lints them and fails on findings."""
    program, *args = shlex.split(_field("entry"))
    assert program == "corral"
    (tmp_path / "pyproject.toml").write_text('[tool.corral.lint]\nexclude = ["gen_*.py"]\n')
    bad = tmp_path / "job.py"
    bad.write_text("import time\nasync def job():\n    time.sleep(1)\n")
    generated = tmp_path / "gen_job.py"
    generated.write_text(bad.read_text())
    assert main([*args, str(bad), str(generated)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{bad}:3:5: COR101 ")
    assert "gen_job.py" not in out
