"""Usage errors of the ``corral`` command line: one line, exit 2, pointing at the right help."""

from __future__ import annotations

import pytest

from corral._cli import main


@pytest.mark.parametrize(
    "command",
    [
        ["fetch"],
        ["crawl", "http://127.0.0.1:9/"],
        ["worker", "--redis", "redis://127.0.0.1:9/0", "--job", "j"],
        ["lint", "src"],
    ],
    ids=lambda argv: argv[0],
)
def test_an_unknown_option_of_a_command_points_at_that_commands_help(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``corral fetch --bogus`` says so and points at ``corral fetch --help``, not the root's."""
    with pytest.raises(SystemExit) as stop:
        main([*command, "--bogus"])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.count("\n") == 1, err
    assert "--bogus" in err
    assert err.rstrip().endswith(f"(see corral {command[0]} --help)"), err


def test_an_unknown_root_option_points_at_the_root_help(capsys: pytest.CaptureFixture[str]) -> None:
    """With no command, the root's help is the right one."""
    with pytest.raises(SystemExit) as stop:
        main(["--bogus"])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.rstrip().endswith("(see corral --help)"), err
