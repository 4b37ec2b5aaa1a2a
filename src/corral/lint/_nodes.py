"""Walk the code a node runs itself: not the bodies of functions, lambdas or classes in it."""

from __future__ import annotations

import ast
from collections.abc import Iterator

#: Nodes whose bodies run at another time (or not at all) than the code around them.
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Yield ``node``'s descendants (and ``node``, unless it is a scope) outside nested scopes.

    For a function, that is its body as it runs when called: a nested ``def`` or a ``lambda``
    handed to ``to_thread`` runs elsewhere, so what it calls is not the function's own doing.
    """
    stack = list(ast.iter_child_nodes(node)) if isinstance(node, SCOPES) else [node]
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, SCOPES):
            stack.extend(ast.iter_child_nodes(current))
