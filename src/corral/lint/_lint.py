"""Lint a tree: discover files, lint them (in parallel when it pays), settle the index."""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from corral.lint._asyncdefs import installed_awaitable
from corral.lint._check import check_file, check_text
from corral.lint._config import LintConfig, load_config, with_overrides
from corral.lint._discovery import SourceFile, discover, glob_matches, top_packages
from corral.lint._errors import LintUsageError
from corral.lint._finding import Finding
from corral.lint._index import AsyncIndex
from corral.lint._results import FileResult

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

# Below this much source a process pool costs more (start-up, imports) than it saves.
_PARALLEL_BYTES = 400_000
# Files per task sent to a worker: big enough to amortise pickling, small enough to balance.
_CHUNK = 8


def lint_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    config: LintConfig | None = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    force_exclude: bool | None = None,
    jobs: int | None = None,
    cache: bool = False,
) -> list[Finding]:
    """Lint the Python files under ``paths`` and return the findings, sorted.

    Args:
        paths: Files and directories; directories are searched for ``*.py`` files.
        config: The configuration; by default read from ``[tool.corral.lint]`` in the nearest
            ``pyproject.toml`` above the paths.
        select: Codes or prefixes that replace the configured selection.
        ignore: Codes or prefixes added to the configured ignores.
        force_exclude: Whether configured excludes apply to ``paths`` themselves (by default
            as configured, else no: a file named explicitly is linted).
        jobs: Worker processes; by default one per core, and none for a small input.
        cache: Keep each file's result under the user cache directory and reuse it while
            the file, the linter and the installed packages it was checked against are
            unchanged (the CLI does, unless ``--no-cache``).

    Returns:
        Every finding, including COR000 for files that cannot be read or parsed.

    Raises:
        LintUsageError: No paths, a path that does not exist, or an unknown code.
        LintConfigError: A malformed ``[tool.corral.lint]`` table.
        TypeError: ``paths`` is one path, not a list of them (a string iterates by character).
    """
    if isinstance(paths, str | bytes | os.PathLike):
        raise TypeError(f"lint_paths() takes a list of paths, not one: lint_paths([{paths!r}])")
    given = [os.fspath(p) for p in paths]
    if not given:
        raise LintUsageError("no paths to lint")
    base = config if config is not None else load_config([Path(p) for p in given])
    config = with_overrides(base, select=select, ignore=ignore, force_exclude=force_exclude)
    files = discover(given, config)
    results = _lint_files(files, config.codes(), top_packages(files), jobs, cache)
    return _settle(files, results, config)


def lint_source(
    source: str,
    *,
    path: str = "<string>",
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
) -> list[Finding]:
    """Lint one module given as text, with the default configuration.

    Args:
        source: The Python source.
        path: The name to report findings under; its stem names the module.
        select: Codes or prefixes to check instead of all.
        ignore: Codes or prefixes not to report.

    Returns:
        The findings, sorted.

    Raises:
        LintUsageError: An unknown code.
    """
    config = with_overrides(LintConfig(), select=select, ignore=ignore)
    module = Path(path).stem if path.endswith(".py") else "__main__"
    result = check_text(
        source, path=path, module=module, is_package=False,
        codes=config.codes(), packages=frozenset(),
    )  # fmt: skip
    return sorted(result.findings)


def _lint_files(
    files: Sequence[SourceFile],
    codes: frozenset[str],
    packages: frozenset[str],
    jobs: int | None,
    cache: bool,
) -> list[FileResult]:
    task = partial(check_file, codes=codes, packages=packages, cache=cache)
    workers = _workers(files, jobs)
    if workers <= 1:
        return [task(f) for f in files]
    from concurrent.futures import ProcessPoolExecutor  # only a big input pays for importing it

    # Largest first, so one big file does not start last and leave a core idle.
    ordered = sorted(files, key=lambda f: f.size, reverse=True)
    with ProcessPoolExecutor(workers, _context(), initializer=gc.disable) as pool:
        return list(pool.map(task, ordered, chunksize=_CHUNK))


def _workers(files: Sequence[SourceFile], jobs: int | None) -> int:
    if jobs is not None:
        if jobs < 1:
            raise LintUsageError(f"jobs must be at least 1, not {jobs}")
        return min(jobs, len(files))
    if sum(f.size for f in files) < _PARALLEL_BYTES:
        return 1
    return min(os.cpu_count() or 1, len(files))


def _context() -> BaseContext:
    import multiprocessing

    # fork starts workers in milliseconds with the linter already imported; it is only safe in
    # a process with no other threads, so elsewhere (Jupyter, servers) workers are spawned.
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _settle(
    files: Sequence[SourceFile], results: Sequence[FileResult], config: LintConfig
) -> list[Finding]:
    index = AsyncIndex(
        (r.summary for r in results if r.summary is not None), installed=installed_awaitable
    )
    findings = [f for r in results for f in r.findings]
    findings += [
        d.finding for r in results for d in r.deferred if index.is_coroutine_function(d.qualname)
    ]
    if config.per_file_ignores:
        relative = {f.path: f.relative for f in files}
        findings = [f for f in findings if not _ignored_in_file(f, relative[f.path], config)]
    return sorted(findings)


def _ignored_in_file(finding: Finding, relative: str, config: LintConfig) -> bool:
    return any(
        glob_matches(relative, glob) and any(finding.code.startswith(c) for c in codes)
        for glob, codes in config.per_file_ignores.items()
    )
