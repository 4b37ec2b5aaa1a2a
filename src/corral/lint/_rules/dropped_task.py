"""COR109: a task whose reference is dropped.

The loop keeps only a weak reference to a task: one nobody holds can be garbage-collected
before it finishes, and its exception is never seen. Flagged: ``asyncio.create_task(...)``,
``asyncio.ensure_future(...)`` or ``loop.create_task(...)`` as a bare statement, whatever object
the loop is reached through (``client.loop.create_task(...)``). Task groups,
nurseries and scopes hold their children, so ``tg.create_task(...)`` and any ``create_task`` on
something not known to be a loop is exempt. A task assigned to a local that is never read is
not flagged: the local does hold it while the function runs (uvicorn relies on that), and
pyflakes' F841 already reports the unused name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._finding import Hit
from corral.lint._rule import Rule

_SPAWNERS = frozenset({"asyncio.create_task", "asyncio.ensure_future"})
_LOOP_FACTORIES = frozenset(
    {"asyncio.get_event_loop", "asyncio.get_running_loop", "asyncio.new_event_loop"}
)
_LOOP_NAMES = frozenset({"loop", "_loop", "event_loop"})


class DroppedTask(Rule):
    """Flag tasks created with no reference kept."""

    code = "COR109"
    name = "dropped-task"
    summary = "A `create_task`/`ensure_future` result that nobody keeps (task groups exempt)."
    node_types = (ast.Call,)

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.Call)
        func = node.func
        if not isinstance(func, ast.Attribute) or func.attr not in ("create_task", "ensure_future"):
            return
        if self.ctx.resolve(func) not in _SPAWNERS and not self._on_loop(func.value):
            return
        if isinstance(self.ctx.parent(node), ast.Expr):
            yield Hit.at(
                node,
                f"the task from `{ast.unparse(func)}()` is not kept: the loop holds tasks only "
                "weakly, so it can be garbage-collected mid-flight and its error is never seen; "
                "keep a reference and await it, or start it in `corral.open_scope()` / "
                "`asyncio.TaskGroup`",
            )

    def _on_loop(self, receiver: ast.expr) -> bool:
        if isinstance(receiver, ast.Call):
            return self.ctx.resolve(receiver.func) in _LOOP_FACTORIES
        if isinstance(receiver, ast.Attribute):
            # any object's loop: ``self._loop``, ``client.loop``, ``self.websocket.loop``
            return receiver.attr in _LOOP_NAMES
        if isinstance(receiver, ast.Name):
            if receiver.id in _LOOP_NAMES:
                return True
            found = self.ctx.lookup(receiver.id, receiver)
            return found is not None and all(
                isinstance(b.value, ast.Call) and self.ctx.resolve(b.value.func) in _LOOP_FACTORIES
                for b in found[1]
            )
        return False
