"""The ``corral`` command: parse arguments, hand them to the public API, map errors to exit codes.

Each face registers its own subcommand from a ``_cli`` module beside it; those modules only
declare arguments and call the face's public API. Handlers import their face lazily so that
``corral lint`` never loads aiohttp and ``corral --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from corral._clierrors import CliError

# Modules that define ``register(subparsers) -> None``; listed in the order --help shows them.
_COMMAND_MODULES: tuple[str, ...] = (
    "corral.http._cli",
    "corral.http._scalecli",
    "corral.http._reportcli",
    "corral.guard._cli",
    "corral.lint._cli",
)

Handler = Callable[[argparse.Namespace], int]
# A negative value with a unit (``--max-age -1d``), which argparse takes for an option and
# refuses as "expected one argument" (issue 17): a value, for its type to say what is wrong.
_NEGATIVE = re.compile(r"^-\d+(?:\.\d+)?[a-zA-Z]*$")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def _parse_optional(self, arg_string: str) -> Any:
        if _NEGATIVE.match(arg_string):
            return None  # (a value: its type refuses it, saying why)
        return super()._parse_optional(arg_string)


def build_parser() -> argparse.ArgumentParser:
    """Return the root parser with every face's subcommand registered."""
    from corral import __version__

    parser = _Parser(
        prog="corral",
        description="asyncio for bulk IO, without the pitfalls.",
    )
    parser.add_argument("--version", action="version", version=f"corral {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for command in subparsers.choices.values():
        command.set_defaults(command_parser=command)  # whose help an unknown option points at
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``corral`` command line and return its exit code."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse leaves a command's unknown options to the root parser, whose message would
        # point at ``corral --help``; the command's own help is the one that lists its options.
        owner: argparse.ArgumentParser = getattr(args, "command_parser", parser)
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except CliError as exc:
        print(f"corral: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("corral: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``corral export ... | head``): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def console_main() -> None:
    """Entry point of the ``corral`` script."""
    sys.exit(main())
