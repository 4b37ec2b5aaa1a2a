"""Render findings as text (``path:line:col: CODE message``), JSON or SARIF 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Literal

from corral.lint._config import PARSE_ERROR_CODE
from corral.lint._finding import Finding
from corral.lint._rules import ALL_RULES

Format = Literal["text", "json", "sarif"]
FORMATS: tuple[Format, ...] = ("text", "json", "sarif")

_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleInfo:
    """A rule's code, short name and one-line summary (for ``--format sarif`` and docs)."""

    code: str
    name: str
    summary: str


RULES: tuple[RuleInfo, ...] = (
    RuleInfo(
        code=PARSE_ERROR_CODE,
        name="unreadable-file",
        summary="A file that cannot be read or parsed (it is skipped).",
    ),
    *(RuleInfo(code=r.code, name=r.name, summary=r.summary) for r in ALL_RULES),
)


def render(findings: Sequence[Finding], format: Format = "text") -> str:
    """Return ``findings`` rendered in ``format``.

    Args:
        findings: What ``lint_paths`` returned.
        format: ``"text"`` (one ``path:line:col: CODE message`` line each), ``"json"`` (an array
            of objects) or ``"sarif"`` (a SARIF 2.1.0 log for code-scanning tools).

    Returns:
        The rendered text, ending with a newline unless empty.

    Raises:
        ValueError: An unknown format.
    """
    if format == "text":
        return "".join(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n" for f in findings)
    if format == "json":
        return json.dumps([asdict(f) for f in findings], indent=2) + "\n"
    if format == "sarif":
        return json.dumps(_sarif(findings), indent=2) + "\n"
    raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")


def _sarif(findings: Sequence[Finding]) -> dict[str, object]:
    from corral import __version__

    index = {rule.code: i for i, rule in enumerate(RULES)}
    rules = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "defaultConfiguration": {"level": _level(rule.code)},
        }
        for rule in RULES
    ]
    driver = {"name": "corral-lint", "version": __version__, "rules": rules}
    results = [_sarif_result(f, index) for f in findings]
    run = {"tool": {"driver": driver}, "results": results}
    return {"$schema": _SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _uri(path: str) -> str:
    """Return a relative path as a posix URI reference, an absolute one as a file URI."""
    pure = PurePath(path)
    return pure.as_uri() if pure.is_absolute() else pure.as_posix()


def _level(code: str) -> str:
    return "error" if code == PARSE_ERROR_CODE else "warning"


def _sarif_result(finding: Finding, index: dict[str, int]) -> dict[str, object]:
    region = {
        "startLine": finding.line,
        "startColumn": finding.col,
        "endLine": finding.end_line,
        "endColumn": finding.end_col,
    }
    location = {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(finding.path)},
            "region": region,
        }
    }
    return {
        "ruleId": finding.code,
        "ruleIndex": index[finding.code],
        "level": _level(finding.code),
        "message": {"text": finding.message},
        "locations": [location],
    }
