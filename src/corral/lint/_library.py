"""The async API of installed packages, read from their source without importing them.

COR102 must know that ``resp.json()`` or ``conn.fetch()`` makes a coroutine although the linted
tree never defines them. Importing a package to ask it would run its code (and be slow), so a
module is found on ``sys.path`` the way the import system would find it (``PathFinder``, which
imports nothing), its ``.pyi`` beside it or its ``-stubs`` package preferred, and its source
parsed into a small record: functions (async or not, the class their return annotation names),
classes (bases, methods, attribute types, whether instances are awaitable), module-level
instances, and the names it imports (re-exports, star imports). Records are cached as JSON under
the user's cache directory, one folder per package version, and checked against the file's size
and modification time before use, so a warm run reads a few small files instead of parsing.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

from corral.lint._libsource import summarize_module

# A record is JSON: {"f": {name: [is_async, returns]}, "c": {name: {"b": [...], "m": {...},
# "t": {...}, "aw": bool}}, "v": {name: type}, "a": {name: qualname}, "s": [module, ...]}.
Record = dict[str, Any]
_HOPS = 12
_CACHE_VERSION = "1"


def cache_dir() -> Path:
    """Return where module records are cached (``$XDG_CACHE_HOME/corral/lint`` or ~/.cache)."""
    override = os.environ.get("CORRAL_LINT_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "corral" / "lint" / f"libindex-{_CACHE_VERSION}"


class Library:
    """Answers questions about installed modules: what a dotted name is, what a method returns."""

    def __init__(self, path: list[str] | None = None, cache: Path | None = None) -> None:
        self._path = list(sys.path if path is None else path)
        if path is None:
            self._path += _active_environment()
        self._cache = cache if cache is not None else cache_dir()
        self._modules: dict[str, Record | None] = {}
        self._locations: dict[str, list[str] | None] = {}
        self._versions: dict[str, str] = {}
        self._stamps: dict[str, list[Any]] = {}
        self._touched: set[str] = set()

    # -- modules --------------------------------------------------------------------------------

    def module(self, name: str) -> Record | None:
        """Return the record of module ``name``, or None if it is not installed as source."""
        self._touched.add(name)
        if name not in self._modules:
            self._modules[name] = None  # a cycle of star imports finds nothing new
            self._modules[name] = self._load(name)
        return self._modules[name]

    def _find(self, name: str) -> tuple[str, list[str] | None] | None:
        parent, _, _ = name.rpartition(".")
        if parent:
            if self.module(parent) is None:
                return None
            search = self._locations.get(parent)
            if not search:
                return None
        else:
            stubs = self._stubs(name)
            if stubs is not None:
                return stubs
            search = self._path
        try:
            spec = PathFinder.find_spec(name, search)
        except (ImportError, ValueError, OSError):
            return None
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return None
        origin = spec.origin
        stub = origin[:-3] + ".pyi"
        if os.path.exists(stub):
            origin = stub
        locations = spec.submodule_search_locations
        return origin, list(locations) if locations is not None else None

    def _stubs(self, top: str) -> tuple[str, list[str]] | None:
        for entry in self._path:
            folder = os.path.join(entry or ".", f"{top}-stubs")
            init = os.path.join(folder, "__init__.pyi")
            if os.path.exists(init):
                return init, [folder]
        return None

    def _load(self, name: str) -> Record | None:
        found = self._find(name)
        if found is None:
            return None
        origin, locations = found
        self._locations[name] = locations
        try:
            stat = os.stat(origin)
        except OSError:
            return None
        stamp = [origin, stat.st_size, stat.st_mtime_ns]
        self._stamps[name] = stamp
        cached = self._cache_file(name, origin)
        record = _read_cache(cached, stamp)
        if record is None:
            record = _parse(origin, name, is_package=locations is not None)
            if record is None:
                return None
            _write_cache(cached, {"stamp": stamp, "record": record})
        return record

    def _cache_file(self, name: str, origin: str) -> Path:
        top = name.partition(".")[0]
        if top not in self._versions:
            self._versions[top] = _version(top, origin)
        return self._cache / f"{top}-{self._versions[top]}" / f"{name}.json"

    def begin_file(self) -> None:
        """Start recording which modules one file's check reads (``touched_stamps``)."""
        self._touched = set()

    def touched_stamps(self) -> list[list[Any]]:
        """Return ``[path, size, mtime]`` of each module read since ``begin_file``."""
        return [self._stamps[name] for name in sorted(self._touched) if name in self._stamps]

    # -- names ----------------------------------------------------------------------------------

    def lookup(self, qualname: str) -> tuple[str, str, Any] | None:
        """Return what ``qualname`` is: ("f"|"c"|"v"|"m", canonical name, record), or None.

        ``"m"`` is a method: its record is ``[is_async, returns]`` like a function's.
        """
        return self._lookup(qualname, 0)

    def _lookup(self, qualname: str, hops: int) -> tuple[str, str, Any] | None:
        if hops > _HOPS:
            return None
        parts = qualname.split(".")
        module, record, i = parts[0], self.module(parts[0]), 1
        if record is None:
            return None
        while i < len(parts):
            name = parts[i]
            if _defines(record, name):
                return self._member(module, record, parts[i:], hops)
            sub = f"{module}.{name}"
            sub_record = self.module(sub)
            if sub_record is None:
                return self._starred(record, parts[i:], hops)
            module, record, i = sub, sub_record, i + 1
        return None

    def _member(
        self, module: str, record: Record, rest: list[str], hops: int
    ) -> tuple[str, str, Any] | None:
        name, tail = rest[0], rest[1:]
        if name in record["a"]:
            return self._lookup(".".join([record["a"][name], *tail]), hops + 1)
        qualname = f"{module}.{name}"
        if name in record["f"]:
            return ("f", qualname, record["f"][name]) if not tail else None
        if name in record["c"]:
            if not tail:
                return ("c", qualname, record["c"][name])
            if len(tail) == 1:
                method = self.method(qualname, tail[0])
                return ("m", f"{qualname}.{tail[0]}", method) if method else None
            return None
        if name in record["v"] and record["v"][name].startswith("()"):
            return self._made(qualname, record["v"][name][2:], tail, hops)
        if name in record["v"]:
            if not tail:
                return ("v", qualname, record["v"][name])
            return self._lookup(".".join([record["v"][name], *tail]), hops + 1)
        return None

    def _made(
        self, qualname: str, maker: str, tail: list[str], hops: int
    ) -> tuple[str, str, Any] | None:
        """Look up a module-level ``name = maker(...)`` through what ``maker`` returns."""
        made = self._lookup(maker, hops + 1)
        if made is None or made[0] != "f":
            return None
        returns = made[2][1]
        if returns == "<asyncfn>":
            return None if tail else ("f", qualname, [True, None])
        if not returns or returns.startswith("<"):
            return None
        if not tail:
            return ("v", qualname, returns)
        return self._lookup(".".join([returns, *tail]), hops + 1)

    def _starred(self, record: Record, rest: list[str], hops: int) -> tuple[str, str, Any] | None:
        for module in record["s"]:
            sub = self.module(module)
            if sub is not None and _defines(sub, rest[0]):
                return self._member(module, sub, rest, hops)
        return None

    def class_record(self, qualname: str) -> tuple[str, Record] | None:
        """Return the canonical name and record of the class ``qualname``."""
        found = self.lookup(qualname)
        if found is None or found[0] != "c":
            return None
        return found[1], found[2]

    def method(self, cls: str, name: str, depth: int = 0) -> list[Any] | None:
        """Return ``[is_async, returns]`` for method ``name`` of class ``cls`` or its bases."""
        found = self.class_record(cls)
        if found is None or depth > 8:
            return None
        canonical, record = found
        if name in record["m"]:
            is_async, returns = record["m"][name]
            return [is_async, canonical if returns == "Self" else returns]
        for base in record["b"]:
            method = self.method(base, name, depth + 1)
            if method is not None:
                return method
        return None

    def attribute(self, cls: str, name: str, depth: int = 0) -> str | None:
        """Return the class of attribute (or property) ``name`` of instances of ``cls``."""
        found = self.class_record(cls)
        if found is None or depth > 8:
            return None
        record = found[1]
        if name in record["t"]:
            return str(record["t"][name])
        for base in record["b"]:
            attribute = self.attribute(base, name, depth + 1)
            if attribute is not None:
                return attribute
        return None

    def is_awaitable_class(self, cls: str) -> bool:
        """Return whether instances of ``cls`` are awaitable (it or a base defines __await__)."""
        return self.method(cls, "__await__") is not None


def _active_environment() -> list[str]:
    """Return the site-packages of an activated virtual environment that is not this one.

    pre-commit and pipx run corral lint from an environment of their own; the project's
    libraries are in the one the user activated (``$VIRTUAL_ENV``), searched after ours.
    """
    active = os.environ.get("VIRTUAL_ENV")
    if not active or os.path.realpath(active) == os.path.realpath(sys.prefix):
        return []
    found = sorted(Path(active).glob("lib/python3*/site-packages"))
    found += sorted(Path(active).glob("Lib/site-packages"))
    return [str(p) for p in found]


def _defines(record: Record, name: str) -> bool:
    return any(name in record[key] for key in ("a", "f", "c", "v"))


def _parse(origin: str, name: str, *, is_package: bool) -> Record | None:
    try:
        with open(origin, "rb") as stream:
            tree = ast.parse(stream.read(), filename=origin)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return summarize_module(tree, name, is_package=is_package)


def _read_cache(path: Path, stamp: list[Any]) -> Record | None:
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("stamp") != stamp:
        return None
    record = data.get("record")
    return record if isinstance(record, dict) else None


def _write_cache(path: Path, data: dict[str, Any]) -> None:
    # Written beside and renamed: a parallel worker reading it sees the old file or the new one.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only home: the index is rebuilt next run, no worse than no cache


def _version(top: str, origin: str) -> str:
    """Return the installed version of package ``top`` (its dist-info), or a stand-in."""
    root = Path(origin).parent
    while root.name != top and root.parent != root:
        root = root.parent
    site = root.parent if root.name == top else Path(origin).parent
    prefix = top.lower().replace("-", "_") + "-"
    try:
        names = os.listdir(site)
    except OSError:
        names = []
    for entry in names:
        if entry.endswith(".dist-info") and entry.lower().startswith(prefix):
            return entry[len(prefix) : -len(".dist-info")]
    if str(site).startswith(sys.base_prefix):
        return f"python{sys.version_info.major}.{sys.version_info.minor}"
    return "unversioned"


_LIBRARY: Library | None = None


def library() -> Library:
    """Return this process's library index (made on first use)."""
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = Library()
    return _LIBRARY
