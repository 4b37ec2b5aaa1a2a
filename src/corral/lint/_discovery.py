"""Find the Python files to lint and name the module each one is."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from corral.lint._config import LintConfig
from corral.lint._errors import LintUsageError

# Directories that hold other people's code, caches or build output; never walked into.
# Named explicitly, a file inside one is still linted.
_SKIP_DIRS = frozenset(
    {
        ".bzr", ".direnv", ".eggs", ".git", ".hg", ".mypy_cache", ".nox", ".pytest_cache",
        ".ruff_cache", ".svn", ".tox", ".venv", "__pycache__", "__pypackages__", "_build",
        "buck-out", "build", "dist", "node_modules", "site-packages", "venv",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to lint: where it is, how to show it, and the module it is.

    ``module`` is the dotted name imports use (``pkg.sub.mod``), found by walking up through
    directories that hold an ``__init__.py``; ``is_package`` is true for an ``__init__.py``.
    ``path`` is shown as found (under the path the user gave); ``relative`` is relative to the
    configuration root, for globs.
    """

    path: str
    module: str
    is_package: bool
    relative: str
    size: int


def discover(paths: Sequence[str | os.PathLike[str]], config: LintConfig) -> list[SourceFile]:
    """Return the Python files under ``paths`` not excluded by ``config``, in a stable order.

    Raises:
        LintUsageError: A path does not exist.
    """
    root = (config.root or Path.cwd()).resolve()
    namer = _ModuleNamer()
    found: dict[str, SourceFile] = {}
    for raw in paths:
        given = Path(raw)
        if not given.exists():
            raise LintUsageError(f"{os.fspath(raw)}: no such file or directory")
        # A path named on the command line is linted even if a pattern matches it, unless
        # force_exclude says otherwise (pre-commit names every changed file); what is found
        # by walking below it is always subject to the patterns.
        relative = _relative(given, root)
        named = 0 if config.force_exclude or relative == "." else len(relative.split("/"))
        for found_path in _walk(given, root, _Excluder(config.exclude, named)):
            display = os.path.normpath(found_path)
            resolved = os.path.realpath(display)
            if resolved not in found:
                found[resolved] = _source(display, resolved, root, namer)
    return sorted(found.values(), key=lambda f: f.path)


class _Excluder:
    """Match exclude globs against paths, ignoring the parts the user named explicitly."""

    def __init__(self, patterns: Sequence[str], named: int) -> None:
        self.patterns = patterns
        self.named = named

    def __call__(self, relative: str) -> bool:
        return any(glob_matches(relative, p, skip=self.named) for p in self.patterns)


def _walk(given: Path, root: Path, excluded: _Excluder) -> Iterator[str]:
    if given.is_file():
        if not excluded(_relative(given, root)):
            yield os.fspath(given)
        return
    for dirpath, dirnames, filenames in os.walk(given):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIP_DIRS
            and not d.endswith(".egg-info")
            and not excluded(_relative(Path(dirpath, d), root))
        )
        for name in sorted(filenames):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                if not excluded(_relative(Path(path), root)):
                    yield path


def _relative(path: Path, root: Path) -> str:
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return absolute.as_posix()


def glob_matches(relative: str, pattern: str, *, skip: int = 0) -> bool:
    """Return whether a posix ``relative`` path, one of its parents, or its name matches.

    The first ``skip`` parts of the path (a directory named explicitly) are not tried alone.
    """
    pattern = pattern.rstrip("/")
    parts = relative.split("/")
    if len(parts) > skip and fnmatchcase(parts[-1], pattern):
        return True
    return any(
        fnmatchcase("/".join(parts[:i]), pattern) for i in range(max(skip, 0) + 1, len(parts) + 1)
    )


def _source(display: str, resolved: str, root: Path, namer: _ModuleNamer) -> SourceFile:
    module, is_package = namer.name(resolved)
    try:
        size = os.path.getsize(resolved)
    except OSError:
        size = 0
    return SourceFile(display, module, is_package, _relative(Path(display), root), size)


class _ModuleNamer:
    """Name modules from their paths, remembering which directories are packages."""

    def __init__(self) -> None:
        self._is_package: dict[str, bool] = {}

    def name(self, path: str) -> tuple[str, bool]:
        directory, filename = os.path.split(path)
        stem = filename.removesuffix(".py")
        is_package = stem == "__init__"
        parts: list[str] = [] if is_package else [stem]
        while self._package(directory):
            directory, part = os.path.split(directory)
            parts.append(part)
        return ".".join(reversed(parts)) or stem, is_package

    def _package(self, directory: str) -> bool:
        known = self._is_package.get(directory)
        if known is None:
            known = os.path.isfile(os.path.join(directory, "__init__.py"))
            self._is_package[directory] = known
        return known


def top_packages(files: Iterable[SourceFile]) -> frozenset[str]:
    """Return the top-level names of the modules in ``files`` (what imports of them start with)."""
    return frozenset(f.module.split(".", 1)[0] for f in files)
