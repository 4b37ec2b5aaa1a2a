"""``corral lint`` through its real entry point: output, formats, exit codes, noqa, config."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

from corral._cli import main
from corral.lint import RULES

CRAWLER = Path(__file__).parent / "fixtures" / "crawler.py"
LINE = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<code>COR\d{3}) (?P<message>.+)$")
BLOCKING = "import time\nasync def poll():\n    time.sleep(1){comment}\n"


@pytest.fixture
def crawler(tmp_path: Path) -> Path:
    """Return a copy of the crawler fixture, away from this repository's own configuration."""
    copy = tmp_path / "crawler.py"
    copy.write_bytes(CRAWLER.read_bytes())
    return copy


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["lint", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_text_output_and_exit_one_on_findings(
    crawler: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Findings print as ``path:line:col: CODE message`` lines, sorted, and exit 1."""
    code, out, err = run([str(crawler)], capsys)
    assert code == 1
    rows = [LINE.match(line) for line in out.splitlines()]
    assert all(rows), out
    found = [(int(m["line"]), m["code"]) for m in rows if m]
    assert found == sorted(found)
    assert {c for _, c in found} == {f"COR10{i}" for i in range(1, 10)} - {"COR104", "COR107"}
    assert "corral lint: 8 finding(s) in 1 file(s)" in err


def test_clean_code_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A clean tree prints nothing on stdout and exits 0."""
    write(tmp_path / "ok.py", "import asyncio\nasync def f():\n    await asyncio.sleep(1)\n")
    assert run([str(tmp_path)], capsys) == (0, "", "corral lint: no findings\n")


def test_exit_zero_and_select_ignore(crawler: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--exit-zero`` exits 0; ``--select`` and ``--ignore`` filter by code or prefix."""
    code, out, _ = run([str(crawler), "--exit-zero"], capsys)
    assert code == 0
    assert out
    _, out, _ = run([str(crawler), "--select", "cor101,COR109"], capsys)
    assert {m["code"] for m in map(LINE.match, out.splitlines()) if m} == {"COR101", "COR109"}
    _, out, _ = run([str(crawler), "--ignore", "COR10"], capsys)
    assert out == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--select", "COR999"], "unknown rule code or prefix 'COR999'", id="select"),
        pytest.param(["--ignore", "E501"], "unknown rule code or prefix 'E501'", id="ignore"),
        pytest.param(["--jobs", "0"], "jobs must be at least 1", id="jobs"),
    ],
)
def test_usage_errors_exit_two(
    args: list[str], message: str, crawler: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad codes and options give one line on stderr and exit 2."""
    code, out, err = run([str(crawler), *args], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("corral: error: ")
    assert message in err


def test_missing_path_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is a usage error naming it."""
    missing = tmp_path / "nope.py"
    code, _, err = run([str(missing)], capsys)
    assert code == 2
    assert err == f"corral: error: {missing}: no such file or directory\n"


@pytest.mark.parametrize(
    ("comment", "silenced"),
    [
        pytest.param("  # noqa: COR101", True, id="code"),
        pytest.param("  # noqa: COR1", True, id="prefix"),
        pytest.param("  # NOQA:COR105,COR101", True, id="list"),
        pytest.param("  # noqa", True, id="bare"),
        pytest.param("  # noqa: ASYNC251", True, id="ruff-equivalent"),
        pytest.param("  # noqa: E501", False, id="other-code"),
        pytest.param("  # noqa: COR105", False, id="other-rule"),
    ],
)
def test_noqa(
    comment: str, silenced: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``# noqa`` silences its line for the codes it names (or all); others stay."""
    path = write(tmp_path / "poll.py", BLOCKING.format(comment=comment))
    code, out, _ = run([str(path)], capsys)
    assert (code, out == "") == (0 if silenced else 1, silenced)


def test_file_wide_noqa(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``# corral: noqa`` on a line of its own silences the whole file."""
    path = write(tmp_path / "poll.py", "# corral: noqa: COR101\n" + BLOCKING.format(comment=""))
    assert run([str(path)], capsys)[:2] == (0, "")


def test_pyproject_configures_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``[tool.corral.lint]`` of the nearest pyproject.toml selects, ignores and excludes."""
    write(
        tmp_path / "pyproject.toml",
        """
        [tool.corral.lint]
        ignore = ["COR109"]
        exclude = ["generated"]
        per-file-ignores = {"tests/*" = ["COR101"]}
        """,
    )
    write(tmp_path / "app" / "poll.py", BLOCKING.format(comment=""))
    write(tmp_path / "tests" / "test_poll.py", BLOCKING.format(comment=""))
    write(tmp_path / "generated" / "poll.py", BLOCKING.format(comment=""))
    spawn = "import asyncio\nasync def f():\n    asyncio.create_task(f())\n"
    write(tmp_path / "app" / "spawn.py", spawn)
    code, out, _ = run([str(tmp_path)], capsys)
    assert code == 1
    assert [line.split(": ")[0] for line in out.splitlines()] == [
        f"{tmp_path / 'app' / 'poll.py'}:3:5"
    ]
    code, out, _ = run([str(tmp_path), "--select", "COR109"], capsys)
    assert (code, out) == (0, "")


def test_named_paths_and_force_exclude(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An excluded path named on the command line is linted, unless ``--force-exclude``."""
    write(tmp_path / "pyproject.toml", '[tool.corral.lint]\nexclude = ["generated"]\n')
    path = write(tmp_path / "generated" / "poll.py", BLOCKING.format(comment=""))
    assert run([str(path)], capsys)[0] == 1
    assert run([str(tmp_path / "generated")], capsys)[0] == 1
    assert run([str(path), "--force-exclude"], capsys)[:2] == (0, "")
    write(
        tmp_path / "pyproject.toml",
        '[tool.corral.lint]\nexclude = ["generated"]\nforce-exclude = true\n',
    )
    assert run([str(path)], capsys)[:2] == (0, "")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param('selct = ["COR1"]', "unknown key 'selct'", id="unknown-key"),
        pytest.param('select = ["COR9"]', "unknown rule code or prefix 'COR9'", id="bad-code"),
        pytest.param('select = "COR1"', "select must be a list of strings", id="not-a-list"),
    ],
)
def test_malformed_pyproject_exits_two(
    table: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed ``[tool.corral.lint]`` is reported with its file and exits 2."""
    write(tmp_path / "pyproject.toml", f"[tool.corral.lint]\n{table}\n")
    write(tmp_path / "ok.py", "x = 1\n")
    code, _, err = run([str(tmp_path)], capsys)
    assert code == 2
    assert "pyproject.toml" in err
    assert message in err


def test_json_output(crawler: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--format json`` prints an array of findings with position, code and message."""
    code, out, _ = run([str(crawler), "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 1
    assert len(data) == 8
    assert set(data[0]) == {"path", "line", "col", "end_line", "end_col", "code", "message"}
    assert data[0]["path"] == str(crawler)
    assert (data[0]["line"], data[0]["col"], data[0]["code"]) == (11, 12, "COR101")


def test_sarif_output(crawler: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--format sarif`` prints a SARIF 2.1.0 log: the rules, then one result per finding."""
    code, out, _ = run([str(crawler), "--format", "sarif"], capsys)
    log = json.loads(out)
    assert code == 1
    assert log["version"] == "2.1.0"
    (run_,) = log["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "corral-lint"
    assert [r["id"] for r in driver["rules"]] == [r.code for r in RULES]
    result = run_["results"][0]
    assert result["ruleId"] == "COR101"
    assert driver["rules"][result["ruleIndex"]]["id"] == "COR101"
    assert result["level"] == "warning"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (11, 12)
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == crawler.as_uri()


def test_broken_files_are_reported_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unparsable, undecodable and unreadable files give COR000; the rest is still linted."""
    write(tmp_path / "broken.py", "def f(:\n    pass\n")
    (tmp_path / "latin.py").write_bytes(b"x = '\xff\xfe'\n")
    (tmp_path / "dangling.py").symlink_to(tmp_path / "gone.py")
    write(tmp_path / "poll.py", BLOCKING.format(comment=""))
    code, out, _ = run([str(tmp_path)], capsys)
    assert code == 1
    lines = out.splitlines()
    assert [line.split(": ")[1].split()[0] for line in lines] == ["COR000"] * 3 + ["COR101"]
    assert f"{tmp_path / 'broken.py'}:1:7: COR000 cannot parse the file" in lines[0]
    assert "cannot read the file: No such file or directory" in lines[1]
    assert "cannot decode the file" in lines[2]


def test_help_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    """``corral lint --help`` names every code the linter can report."""
    with pytest.raises(SystemExit) as exit_info:
        main(["lint", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for rule in RULES:
        assert rule.code in out


async def test_python_dash_m_corral_lint(crawler: Path) -> None:
    """The real command, ``python -m corral lint``, prints findings and exits 1."""
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "corral", "lint", "--select", "COR108", str(crawler)],
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await process.communicate()
    assert process.returncode == 1
    assert stdout.decode().startswith(f"{crawler}:24:20: COR108 this retry loop awaits")
