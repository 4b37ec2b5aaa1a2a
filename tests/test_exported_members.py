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
import corral.http
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


def test_http_public_names_are_not_shadowed_by_its_subpackages() -> None:
    """Once every module of ``corral.http`` is imported, each public name is still the API
    object, never a subpackage of the same name (a ``corral/http/fetch/`` folder made
    ``corral.http.fetch`` the folder, not the function, after its first import)."""
    code = (
        "import importlib, pkgutil, types, corral.http as h\n"
        "for m in pkgutil.walk_packages(h.__path__, 'corral.http.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [n for n in h.__all__ if isinstance(getattr(h, n), types.ModuleType)]\n"
        "assert not bad, bad\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_every_exported_exception_is_under_corral_error() -> None:
    """Each face exports the errors it raises, all under the one root ``CorralError``; the
    command line's exit-code errors are not part of the toolkit's API."""
    import corral.guard
    import corral.http
    import corral.lint
    import corral.testing

    for package in (corral, corral.http, corral.guard, corral.lint, corral.testing):
        for name in package.__all__:
            value = getattr(package, name)
            if isinstance(value, type) and issubclass(value, BaseException):
                assert issubclass(value, corral.CorralError), f"{package.__name__}.{name}"
    assert {"BadURL", "BadScope", "ResourceExhausted"} <= set(corral.http.__all__)
    assert not {"CliError", "UsageError", "InputError", "OutputError"} & set(corral.__all__)


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


@pytest.mark.parametrize(
    "package", [corral.guard, corral.http, corral.lint], ids=lambda p: p.__name__
)
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


@pytest.mark.parametrize(
    "name", ["CliError", "UsageError", "InputError", "OutputError", "ResourceExhausted"]
)
def test_names_that_left_the_toolkit_still_work_with_a_warning(name: str) -> None:
    """The command line's errors and ``ResourceExhausted`` left ``corral.__all__`` (issue 14):
    ``corral.ResourceExhausted`` still answers, warning where the name lives now, so an
    ``except corral.ResourceExhausted:`` does not turn into an AttributeError the day the
    error happens."""
    with pytest.warns(DeprecationWarning, match=f"corral.{name} is deprecated"):
        error = getattr(corral, name)
    assert issubclass(error, corral.CorralError)
    assert name not in corral.__all__
    if name == "ResourceExhausted":
        assert error is corral.http.ResourceExhausted
