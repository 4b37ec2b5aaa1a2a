"""What calls block the loop, and what objects are: sync clients, DB connections, aiohttp, ...

``kind_of`` follows an expression back to where its object was made: a local or module-level
assignment (``s = requests.Session()``), ``with ... as s``, a parameter annotation
(``session: aiohttp.ClientSession``) or an attribute of ``self`` assigned in any method of the
class. An expression whose bindings disagree, or that comes from anywhere else, has no kind:
rules stay silent on what they cannot see.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from corral.lint._context import FileContext
from corral.lint._names import Binding
from corral.lint._types import annotation_type

FIX_THREAD = "use `await corral.to_thread(...)`"
FIX_FILE = "use `await corral.to_thread(...)` for the file IO"
FIX_HTTP = (
    "use an async client (one `aiohttp.ClientSession` per job) or `await corral.to_thread(...)`"
)
FIX_DB = (
    "use an async driver (aiosqlite, asyncpg, aiomysql, redis.asyncio) "
    "or `await corral.to_thread(...)`"
)
FIX_SLEEP = "use `await asyncio.sleep(...)`"
FIX_PROCESS = "use `await asyncio.create_subprocess_exec(...)`"
FIX_DNS = "use `await asyncio.get_running_loop().getaddrinfo(...)` or `asyncio.open_connection`"

_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request")
_DB_CONNECT = (
    "sqlite3.connect", "psycopg2.connect", "psycopg.connect", "pymysql.connect",
    "MySQLdb.connect", "mysql.connector.connect", "cx_Oracle.connect", "oracledb.connect",
    "pyodbc.connect", "pymssql.connect", "duckdb.connect",
)  # fmt: skip

#: Functions that block the calling thread, with the fix to suggest.
BLOCKING_CALLS: Mapping[str, str] = MappingProxyType(
    {
        "time.sleep": FIX_SLEEP,
        **{f"requests.{verb}": FIX_HTTP for verb in _VERBS},
        **{f"httpx.{verb}": FIX_HTTP for verb in (*_VERBS, "stream")},
        "urllib.request.urlopen": FIX_HTTP,
        "urllib.request.urlretrieve": FIX_HTTP,
        "urllib3.request": FIX_HTTP,
        **{
            f"subprocess.{name}": FIX_PROCESS
            for name in ("run", "call", "check_call", "check_output", "getoutput")
        },
        "os.system": FIX_PROCESS,
        "os.popen": FIX_PROCESS,
        "os.waitpid": FIX_PROCESS,
        **{
            f"socket.{name}": FIX_DNS
            for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection")
        },
        "builtins.open": FIX_FILE,
        "io.open": FIX_FILE,
        "builtins.input": FIX_THREAD,
        **dict.fromkeys(_DB_CONNECT, FIX_DB),
    }
)


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of object: which methods block, which return coroutines, what methods return."""

    label: str
    blocking: frozenset[str] = frozenset()
    coroutines: frozenset[str] = frozenset()
    returns: Mapping[str, str] = field(default_factory=dict)
    fix: str = FIX_THREAD


_REDIS = frozenset(
    [
        "get",
        "set",
        "mget",
        "mset",
        "delete",
        "exists",
        "expire",
        "incr",
        "decr",
        "hget",
        "hset",
        "hgetall",
        "hdel",
        "lpush",
        "rpush",
        "lpop",
        "rpop",
        "blpop",
        "brpop",
        "lrange",
        "llen",
        "sadd",
        "srem",
        "smembers",
        "sismember",
        "zadd",
        "zrange",
        "zrem",
        "zscore",
        "publish",
        "keys",
        "scan",
        "ping",
        "execute_command",
        "setex",
        "getset",
        "append",
    ]
)
_ASYNC_HTTP = frozenset((*_VERBS, "ws_connect"))

KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        "requests.Session": Kind("a requests.Session", frozenset((*_VERBS, "send")), fix=FIX_HTTP),
        "httpx.Client": Kind(
            "an httpx.Client", frozenset((*_VERBS, "send", "stream")), fix=FIX_HTTP
        ),
        "urllib3.PoolManager": Kind(
            "a urllib3 pool", frozenset({"request", "urlopen"}), fix=FIX_HTTP
        ),
        "dbapi.Connection": Kind(
            "a sync database connection",
            frozenset({"execute", "executemany", "executescript", "commit", "rollback"}),
            returns={"cursor": "dbapi.Cursor", "execute": "dbapi.Cursor"},
            fix=FIX_DB,
        ),
        "dbapi.Cursor": Kind(
            "a sync database cursor",
            frozenset(
                {
                    "execute",
                    "executemany",
                    "executescript",
                    "fetchone",
                    "fetchmany",
                    "fetchall",
                }
            ),
            fix=FIX_DB,
        ),
        "redis.Redis": Kind(
            "a sync redis client", _REDIS, returns={"pipeline": "redis.Pipeline"}, fix=FIX_DB
        ),
        "redis.Pipeline": Kind("a sync redis pipeline", frozenset({"execute"}), fix=FIX_DB),
        "subprocess.Popen": Kind(
            "a subprocess.Popen", frozenset({"wait", "communicate"}), fix=FIX_PROCESS
        ),
        "threading.Thread": Kind("a threading.Thread", frozenset({"join"})),
        "pathlib.Path": Kind(
            "a pathlib.Path",
            frozenset({"read_text", "read_bytes", "write_text", "write_bytes"}),
            fix=FIX_FILE,
        ),
        "aiohttp.ClientSession": Kind(
            "an aiohttp.ClientSession",
            coroutines=_ASYNC_HTTP | {"close"},
            returns=dict.fromkeys(_VERBS, "aiohttp.ClientResponse"),
        ),
        "aiohttp.ClientResponse": Kind(
            "an aiohttp response", coroutines=frozenset({"text", "json", "read"})
        ),
        "httpx.AsyncClient": Kind(
            "an httpx.AsyncClient", coroutines=frozenset((*_VERBS, "send", "aclose"))
        ),
        # redis.asyncio shares its command methods with the sync client (plain defs that return
        # an awaitable there), so its source cannot say which are coroutines: listed here.
        "redis.asyncio.Redis": Kind(
            "a redis.asyncio client",
            coroutines=_REDIS | {"close", "aclose", "initialize", "info", "flushdb", "ttl"},
            returns={"pipeline": "redis.asyncio.Pipeline"},
        ),
        "redis.asyncio.Pipeline": Kind(
            "a redis.asyncio pipeline", coroutines=frozenset({"execute", "reset", "aclose"})
        ),
        # aiofiles makes its file methods with a decorator that runs them on a thread.
        "aiofiles.File": Kind(
            "an aiofiles file",
            coroutines=frozenset(
                {
                    "read",
                    "read1",
                    "readall",
                    "readinto",
                    "readline",
                    "readlines",
                    "write",
                    "writelines",
                    "flush",
                    "close",
                    "seek",
                    "tell",
                    "truncate",
                    "peek",
                }
            ),
        ),
        "asyncpg.Connection": Kind(
            "an asyncpg connection",
            coroutines=frozenset(
                {
                    "fetch",
                    "fetchrow",
                    "fetchval",
                    "fetchmany",
                    "execute",
                    "executemany",
                    "close",
                    "prepare",
                    "copy_records_to_table",
                    "copy_from_query",
                    "copy_to_table",
                    "copy_from_table",
                    "set_type_codec",
                    "add_listener",
                    "remove_listener",
                    "reload_schema_state",
                    "reset",
                }
            ),
        ),
        "asyncpg.Pool": Kind(
            "an asyncpg pool",
            coroutines=frozenset(
                {
                    "acquire",
                    "release",
                    "close",
                    "fetch",
                    "fetchrow",
                    "fetchval",
                    "execute",
                    "executemany",
                    "expire_connections",
                }
            ),
            returns={"acquire": "asyncpg.Connection"},
        ),
        "asyncio.Queue": Kind("an asyncio.Queue", coroutines=frozenset({"get", "put", "join"})),
        "asyncio.Event": Kind("an asyncio.Event", coroutines=frozenset({"wait"})),
        "asyncio.Lock": Kind("an asyncio.Lock", coroutines=frozenset({"acquire"})),
        "asyncio.Semaphore": Kind("an asyncio.Semaphore", coroutines=frozenset({"acquire"})),
        "asyncio.Condition": Kind(
            "an asyncio.Condition", coroutines=frozenset({"acquire", "wait", "wait_for"})
        ),
    }
)

#: Calls that make an object of a kind, and types that annotate one.
FACTORIES: Mapping[str, str] = MappingProxyType(
    {
        "requests.Session": "requests.Session",
        "requests.session": "requests.Session",
        "requests.sessions.Session": "requests.Session",
        "httpx.Client": "httpx.Client",
        "urllib3.PoolManager": "urllib3.PoolManager",
        **dict.fromkeys(_DB_CONNECT, "dbapi.Connection"),
        "sqlite3.Connection": "dbapi.Connection",
        "sqlite3.Cursor": "dbapi.Cursor",
        "redis.Redis": "redis.Redis",
        "redis.StrictRedis": "redis.Redis",
        "redis.from_url": "redis.Redis",
        "redis.Redis.from_url": "redis.Redis",
        "subprocess.Popen": "subprocess.Popen",
        "threading.Thread": "threading.Thread",
        "pathlib.Path": "pathlib.Path",
        "aiohttp.ClientSession": "aiohttp.ClientSession",
        "aiohttp.client.ClientSession": "aiohttp.ClientSession",
        "aiohttp.ClientResponse": "aiohttp.ClientResponse",
        "aiohttp.client_reqrep.ClientResponse": "aiohttp.ClientResponse",
        "httpx.AsyncClient": "httpx.AsyncClient",
        **{
            f"redis.asyncio.{name}": "redis.asyncio.Redis"
            for name in ("Redis", "StrictRedis", "from_url", "Redis.from_url", "client.Redis")
        },
        "redis.asyncio.client.Pipeline": "redis.asyncio.Pipeline",
        "aiofiles.open": "aiofiles.File",
        "aiofiles.threadpool.open": "aiofiles.File",
        **{f"asyncpg.{name}": "asyncpg.Connection" for name in ("connect", "Connection")},
        "asyncpg.connection.Connection": "asyncpg.Connection",
        **{f"asyncpg.{name}": "asyncpg.Pool" for name in ("create_pool", "Pool", "pool.Pool")},
        **{f"asyncio.{name}": "asyncio.Queue" for name in ("Queue", "PriorityQueue", "LifoQueue")},
        "asyncio.Event": "asyncio.Event",
        "asyncio.Lock": "asyncio.Lock",
        "asyncio.Semaphore": "asyncio.Semaphore",
        "asyncio.BoundedSemaphore": "asyncio.Semaphore",
        "asyncio.Condition": "asyncio.Condition",
    }
)

_DEPTH = 6


def kind_of(expr: ast.AST, ctx: FileContext, depth: int = 0) -> str | None:
    """Return the key in ``KINDS`` of the object ``expr`` evaluates to, if it can be known."""
    if depth > _DEPTH:
        return None
    if isinstance(expr, ast.Await):
        expr = expr.value
    if isinstance(expr, ast.Call):
        return _call_kind(expr, ctx, depth)
    if isinstance(expr, ast.Name):
        found = ctx.lookup(expr.id, expr)
        return _agreed(found[1], ctx, depth) if found else None
    if isinstance(expr, ast.Attribute):
        owner = ctx.self_class(expr)
        if owner is not None:
            bindings = ctx.class_facts(owner).attributes.get(expr.attr, [])
            return _agreed(bindings, ctx, depth)
    return None


def _call_kind(call: ast.Call, ctx: FileContext, depth: int) -> str | None:
    qualname = ctx.resolve(call.func)
    if qualname is not None:
        return FACTORIES.get(qualname)
    if isinstance(call.func, ast.Attribute):
        base = kind_of(call.func.value, ctx, depth + 1)
        if base is not None:
            return KINDS[base].returns.get(call.func.attr)
    return None


def _agreed(bindings: list[Binding], ctx: FileContext, depth: int) -> str | None:
    kinds = {_binding_kind(b, ctx, depth) for b in bindings}
    return kinds.pop() if len(kinds) == 1 else None


def _binding_kind(binding: Binding, ctx: FileContext, depth: int) -> str | None:
    if binding.annotation is not None:
        annotated = annotation_kind(binding.annotation, ctx)
        if annotated is not None or binding.value is None:
            return annotated
    if isinstance(binding.value, ast.expr):
        return kind_of(binding.value, ctx, depth + 1)
    return None


def annotation_kind(annotation: ast.expr, ctx: FileContext) -> str | None:
    """Return the kind an annotation names, looking through ``X | None`` and ``Optional[X]``."""
    named = annotation_type(annotation, ctx)
    return FACTORIES.get(named) if named else None
