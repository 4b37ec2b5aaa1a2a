"""The public surface of ``corral`` is exactly what ``__all__`` lists."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from types import ModuleType

import pytest

import corral
import corral.guard
import corral.lint


def test_all_is_sorted_and_unique() -> None:
    """``__all__`` is one sorted list without repeats, so additions show up in review."""
    assert corral.__all__ == sorted(set(corral.__all__))


def test_all_names_exist_and_nothing_public_is_missing() -> None:
    """Every name in ``__all__`` exists, and every public attribute is in ``__all__``."""
    for name in corral.__all__:
        assert hasattr(corral, name), name
    public = {
        name
        for name, value in vars(corral).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("corral")
    }
    assert public <= set(corral.__all__)


def test_exported_objects_claim_the_top_level_module() -> None:
    """Classes and functions say ``corral`` is their home, not a private module."""
    for name in corral.__all__:
        value = getattr(corral, name)
        if callable(value):
            assert value.__module__ == "corral", f"{name}.__module__ is {value.__module__}"


def test_the_command_line_starts_without_the_http_stack() -> None:
    """Building the ``corral`` parser (every subcommand) loads neither aiohttp nor the parsers."""
    code = (
        "import sys, corral._cli; corral._cli.build_parser(); "
        "heavy = {'aiohttp', 'selectolax', 'rich', 'publicsuffixlist'} & set(sys.modules); "
        "assert not heavy, heavy; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_import_has_no_side_effects() -> None:
    """Importing corral starts no thread, loop or executor and loads no HTTP stack."""
    code = (
        "import sys, threading; import corral; "
        "assert threading.active_count() == 1, threading.enumerate(); "
        "assert 'aiohttp' not in sys.modules; "
        "assert 'rich' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def _errors_defined_in(package: ModuleType) -> set[type[BaseException]]:
    """Return the ``CorralError`` subclasses defined in ``package``'s modules (all imported)."""
    found: set[type[BaseException]] = set()
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if info.name.endswith("_pytest_plugin"):
            continue  # a pytest entry point, loaded by pytest itself
        module = importlib.import_module(info.name)
        found.update(
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, corral.CorralError)
            and value.__module__ in (info.name, package.__name__)
        )
    return found


@pytest.mark.parametrize("package", [corral.guard, corral.lint], ids=lambda p: p.__name__)
def test_each_package_exports_the_errors_it_defines(package: ModuleType) -> None:
    """An error a package raises is defined in it, exported from it, under ``CorralError``."""
    for error in _errors_defined_in(package):
        assert error.__name__ in package.__all__, f"{package.__name__} does not export {error}"
        assert getattr(package, error.__name__) is error


def test_the_guards_blocking_call_error_lives_in_the_guard() -> None:
    """``BlockingCallError`` is ``corral.guard``'s, a ``CorralError``, and not the toolkit's."""
    assert issubclass(corral.guard.BlockingCallError, corral.CorralError)
    assert corral.guard.BlockingCallError.__module__ == "corral.guard"
    assert corral.guard.BlockingCallError in _errors_defined_in(corral.guard)
    assert not hasattr(corral, "BlockingCallError")
    assert not hasattr(importlib.import_module("corral._exceptions"), "BlockingCallError")
