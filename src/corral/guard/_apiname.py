"""Name the API a user called as the user wrote it: ``requests.get``, not ``requests.api.get``.

The frame just inside the user's frame is the function the user called. Its module and
qualified name give a dotted path; the shortest package prefix that exports the same code
object gives the public spelling (``requests`` exports ``get`` from ``requests.api``).
"""

from __future__ import annotations

import sys
from types import FrameType


def _resolves_to(root: object, qualname: str, code: object) -> bool:
    obj: object = root
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return False
    # functools.wraps keeps the wrapped function one hop away; look through it.
    for _ in range(3):
        if getattr(obj, "__code__", None) is code:
            return True
        obj = getattr(obj, "__wrapped__", None)
        if obj is None:
            return False
    return False


def public_name(frame: FrameType) -> str:
    """Return the shortest importable dotted name of the function running in ``frame``."""
    code = frame.f_code
    module = str(frame.f_globals.get("__name__", "?"))
    qualname = code.co_qualname
    if "<" in qualname:  # a lambda or a local function: no importable name
        return f"{module}.{qualname}"
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        root = sys.modules.get(prefix)
        if root is not None and _resolves_to(root, qualname, code):
            return f"{prefix}.{qualname}"
    return f"{module}.{qualname}"
