"""COR107: read, ``await``, write of shared state with no lock held (a lost update).

Shared state is an attribute of ``self``, a name declared ``global``, or an item of either or
of a module-level container. Flagged: ``self.n += await f()`` (the read happens before the
await), ``self.n = self.n + await f()``, and ``v = self.n`` ... ``await`` ... ``self.n = v + 1``.
Not flagged: the same inside ``async with <lock>`` (any lock, semaphore or condition).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._finding import Hit
from corral.lint._kinds import kind_of
from corral.lint._nodes import SCOPES, own_nodes
from corral.lint._rule import Rule

_LOCK_WORDS = ("lock", "mutex", "sem", "cond")
_LOCK_KINDS = frozenset({"asyncio.Lock", "asyncio.Semaphore", "asyncio.Condition"})
_FIX = "hold an `asyncio.Lock` across the read, the await and the write"


def _awaits(node: ast.AST) -> list[ast.AST]:
    """Return the awaits evaluated by ``node`` itself (not in functions nested in it)."""
    return [n for n in own_nodes(node) if isinstance(n, ast.Await | ast.AsyncFor | ast.AsyncWith)]


def _position(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


class SharedStateRace(Rule):
    """Flag lost updates to shared state across an ``await``."""

    code = "COR107"
    name = "shared-state-race"
    summary = "Shared state read before an `await` and written after it, with no lock held."
    node_types = (ast.AugAssign, ast.Assign)

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.AugAssign | ast.Assign)
        function = self.ctx.function_of(node)
        if not isinstance(function, ast.AsyncFunctionDef):
            return
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) != 1 or not self._shared(targets[0]) or self._locked(node):
            return
        key = ast.unparse(targets[0])
        if isinstance(node, ast.AugAssign):
            if _awaits(node.value):
                yield Hit.at(node, self._inline(key))
            return
        if self._read_before_await(node.value, key):
            yield Hit.at(node, self._inline(key))
            return
        stale = self._stale_read(node, key, function)
        if stale is not None:
            read, awaited = stale
            yield Hit.at(
                node,
                f"`{key}` is read at line {read}, the function awaits at line {awaited}, and "
                f"`{key}` is then written from the stale value: another task can change it in "
                f"between (a lost update); {_FIX}",
            )

    @staticmethod
    def _inline(key: str) -> str:
        return (
            f"`{key}` is read before the `await` and written after it: an update by another "
            f"task in between is lost; await into a local first, then update `{key}` "
            f"(no await in between), or {_FIX}"
        )

    def _shared(self, target: ast.expr) -> bool:
        if isinstance(target, ast.Subscript):
            target = target.value
            if isinstance(target, ast.Name):
                found = self.ctx.lookup(target.id, target)
                return found is not None and found[0].node is self.ctx.tree
        if isinstance(target, ast.Attribute):
            return self.ctx.self_class(target) is not None
        if isinstance(target, ast.Name):
            function = self.ctx.function_of(target)
            return (
                function is not None and target.id in self.ctx.name_scope(function).declared_outer
            )
        return False

    def _locked(self, node: ast.AST) -> bool:
        for ancestor in self.ctx.ancestors(node):
            if isinstance(ancestor, ast.AsyncWith | ast.With) and any(
                self._is_lock(item.context_expr) for item in ancestor.items
            ):
                return True
            if isinstance(ancestor, SCOPES):
                return False
        return False

    def _is_lock(self, expr: ast.expr) -> bool:
        if isinstance(expr, ast.Call):
            expr = expr.func
        text = ast.unparse(expr).lower()
        return any(w in text for w in _LOCK_WORDS) or kind_of(expr, self.ctx) in _LOCK_KINDS

    def _read_before_await(self, value: ast.expr, key: str) -> bool:
        awaits = _awaits(value)
        if not awaits:
            return False
        first = min(_position(a) for a in awaits)
        return any(
            isinstance(n, ast.Attribute | ast.Name | ast.Subscript)
            and isinstance(getattr(n, "ctx", None), ast.Load)
            and _position(n) < first
            and ast.unparse(n) == key
            for n in ast.walk(value)
        )

    def _reads(self, expr: ast.expr, key: str) -> bool:
        """Return whether ``expr`` reads the value of ``key`` (not a property of it).

        ``self.ws.session_id`` reads something about the object in ``self.ws``, which a new
        object does not make stale; ``self.items`` or ``self.items.copy()`` reads the value.
        """
        for node in ast.walk(expr):
            if (
                isinstance(node, ast.Attribute | ast.Name | ast.Subscript)
                and ast.unparse(node) == key
            ):
                parent = self.ctx.parent(node)
                if not isinstance(parent, ast.Attribute) or isinstance(
                    self.ctx.parent(parent), ast.Call
                ):
                    return True
        return False

    def _stale_read(
        self, write: ast.Assign, key: str, function: ast.AsyncFunctionDef
    ) -> tuple[int, int] | None:
        if isinstance(write.value, ast.Name):
            return None  # `self.x = saved`: restoring a saved value is the point, not a race
        scope = self.ctx.name_scope(function)
        for name in {n.id for n in ast.walk(write.value) if isinstance(n, ast.Name)}:
            bindings = scope.bindings.get(name, [])
            if len(bindings) != 1 or not isinstance(bindings[0].value, ast.expr):
                continue
            read = bindings[0].value
            if not self._reads(read, key) or not _position(read) < _position(write):
                continue
            span = (_position(read), _position(write))
            done = (write.end_lineno or write.lineno, write.end_col_offset or 0)
            between = [a for a in _awaits(function) if span[0] < _position(a) < done]
            if between and not _written_between(function, key, span):
                return read.lineno, min(_position(a) for a in between)[0]
        return None


def _written_between(
    function: ast.AsyncFunctionDef, key: str, span: tuple[tuple[int, int], tuple[int, int]]
) -> bool:
    """Return whether ``key`` is assigned strictly inside ``span`` (a save/restore pattern)."""
    return any(
        isinstance(n, ast.Assign)
        and span[0] < _position(n) < span[1]
        and any(ast.unparse(t) == key for t in n.targets)
        for n in ast.walk(function)
    )
