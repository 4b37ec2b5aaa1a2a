"""lint_paths and lint_source: discovery, module names, API shapes, parallel runs, corral itself."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

import corral
from corral.lint import Finding, LintConfig, LintUsageError, lint_paths, lint_source, render
from corral.lint._config import known_codes
from corral.lint._discovery import discover

SRC = Path(corral.__file__).parent


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_corral_itself_is_clean() -> None:
    """corral's own source has no findings under its own linter (true ones get fixed)."""
    assert lint_paths([SRC]) == []


def test_public_shapes() -> None:
    """``Finding`` is frozen and sortable; ``LintConfig`` is frozen, slotted, keyword-only."""
    (finding,) = lint_source("import time\nasync def f():\n    time.sleep(1)\n", path="x.py")
    assert isinstance(finding, Finding)
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.line = 2  # type: ignore[misc]
    assert (finding.path, finding.line, finding.col, finding.end_col) == ("x.py", 3, 5, 18)
    assert "__slots__" in vars(LintConfig)
    with pytest.raises(TypeError):
        LintConfig(("COR1",))  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        LintConfig().select = ()  # type: ignore[misc]
    with pytest.raises(LintUsageError):
        LintConfig(select=("NOPE",))


def test_codes_are_prefixes() -> None:
    """Selection matches codes by prefix; COR000 is reported unless ignored."""
    assert LintConfig(select=("COR10",)).codes() == {"COR000", *(f"COR10{i}" for i in range(1, 10))}
    assert LintConfig(ignore=("COR",)).codes() == frozenset()
    assert len(known_codes()) == 13


def test_discovery_names_modules_and_skips_caches(tmp_path: Path) -> None:
    """Files get their dotted module name; virtualenvs, caches and excluded globs are skipped."""
    write(tmp_path / "src" / "pkg" / "__init__.py", "")
    write(tmp_path / "src" / "pkg" / "sub" / "__init__.py", "")
    write(tmp_path / "src" / "pkg" / "sub" / "mod.py", "")
    write(tmp_path / "script.py", "")
    write(tmp_path / ".venv" / "lib" / "x.py", "")
    write(tmp_path / "build" / "y.py", "")
    write(tmp_path / "docs" / "conf.py", "")
    found = discover([tmp_path], LintConfig(exclude=("docs",), root=tmp_path))
    assert [(Path(f.path).relative_to(tmp_path).as_posix(), f.module) for f in found] == [
        ("script.py", "script"),
        ("src/pkg/__init__.py", "pkg"),
        ("src/pkg/sub/__init__.py", "pkg.sub"),
        ("src/pkg/sub/mod.py", "pkg.sub.mod"),
    ]
    assert found[1].is_package


def _big_tree(root: Path, files: int) -> None:
    body = "\n".join(
        f"async def job_{i}(url):\n    time.sleep({i})\n    return requests.get(url)\n"
        for i in range(400)
    )
    for n in range(files):
        write(root / "pkg" / f"mod_{n}.py", f"import time\nimport requests\n{body}")
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "use.py", "from pkg.mod_0 import job_1\nasync def f():\n    job_1('u')\n")


def test_parallel_and_serial_runs_agree(tmp_path: Path) -> None:
    """Linting with worker processes gives exactly the findings of one process, index included."""
    _big_tree(tmp_path, files=6)
    serial = lint_paths([tmp_path], jobs=1)
    parallel = lint_paths([tmp_path], jobs=2)
    assert parallel == serial
    assert len(serial) == 6 * 800 + 1
    assert [f.code for f in serial if f.path.endswith("use.py")] == ["COR102"]


def test_pathological_nesting_skips_a_rule_not_the_file() -> None:
    """A rule that runs out of stack on absurdly deep code reports COR000; the others still run."""
    source = "import time\nasync def f():\n    time.sleep(1)\n    a" + ".b" * 900 + "()\n"
    findings = lint_source(source)
    assert [f.code for f in findings] == ["COR000", "COR101"]
    assert findings[0].message == "code nested too deeply for COR102, which skipped this file"


def test_render_rejects_an_unknown_format() -> None:
    """``render`` names the formats it knows when given another."""
    with pytest.raises(ValueError, match="text, json, sarif"):
        render([], "xml")  # type: ignore[arg-type]


def test_lint_paths_refuses_one_string() -> None:
    """``lint_paths("src")`` is a ``TypeError`` saying to pass a list; it linted the
    characters "s", "r", "c" ("s: no such file or directory")."""
    with pytest.raises(TypeError, match=r"lint_paths\(\) takes a list of paths"):
        lint_paths("src")
