"""What a class's methods and attributes are: ``self.x`` resolves through these.

Facts are built for every class of a file at once, from the assignments the checker's walk
(``_check.py``) collected, rather than by walking each method again.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from corral.lint._names import Binding

if TYPE_CHECKING:
    from corral.lint._context import FileContext


@dataclass(slots=True)
class ClassFacts:
    """The methods of a class and what its attributes are assigned, in any method."""

    methods: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = field(default_factory=dict)
    attributes: dict[str, list[Binding]] = field(default_factory=dict)

    def method(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """Return the one method defined as ``name``, or None if none or several."""
        defs = self.methods.get(name, [])
        return defs[0] if len(defs) == 1 else None


def first_parameter(function: ast.AST) -> str | None:
    """Return the name of a method's ``self`` (or ``cls``), or None for a static method."""
    if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Name) and decorator.id == "staticmethod":
            return None
    params = [*function.args.posonlyargs, *function.args.args]
    return params[0].arg if params else None


def all_class_facts(ctx: FileContext) -> dict[ast.ClassDef, ClassFacts]:
    """Return the facts of every class in the file in ``ctx``."""
    facts = {owner: _declared(owner) for owner in ctx.nodes_of(ast.ClassDef)}
    for node in (
        *ctx.nodes_of(ast.Assign),
        *ctx.nodes_of(ast.AnnAssign),
        *ctx.nodes_of(ast.AugAssign),
    ):
        method = ctx.function_of(node)
        while method is not None and ctx.class_of(method) is None:
            method = ctx.function_of(method)
        me = first_parameter(method) if method is not None else None
        if method is None or me is None:
            continue
        owner = ctx.class_of(method)
        assert owner is not None
        for target, binding in _targets(node):
            _record_self(target, me, binding, facts[owner])
    return facts


def _declared(owner: ast.ClassDef) -> ClassFacts:
    facts = ClassFacts()
    for statement in owner.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            facts.methods.setdefault(statement.name, []).append(statement)
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            binding = Binding(statement.value, statement.annotation)
            facts.attributes.setdefault(statement.target.id, []).append(binding)
    return facts


def _targets(node: ast.AST) -> list[tuple[ast.expr, Binding]]:
    if isinstance(node, ast.Assign):
        value = node.value if len(node.targets) == 1 else None
        return [(target, Binding(value=value)) for target in node.targets]
    if isinstance(node, ast.AnnAssign):
        return [(node.target, Binding(node.value, node.annotation))]
    assert isinstance(node, ast.AugAssign)
    return [(node.target, Binding())]


def _record_self(target: ast.expr, me: str, binding: Binding, facts: ClassFacts) -> None:
    if isinstance(target, ast.Tuple | ast.List | ast.Starred):
        for element in ast.iter_child_nodes(target):
            if isinstance(element, ast.expr):
                _record_self(element, me, Binding(), facts)
    elif (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == me
    ):
        facts.attributes.setdefault(target.attr, []).append(binding)
