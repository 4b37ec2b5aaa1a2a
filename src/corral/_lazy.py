"""Lazy package attributes (PEP 562), for the faces' ``__init__`` modules.

``corral --help`` registers every face's subcommand, and a subcommand's module lives inside
its face's package, so importing it imports the package's ``__init__``. Loading the face's
names on first use keeps ``corral lint`` from importing aiohttp, and every command's start
from paying for the others (measured: about 150 ms of a fetch's start).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, homes: Mapping[str, str], *, rename: bool = False
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``__getattr__`` and ``__dir__`` for ``package``, loading names from ``homes``.

    Args:
        package: the package's ``__name__``.
        homes: each public name, and the module it is defined in.
        rename: set the loaded object's ``__module__`` to ``package`` (its public home).
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        if rename and isinstance(getattr(value, "__module__", None), str):
            value.__module__ = package
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(homes))

    return __getattr__, __dir__
