"""COR105: unbounded concurrency, one coroutine or task per input item, all at once.

Flagged: ``gather(*[f(x) for x in items])`` (inline, or through a list built that way),
``asyncio.wait``/``as_completed`` over such a comprehension, ``create_task`` per item of a ``for``
loop or comprehension, and ``TCPConnector(limit=0)``.

Not flagged, because the count is bounded by design rather than by the input: iterating
``range(...)`` or a literal (a fixed number of workers); iterating the object's own collections
(``self._plugins``, ``self._conns.values()``: registries, pools, listeners); calling a method
of each item or the item itself (``conn.close()``, ``listener(event)``: acting on what one
already holds). Nor when a bound is in sight: a callee that takes a semaphore, a semaphore or
limiter passed in, a module that sets an explicit connection limit, or a loop that awaits
``sem.acquire()`` itself before each task (released when the task ends). Nor a loop that
starts one task and then leaves (``break``, ``return``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._context import FileContext
from corral.lint._finding import Hit
from corral.lint._kinds import kind_of
from corral.lint._loops import enclosing_loop, fixed_size, loop_parts, names_in, single_value
from corral.lint._nodes import own_nodes
from corral.lint._rule import Rule

_FANS = frozenset({"asyncio.gather", "asyncio.wait", "asyncio.as_completed"})
_SPAWNS = frozenset({"create_task", "ensure_future"})
_CONNECTORS = frozenset({"aiohttp.TCPConnector", "aiohttp.connector.TCPConnector"})
# Keywords that set an explicit connection bound (aiohttp's TCPConnector, httpx.Limits).
_LIMIT_KEYWORDS = frozenset({"limit", "limit_per_host", "max_connections"})
_BOUND_WORDS = ("sem", "limit", "throttl", "pacer", "bucket")
# Wrappers of an awaitable made elsewhere: wrapping existing coroutines starts nothing new.
_WRAPPERS = frozenset({"asyncio.wait_for", "asyncio.shield"})
_COPIES = frozenset(f"builtins.{name}" for name in ("list", "tuple", "set", "sorted", "enumerate"))
_COLLECTION_VIEWS = frozenset({"items", "values", "keys", "copy"})


def _looks_bounding(expr: ast.AST, ctx: FileContext) -> bool:
    text = ast.unparse(expr).lower() if isinstance(expr, ast.Name | ast.Attribute) else ""
    return any(w in text for w in _BOUND_WORDS) or kind_of(expr, ctx) == "asyncio.Semaphore"


class UnboundedConcurrency(Rule):
    """Flag fan-outs over an input with no concurrency bound in sight."""

    code = "COR105"
    name = "unbounded-concurrency"
    summary = "A coroutine or task per item, all at once, with no bound in sight."
    node_types = (ast.Call,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._module_limit: bool | None = None

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.Call)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _SPAWNS:
            yield from self._spawn_per_item(node)
            return
        qualname = self.ctx.resolve(func)
        if qualname in _FANS:
            yield from self._fan_out(node, qualname)
        elif qualname in _CONNECTORS and any(
            k.arg == "limit" and isinstance(k.value, ast.Constant) and k.value.value == 0
            for k in node.keywords
        ):
            yield Hit.at(
                node,
                "`TCPConnector(limit=0)` removes aiohttp's connection bound; set a `limit` "
                "(and `limit_per_host`), or bound the work with `corral.map(..., limit=...)`",
            )

    def _fan_out(self, call: ast.Call, qualname: str) -> Iterator[Hit]:
        for arg in call.args:
            value = arg.value if isinstance(arg, ast.Starred) else arg
            comprehension = self._comprehension(value)
            if comprehension is None or not isinstance(comprehension.elt, ast.Call):
                continue
            if _spawns(comprehension.elt):
                continue  # reported where the tasks are created
            first = comprehension.generators[0]
            if self._unbounded(first.iter, first.target, comprehension.elt):
                what = f"`{qualname.split('.')[1]}()`"
                yield Hit.at(call, _message(what, ast.unparse(first.iter)))

    def _spawn_per_item(self, call: ast.Call) -> Iterator[Hit]:
        loop = enclosing_loop(call, self.ctx)
        if loop is None or isinstance(loop, ast.AsyncFor | ast.DictComp):
            return  # `async for`: a stream consumed as it comes, not a collection fanned out
        if isinstance(loop, ast.For) and (_acquires_in(loop) or self._ends_loop_after(call, loop)):
            return
        iterable, target = loop_parts(loop)
        work = call.args[0] if call.args else None
        if isinstance(work, ast.Call) and self._unbounded(iterable, target, work):
            yield Hit.at(call, _message(f"`{ast.unparse(call.func)}()`", ast.unparse(iterable)))

    def _ends_loop_after(self, call: ast.Call, loop: ast.For) -> bool:
        """Return whether the block that starts the task then leaves the loop (one task)."""
        statement: ast.AST = call
        for ancestor in self.ctx.ancestors(call):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(ancestor, field, None)
                if isinstance(block, list) and statement in block:
                    rest = block[block.index(statement) + 1 :]
                    if any(isinstance(s, ast.Break | ast.Return | ast.Raise) for s in rest):
                        return True
            if ancestor is loop:
                return False
            statement = ancestor
        return False

    def _comprehension(self, value: ast.expr) -> ast.ListComp | ast.GeneratorExp | None:
        if not isinstance(value, ast.ListComp | ast.GeneratorExp):
            bound = single_value(value, self.ctx)
            value = bound if bound is not None else value
        return value if isinstance(value, ast.ListComp | ast.GeneratorExp) else None

    def _unbounded(self, iterable: ast.expr, target: ast.expr, work: ast.Call) -> bool:
        """Return whether fanning ``work`` out over ``iterable`` has no bound."""
        if fixed_size(iterable, self.ctx) or self._owned(iterable):
            return False
        item = names_in(target)
        if item & names_in(work.func):
            return False  # a method of each item, or the item itself, is called
        if self._acts_on_item(work, item):
            return False
        if (
            self.ctx.resolve(work.func) in _WRAPPERS
            and work.args
            and names_in(work.args[0]) <= item
        ):
            return False  # the coroutines were made before; a fan-out is flagged there
        return not self._bounded(work)

    def _acts_on_item(self, work: ast.Call, item: set[str]) -> bool:
        """Return whether ``work`` calls a helper of the module that only acts on the item.

        ``stop(timer) for timer in timers``, where ``stop`` only looks into its parameter
        (``timer._task.cancel()``), iterates it or awaits it, acts on objects already held, like
        ``timer.stop()`` does; a parameter used as data (formatted, passed on) is an input.
        """
        callee = self.ctx.local_definition(work.func)
        if not isinstance(callee, ast.AsyncFunctionDef):
            return False
        params = [a.arg for a in (*callee.args.posonlyargs, *callee.args.args)]
        given = [
            params[i]
            for i, arg in enumerate(work.args)
            if i < len(params) and isinstance(arg, ast.Name) and arg.id in item
        ]
        if not given or len(work.args) != 1:
            return False
        uses = [
            n
            for n in ast.walk(callee)
            if isinstance(n, ast.Name) and n.id == given[0] and isinstance(n.ctx, ast.Load)
        ]
        return bool(uses) and all(self._held_use(use) for use in uses)

    def _held_use(self, use: ast.Name) -> bool:
        parent = self.ctx.parent(use)
        if isinstance(parent, ast.Attribute):
            return True
        if isinstance(parent, ast.AsyncFor | ast.For):
            return parent.iter is use
        return isinstance(parent, ast.Await)

    def _owned(self, iterable: ast.expr) -> bool:
        """Return whether ``iterable`` is one of the object's own collections."""
        if isinstance(iterable, ast.Call):
            func = iterable.func
            if isinstance(func, ast.Attribute) and func.attr in _COLLECTION_VIEWS:
                return self._owned(func.value)
            copied = self.ctx.resolve(func) in _COPIES and len(iterable.args) == 1
            return copied and self._owned(iterable.args[0])
        if isinstance(iterable, ast.Attribute):
            return self.ctx.self_class(iterable) is not None
        if isinstance(iterable, ast.ListComp | ast.GeneratorExp | ast.SetComp):
            return self._owned(iterable.generators[0].iter)
        bound = single_value(iterable, self.ctx)
        return bound is not None and self._owned(bound)

    def _bounded(self, work: ast.Call) -> bool:
        arguments = [*work.args, *(k.value for k in work.keywords)]
        if any(_looks_bounding(a, self.ctx) for a in arguments):
            return True
        callee = self.ctx.local_definition(work.func)
        if isinstance(callee, ast.FunctionDef | ast.AsyncFunctionDef) and self._takes_bound(callee):
            return True
        return self._module_sets_limit()

    def _takes_bound(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        for node in ast.walk(function):
            if isinstance(node, ast.AsyncWith | ast.With):
                expressions = [_unwrap(item.context_expr) for item in node.items]
            elif isinstance(node, ast.Attribute) and node.attr == "acquire":
                expressions = [node.value]
            else:
                continue
            if any(_looks_bounding(e, self.ctx) for e in expressions):
                return True
        return False

    def _module_sets_limit(self) -> bool:
        if self._module_limit is None:
            self._module_limit = any(
                k.arg in _LIMIT_KEYWORDS
                and not (isinstance(k.value, ast.Constant) and k.value.value in (0, None))
                for call in self.ctx.calls()
                for k in call.keywords
            )
        return self._module_limit


def _message(what: str, items: str) -> str:
    return (
        f"unbounded concurrency: {what} starts one coroutine per item of `{items}`, all at "
        "once, with no bound in sight; use `corral.map(fn, items, limit=...)` "
        "(or an `asyncio.Semaphore` in the callee)"
    )


def _acquires_in(loop: ast.For) -> bool:
    """Return whether the loop body awaits an ``.acquire()`` itself (a bound per task)."""
    return any(
        isinstance(node, ast.Await)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "acquire"
        for statement in loop.body
        for node in own_nodes(statement)
    )


def _spawns(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr in _SPAWNS


def _unwrap(expr: ast.expr) -> ast.expr:
    """Return ``sem`` for ``sem`` and for ``self.limiter.slot(...)``-style calls."""
    return expr.func if isinstance(expr, ast.Call) else expr
