"""A cache of each file's lint result, so a second run re-checks only what changed (like ruff's).

A result is kept under the hash of everything it depends on: the file's bytes, its module name,
the rules selected, the linted tree's top-level packages, the linter itself (its version and
its source files' stamps) and the installed distributions (their dist-info names). The modules
of installed packages the file's check read through the library index are listed with their
size and modification time and checked before a kept result is used, so an edited library (an
editable install) is seen too.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from corral.lint._finding import Finding
from corral.lint._index import ModuleSummary
from corral.lint._library import cache_dir, library


@dataclass(frozen=True, slots=True)
class Deferred:
    """A finding that stands only if ``qualname`` is a coroutine function of the linted tree."""

    qualname: str
    finding: Finding


@dataclass(slots=True)
class FileResult:
    """What linting one file gave: findings, deferred findings and its index summary."""

    findings: list[Finding] = field(default_factory=list)
    deferred: list[Deferred] = field(default_factory=list)
    summary: ModuleSummary | None = None


@cache
def _fingerprint() -> str:
    """Return a digest of the linter's source and of the installed distributions."""
    parts: list[str] = [sys.version]
    here = Path(__file__).parent
    for path in sorted(here.rglob("*.py")):
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        parts.extend(sorted(n for n in names if n.endswith((".dist-info", ".egg-info"))))
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def key(
    data: bytes, *, module: str, is_package: bool, codes: frozenset[str], packages: frozenset[str]
) -> str:
    """Return the cache key of one file's result."""
    digest = hashlib.blake2b(data, digest_size=20)
    context = [_fingerprint(), module, str(is_package), *sorted(codes), "|", *sorted(packages)]
    digest.update("\0".join(context).encode())
    return digest.hexdigest()


def _path(name: str) -> Path:
    return cache_dir() / "results" / name[:2] / f"{name}.json"


def load(name: str, path: str) -> FileResult | None:
    """Return the kept result for ``name`` (reported under ``path``), if still valid."""
    try:
        with open(_path(name), encoding="utf-8") as stream:
            data = json.load(stream)
        if any(_stamp(origin) != [size, mtime] for origin, size, mtime in data["deps"]):
            return None
        findings = [Finding(path=path, **f) for f in data["findings"]]
        deferred = [Deferred(q, Finding(path=path, **f)) for q, f in data["deferred"]]
        summary = _summary(data["summary"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return FileResult(findings=findings, deferred=deferred, summary=summary)


def store(name: str, result: FileResult) -> None:
    """Keep ``result`` under ``name``, with the library modules its check read."""
    data: dict[str, Any] = {
        "deps": library().touched_stamps(),
        "findings": [_finding(f) for f in result.findings],
        "deferred": [[d.qualname, _finding(d.finding)] for d in result.deferred],
        "summary": None
        if result.summary is None
        else {
            "coroutines": sorted(result.summary.coroutines),
            "others": sorted(result.summary.others),
            "aliases": result.summary.aliases,
            "instances": result.summary.instances,
            "bases": result.summary.bases,
        },
    }
    target = _path(name)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, target)
    except OSError:
        pass  # a read-only cache directory only costs the next run its speed


def _finding(finding: Finding) -> dict[str, Any]:
    fields = asdict(finding)
    del fields["path"]
    return fields


def _summary(data: dict[str, Any] | None) -> ModuleSummary | None:
    if data is None:
        return None
    return ModuleSummary(
        frozenset(data["coroutines"]),
        frozenset(data["others"]),
        tuple((a, b) for a, b in data["aliases"]),
        tuple((a, b) for a, b in data["instances"]),
        tuple((a, tuple(b)) for a, b in data["bases"]),
    )


def _stamp(origin: str) -> list[int] | None:
    try:
        stat = os.stat(origin)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]
