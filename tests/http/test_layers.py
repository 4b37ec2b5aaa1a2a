"""``corral.http`` is layered along its data flow, with no way back up.

The subpackages, lowest first::

    _errors, web, report -> engine -> store -> runreport -> pipeline -> scale -> fetcher -> crawler
        -> _arguments, _cli

A module may import its own layer and the layers below it, never one above: the web's rules
know nothing of the network, the engine nothing of the store, the store nothing of the jobs.
Imports under ``if TYPE_CHECKING:`` are annotations only and do not count; imports inside
functions do (they run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import corral.http

_LAYERS = (
    ("_errors", "_faults", "web", "report"),
    ("engine",),
    ("store",),
    ("runreport",),
    ("pipeline",),
    ("scale",),
    ("fetcher",),
    ("crawler",),
    ("_arguments", "_jobargs", "_jarargs", "_bodiesargs", "_cli", "_scalecli", "_reportcli"),
)
_ROOT = Path(corral.http.__file__).parent


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[:2] != ["corral", "http"] or len(parts) < 3:
        return None
    for rank, names in enumerate(_LAYERS):
        if parts[2] in names:
            return rank
    raise AssertionError(f"{module} is in no layer: add its folder to _LAYERS")


def _runtime_imports(tree: ast.Module) -> list[str]:
    """Return the absolute modules a file imports at run time (not for type checking)."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "corral imports are absolute"
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_every_http_folder_has_a_layer() -> None:
    """Each subpackage of ``corral.http`` is placed in the layering (a new one must be)."""
    for path in _ROOT.iterdir():
        if path.is_dir() and (path / "__init__.py").exists():
            assert _layer(f"corral.http.{path.name}") is not None


def test_no_module_imports_a_layer_above_its_own() -> None:
    """No import goes back up the data flow (the list names each one that does)."""
    upward = []
    for path in sorted(_ROOT.rglob("*.py")):
        parts = path.relative_to(_ROOT).with_suffix("").parts
        if parts == ("__init__",):
            continue  # the front door: lazy names of every layer
        module = ".".join(("corral", "http", *parts))
        own = _layer(module)
        assert own is not None
        for target in _runtime_imports(ast.parse(path.read_text())):
            rank = _layer(target)
            if rank is not None and rank > own:
                upward.append(f"{module} -> {target}")
    assert not upward, "\n".join(upward)
