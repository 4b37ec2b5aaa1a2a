"""COR110: event loop misuse.

Flagged: ``asyncio.get_event_loop()`` at module level (it binds a loop at import time, and is
an error with no loop from Python 3.14) or in a function run as a ``threading.Thread`` target
(threads have no loop); ``asyncio.new_event_loop()`` assigned to a local and never closed; and
``loop.close()`` with tasks created on that loop neither awaited nor cancelled.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._chains import own_calls
from corral.lint._context import FileContext
from corral.lint._finding import Hit
from corral.lint._rule import Rule

_RUN = "use `asyncio.run(main())` (it makes, runs and closes a loop) or `corral.run_sync(...)`"
_THREADS = frozenset({"threading.Thread"})
_LOOP_FACTORIES = frozenset({"asyncio.new_event_loop", "asyncio.get_event_loop"})


def _thread_targets(ctx: FileContext) -> set[ast.AST]:
    targets: set[ast.AST] = set()
    for node in ctx.calls():
        if ctx.resolve(node.func) in _THREADS:
            for keyword in node.keywords:
                if keyword.arg == "target":
                    definition = ctx.local_definition(keyword.value)
                    if definition is not None:
                        targets.add(definition)
    return targets


class LoopMisuse(Rule):
    """Flag loops fetched where there is none, never closed, or closed with work pending."""

    code = "COR110"
    name = "loop-misuse"
    summary = "`get_event_loop()` at import or in a thread; a loop never closed or closed busy."
    node_types = (ast.Call,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._targets: set[ast.AST] | None = None

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.Call)
        qualname = self.ctx.resolve(node.func)
        if qualname == "asyncio.get_event_loop":
            yield from self._get_event_loop(node)
        elif qualname == "asyncio.new_event_loop":
            yield from self._never_closed(node)
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "close":
            yield from self._closed_busy(node)

    def _get_event_loop(self, call: ast.Call) -> Iterator[Hit]:
        function = self.ctx.function_of(call)
        if self._loop_set_before(call, function):
            return  # it returns the loop just set, as a script's entry point does
        if function is None:
            yield Hit.at(
                call,
                "`asyncio.get_event_loop()` at module level binds a loop at import time (and "
                f"fails where none is set); {_RUN}, and `asyncio.get_running_loop()` in "
                "coroutines",
            )
            return
        if self._targets is None:
            self._targets = _thread_targets(self.ctx)
        if function in self._targets:
            yield Hit.at(
                call,
                "`asyncio.get_event_loop()` in a thread target: threads have no event loop, "
                f"so it raises RuntimeError; {_RUN} inside the thread",
            )

    def _loop_set_before(self, call: ast.Call, function: ast.AST | None) -> bool:
        """Return whether ``asyncio.set_event_loop(...)`` runs earlier in the same scope."""
        return any(
            other.lineno < call.lineno
            and self.ctx.function_of(other) is function
            and self.ctx.resolve(other.func) == "asyncio.set_event_loop"
            for other in self.ctx.calls()
        )

    def _never_closed(self, call: ast.Call) -> Iterator[Hit]:
        parent = self.ctx.parent(call)
        function = self.ctx.function_of(call)
        if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1) or function is None:
            return
        target = parent.targets[0]
        if not isinstance(target, ast.Name):
            return
        uses = [
            n
            for n in ast.walk(function)
            if isinstance(n, ast.Name) and n.id == target.id and isinstance(n.ctx, ast.Load)
        ]
        if any(self._closes_or_lets_go(use) for use in uses):
            return
        yield Hit.at(
            call,
            f"the loop from `asyncio.new_event_loop()` in `{target.id}` is never closed (its "
            f"executor threads and sockets leak); close it in `finally`, or {_RUN}",
        )

    def _closes_or_lets_go(self, use: ast.Name) -> bool:
        """Return whether this use of the loop closes it or hands it to code that may."""
        parent = self.ctx.parent(use)
        if isinstance(parent, ast.Attribute):
            return parent.attr == "close"  # other methods (run_until_complete, ...) keep it
        if isinstance(parent, ast.Call) and use in parent.args:
            return self.ctx.resolve(parent.func) != "asyncio.set_event_loop"
        return True  # returned, stored, put in a tuple or passed on: someone else's now

    def _closed_busy(self, call: ast.Call) -> Iterator[Hit]:
        assert isinstance(call.func, ast.Attribute)
        loop = call.func.value
        function = self.ctx.function_of(call)
        if not isinstance(loop, ast.Name) or not isinstance(function, ast.FunctionDef):
            return
        found = self.ctx.lookup(loop.id, loop)
        if found is None or not all(
            isinstance(b.value, ast.Call) and self.ctx.resolve(b.value.func) in _LOOP_FACTORIES
            for b in found[1]
        ):
            return
        calls = list(own_calls(function))
        spawned = [c for c in calls if _spawns_on(c, loop.id) and c.lineno < call.lineno]
        if spawned and not any(_settles(c, self._task_names(spawned)) for c in calls):
            first = min(c.lineno for c in spawned)
            yield Hit.at(
                call,
                f"`{loop.id}.close()` with tasks still pending (created at line {first}, never "
                f"awaited or cancelled): they are destroyed mid-flight; {_RUN}, which cancels "
                "and awaits leftover tasks",
            )

    def _task_names(self, spawned: list[ast.Call]) -> set[str]:
        names = set()
        for spawn in spawned:
            parent = self.ctx.parent(spawn)
            if isinstance(parent, ast.Assign):
                names |= {t.id for t in parent.targets if isinstance(t, ast.Name)}
        return names


def _spawns_on(call: ast.Call, loop: str) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr in ("create_task", "ensure_future")
        and isinstance(func.value, ast.Name)
        and func.value.id == loop
    )


def _settles(call: ast.Call, tasks: set[str]) -> bool:
    """Return whether ``call`` waits for or cancels tasks (gather, wait, cancel, all_tasks)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name in ("gather", "wait", "cancel", "all_tasks", "shutdown_asyncgens"):
        return True
    return name == "run_until_complete" and any(
        isinstance(n, ast.Name) and n.id in tasks for a in call.args for n in ast.walk(a)
    )
