"""Where code repeats per item: ``for`` loops and comprehensions.

``while`` loops are left out on purpose: they are mostly reconnect, retry or serve-forever
loops, where one thing per pass is the design, not a per-item fan-out.
"""

from __future__ import annotations

import ast

from corral.lint._context import FileContext
from corral.lint._nodes import SCOPES

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
# Calls that keep the size of what they are given.
_WRAPPERS = frozenset(
    f"builtins.{name}"
    for name in ("enumerate", "zip", "reversed", "sorted", "list", "tuple", "set")
)
_MUTATORS = frozenset({"append", "extend", "insert", "add", "update", "setdefault"})
Loop = ast.For | ast.AsyncFor | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp


def enclosing_loop(node: ast.AST, ctx: FileContext) -> Loop | None:
    """Return the innermost ``for`` or comprehension of ``node``'s function that repeats it."""
    child, grandchild = node, node
    for ancestor in ctx.ancestors(node):
        if isinstance(ancestor, SCOPES):
            return None
        if isinstance(ancestor, ast.For | ast.AsyncFor):
            if any(child is statement for statement in ancestor.body):
                return ancestor
        elif isinstance(ancestor, _COMPREHENSIONS):
            first = ancestor.generators[0]
            if not (child is first and grandchild is first.iter):
                return ancestor
        child, grandchild = ancestor, child
    return None


def loop_parts(loop: Loop) -> tuple[ast.expr, ast.expr]:
    """Return the iterable and target of ``loop`` (of its first generator, for comprehensions)."""
    if isinstance(loop, ast.For | ast.AsyncFor):
        return loop.iter, loop.target
    return loop.generators[0].iter, loop.generators[0].target


def names_in(node: ast.AST) -> set[str]:
    """Return the bare names used anywhere in ``node``."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def per_item_loop(call: ast.Call, ctx: FileContext) -> Loop | None:
    """Return the loop that makes ``call`` once per item of an input, if there is one.

    That is a loop over something not of fixed size whose item is passed to the call
    (``for url in urls: fetch(url)``); a call in a retry loop or one that ignores the item
    (``self.load_index()`` once per source) is not per item.
    """
    loop = enclosing_loop(call, ctx)
    if loop is None:
        return None
    iterable, target = loop_parts(loop)
    arguments = [*call.args, *(k.value for k in call.keywords)]
    item = names_in(target)
    if fixed_size(iterable, ctx) or not any(item & names_in(a) for a in arguments):
        return None
    return loop


def loop_call_sites(ctx: FileContext) -> dict[ast.AST, ast.Call]:
    """Return, for each function of the module called per item somewhere, one such call."""
    sites: dict[ast.AST, ast.Call] = {}
    for node in ctx.calls():
        if isinstance(node.func, ast.Name | ast.Attribute):
            definition = ctx.local_definition(node.func)
            if (
                definition is not None
                and definition not in sites
                and per_item_loop(node, ctx) is not None
            ):
                sites[definition] = node
    return sites


def fixed_size(iterable: ast.expr, ctx: FileContext) -> bool:
    """Return whether ``iterable`` has a size fixed in the code: a literal, ``range(...)``.

    A name bound once, in scope, to such a thing (or to a comprehension over one) counts too.
    """
    if isinstance(iterable, ast.List | ast.Tuple | ast.Set | ast.Dict | ast.Constant):
        return True
    if isinstance(iterable, ast.Call):
        name = ctx.resolve(iterable.func)
        if name == "builtins.range":
            return True
        return name in _WRAPPERS and bool(iterable.args) and fixed_size(iterable.args[0], ctx)
    if isinstance(iterable, ast.ListComp | ast.GeneratorExp | ast.SetComp):
        return fixed_size(iterable.generators[0].iter, ctx)
    bound = single_value(iterable, ctx)
    if isinstance(bound, ast.List | ast.Set | ast.Dict) and _mutated(iterable, ctx):
        return False  # `items = []` filled by `items.append(...)` later
    return bound is not None and fixed_size(bound, ctx)


def _mutated(name: ast.expr, ctx: FileContext) -> bool:
    assert isinstance(name, ast.Name)
    found = ctx.lookup(name.id, name)
    scope = found[0].node if found else ctx.tree
    return any(
        isinstance(n, ast.Attribute)
        and n.attr in _MUTATORS
        and isinstance(n.value, ast.Name)
        and n.value.id == name.id
        for n in ast.walk(scope)
    )


def single_value(expr: ast.expr, ctx: FileContext) -> ast.expr | None:
    """Return the one value a bare name was assigned in its scope, if it has exactly one."""
    if not isinstance(expr, ast.Name):
        return None
    found = ctx.lookup(expr.id, expr)
    if found is None or len(found[1]) != 1:
        return None
    value = found[1][0].value
    return value if isinstance(value, ast.expr) else None
