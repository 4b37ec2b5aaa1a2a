"""Lint one file: read, parse, walk once, run the selected rules, apply ``# noqa``."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable
from typing import cast

from corral.lint import _results
from corral.lint._config import PARSE_ERROR_CODE
from corral.lint._context import FileContext
from corral.lint._discovery import SourceFile
from corral.lint._finding import Finding, Hit
from corral.lint._index import summarize
from corral.lint._library import library
from corral.lint._names import FunctionNode
from corral.lint._noqa import Noqa
from corral.lint._results import Deferred, FileResult
from corral.lint._rule import Rule
from corral.lint._rules import ALL_RULES

_FUNCTIONS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda})
# Collected for every file: calls for module-wide questions, classes and assignments for the
# facts behind ``self.x``, yields to tell async generators from coroutine functions.
_ALWAYS = frozenset(
    {ast.Call, ast.ClassDef, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Yield, ast.YieldFrom}
)


def check_file(
    source: SourceFile, codes: frozenset[str], packages: frozenset[str], *, cache: bool = False
) -> FileResult:
    """Lint the file ``source`` for ``codes``; unreadable or unparsable files give COR000.

    With ``cache``, a result kept from an earlier run of the same file is used, and a new one
    is kept (``_results``).
    """
    try:
        data = _read(source.path)
    except OSError as exc:
        return _broken(source.path, 1, 1, f"cannot read the file: {exc.strerror or exc}", codes)
    name = ""
    if cache:
        name = _results.key(
            data, module=source.module, is_package=source.is_package, codes=codes,
            packages=packages,
        )  # fmt: skip
        kept = _results.load(name, source.path)
        if kept is not None:
            return kept
        library().begin_file()
    try:
        text = importlib.util.decode_source(data)
    except (UnicodeDecodeError, SyntaxError) as exc:
        result = _broken(source.path, 1, 1, f"cannot decode the file: {exc}", codes)
    else:
        result = check_text(
            text, path=source.path, module=source.module, is_package=source.is_package,
            codes=codes, packages=packages,
        )  # fmt: skip
    if cache:
        _results.store(name, result)
    return result


def _read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def check_text(
    text: str,
    *,
    path: str,
    module: str,
    is_package: bool,
    codes: frozenset[str],
    packages: frozenset[str],
) -> FileResult:
    """Lint Python source ``text`` as the file ``path`` of ``module``."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        line, col = exc.lineno or 1, exc.offset or 1
        return _broken(path, line, col, f"cannot parse the file: {exc.msg}", codes)
    except (ValueError, RecursionError, MemoryError) as exc:
        return _broken(path, 1, 1, f"cannot parse the file: {exc}", codes)
    ctx = FileContext(tree, module=module, is_package=is_package, packages=packages)
    rules = [rule(ctx) for rule in ALL_RULES if rule.code in codes]
    hits = _run(ctx, rules)
    result = FileResult(summary=summarize(ctx) if packages else None)
    noqa = Noqa(text)
    for code, hit in hits:
        if code not in codes or noqa.silenced(hit.line, code):
            continue  # (an internal error is COR000, which may be ignored)
        finding = hit.finding(path, code)
        if hit.needs_async is None:
            result.findings.append(finding)
        else:
            result.deferred.append(Deferred(hit.needs_async, finding))
    return result


def _walk(ctx: FileContext, wanted: set[type[ast.AST]]) -> None:
    """Link every node to its parent and file the nodes of the ``wanted`` types, in one pass.

    ``ast.iter_child_nodes`` is inlined: it is a generator per node, and this loop runs over
    every node of every file.
    """
    found: dict[type[ast.AST], list[ast.AST]] = {t: [] for t in wanted}
    parents, owners = ctx.parents, ctx.owners
    ast_node, node_list = ast.AST, list
    stack: list[tuple[ast.AST, FunctionNode | None]] = [(ctx.tree, None)]
    while stack:
        node, owner = stack.pop()
        owners[node] = owner
        node_type = type(node)
        bucket = found.get(node_type)
        if bucket is not None:
            bucket.append(node)
        inner = cast("FunctionNode", node) if node_type in _FUNCTIONS else owner
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, ast_node):
                parents[value] = node
                stack.append((value, inner))
            elif isinstance(value, node_list):
                for item in value:
                    if isinstance(item, ast_node):
                        parents[item] = node
                        stack.append((item, inner))
    ctx.nodes = found


def _run(ctx: FileContext, rules: list[Rule]) -> list[tuple[str, Hit]]:
    _walk(ctx, {*_ALWAYS, *(t for rule in rules for t in rule.node_types)})
    hits: list[tuple[str, Hit]] = []
    for rule in rules:
        hits.extend(_apply(rule, ctx.nodes))
    return hits


def _apply(rule: Rule, found: dict[type[ast.AST], list[ast.AST]]) -> list[tuple[str, Hit]]:
    """Run one rule over its nodes; a failure of the rule is a COR000 finding, not a crash.

    Like ruff with its panics: report it and lint the rest. Absurdly deep code that runs a
    rule out of stack is not a bug to report, just a file that rule cannot check.
    """
    try:
        hits = [
            (rule.code, hit) for t in rule.node_types for n in found[t] for hit in rule.check(n)
        ]
        return hits + [(rule.code, hit) for hit in rule.finish()]
    except RecursionError:
        message = f"code nested too deeply for {rule.code}, which skipped this file"
    except Exception as exc:
        message = f"internal error in {rule.code} ({type(exc).__name__}: {exc}); please report it"
    return [(PARSE_ERROR_CODE, Hit(1, 1, 1, 1, message))]


def _broken(path: str, line: int, col: int, message: str, codes: Iterable[str]) -> FileResult:
    if PARSE_ERROR_CODE not in codes:
        return FileResult()
    finding = Finding(
        path=path, line=line, col=col, code=PARSE_ERROR_CODE, message=message,
        end_line=line, end_col=col,
    )  # fmt: skip
    return FileResult(findings=[finding])
