"""Lint configuration: ``LintConfig``, rule selection by code or prefix, ``[tool.corral.lint]``.

The nearest ``pyproject.toml`` with a ``[tool.corral.lint]`` table, searched upward from the
linted paths, configures a run (ruff looks for ``[tool.ruff]`` the same way). Command-line
``--select`` replaces the configured selection; ``--ignore`` adds to the configured ignores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from corral.lint._errors import LintConfigError, LintUsageError

#: The code of "this file could not be read or parsed"; reported whenever it is not ignored.
PARSE_ERROR_CODE = "COR000"

_KEYS = frozenset({"select", "ignore", "exclude", "force-exclude", "per-file-ignores"})


def known_codes() -> tuple[str, ...]:
    """Return every code the linter can report, sorted."""
    from corral.lint._rules import ALL_RULES

    return tuple(sorted({PARSE_ERROR_CODE, *(rule.code for rule in ALL_RULES)}))


@dataclass(frozen=True, slots=True, kw_only=True)
class LintConfig:
    """What to check and what to skip.

    Codes are matched as prefixes: ``"COR1"`` selects every ``COR1xx`` rule and ``"COR"`` (the
    default) selects all of them. Paths and globs are relative to ``root``.

    Args:
        select: Codes or prefixes to check.
        ignore: Codes or prefixes never to report; they win over ``select``.
        exclude: Globs of files or directories to skip (matched against the path relative to
            ``root``, its parents and its base name) when walking directories.
        force_exclude: Apply ``exclude`` to paths named explicitly too (pre-commit names
            every changed file, excluded or not).
        per_file_ignores: Glob to codes or prefixes ignored in the files it matches.
        root: Directory the globs are relative to (the ``pyproject.toml``'s), or None for the
            current directory.

    Raises:
        LintUsageError: A code or prefix matches no rule.
    """

    select: tuple[str, ...] = ("COR",)
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    root: Path | None = None

    def __post_init__(self) -> None:
        for source, codes in (("select", self.select), ("ignore", self.ignore)):
            _check_codes(codes, source)
        for glob, codes in self.per_file_ignores.items():
            _check_codes(codes, f"per-file-ignores[{glob!r}]")

    def codes(self) -> frozenset[str]:
        """Return the codes this configuration reports (parse errors unless ignored)."""
        return frozenset(
            code
            for code in known_codes()
            if (code == PARSE_ERROR_CODE or _matches(code, self.select))
            and not _matches(code, self.ignore)
        )


def _matches(code: str, prefixes: Iterable[str]) -> bool:
    return any(code.startswith(prefix) for prefix in prefixes)


def _check_codes(codes: Sequence[str], source: str) -> None:
    if isinstance(codes, str):
        raise LintUsageError(f"{source} must be a list of codes, not the string {codes!r}")
    known = known_codes()
    for code in codes:
        if not code or not any(k.startswith(code) for k in known):
            raise LintUsageError(
                f"unknown rule code or prefix {code!r} in {source} "
                f"(known: {known[0]}, {known[1]}..{known[-1]})"
            )


def split_codes(text: str) -> tuple[str, ...]:
    """Return the codes of a comma-separated list such as ``"COR101, COR105"`` (upper-cased)."""
    return tuple(part.strip().upper() for part in text.split(",") if part.strip())


def load_config(paths: Sequence[Path]) -> LintConfig:
    """Return the configuration from the nearest ``pyproject.toml`` above ``paths``, or defaults.

    Args:
        paths: The paths to be linted; the search starts at their common directory.

    Returns:
        The configuration of ``[tool.corral.lint]``, with ``root`` set to its directory.

    Raises:
        LintConfigError: The ``pyproject.toml`` cannot be read or its table is malformed.
        LintUsageError: It names an unknown code.
    """
    start = _common_dir(paths)
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            table = _read_table(candidate)
            if table is not None:
                return _from_table(table, candidate)
    return LintConfig()


def _common_dir(paths: Sequence[Path]) -> Path:
    resolved = [p.resolve() for p in paths] or [Path.cwd()]
    dirs = [p if p.is_dir() else p.parent for p in resolved]
    common = dirs[0]
    for d in dirs[1:]:
        while common != d and common not in d.parents:
            common = common.parent
    return common


def _read_table(path: Path) -> dict[str, object] | None:
    import tomllib  # only when a pyproject.toml is found

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LintConfigError(f"{path}: cannot read: {exc}") from exc
    table = data.get("tool", {}).get("corral", {}).get("lint")
    if table is not None and not isinstance(table, dict):
        raise LintConfigError(f"{path}: [tool.corral.lint] must be a table")
    return table


def _from_table(table: dict[str, object], path: Path) -> LintConfig:
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise LintConfigError(f"{path}: unknown key {unknown[0]!r} in [tool.corral.lint]")
    where = f"{path}: [tool.corral.lint]"
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise LintConfigError(f"{where} per-file-ignores must be a table of glob = [codes]")
    try:
        return LintConfig(
            select=_strings(table.get("select", ["COR"]), f"{where} select"),
            ignore=_strings(table.get("ignore", []), f"{where} ignore"),
            exclude=_strings(table.get("exclude", []), f"{where} exclude"),
            force_exclude=_flag(table.get("force-exclude", False), f"{where} force-exclude"),
            per_file_ignores={
                str(glob): _strings(codes, f"{where} per-file-ignores")
                for glob, codes in per_file.items()
            },
            root=path.parent,
        )
    except LintUsageError as exc:
        raise LintConfigError(f"{where}: {exc.message}") from exc


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise LintConfigError(f"{where} must be true or false")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LintConfigError(f"{where} must be a list of strings")
    return tuple(value)


def with_overrides(
    config: LintConfig,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    force_exclude: bool | None = None,
) -> LintConfig:
    """Return ``config`` with ``select`` replaced and ``ignore`` extended, as the CLI does."""
    if force_exclude is not None:
        config = replace(config, force_exclude=force_exclude)
    if select is not None:
        config = replace(config, select=tuple(select))
    if ignore is not None:
        config = replace(config, ignore=(*config.ignore, *ignore))
    return config
