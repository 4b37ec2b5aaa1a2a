"""Cookies, when asked for: one jar per host, loaded from and saved to a JSON file.

A bulk fetch is stateless by default (``DummyCookieJar``): one jar shared by thousands of
hosts would carry state from one to another. ``FetchConfig.cookies`` keeps one aiohttp
``CookieJar`` per host key (host and non-default port, as politeness counts hosts): a
cookie a host sets goes back to that host only, even where RFC 6265 would share it across
ports or with a parent domain's other hosts. Cookies imported from a browser's
``cookies.txt`` (Netscape format, as browser extensions export it; aiohttp cannot read it,
aio-libs/aiohttp#7998) go to a shared jar that sends them wherever their domain matches,
as the browser did.

The file is JSON: ``{"corral_cookie_jar": 1, "hosts": {HOST: COOKIES}}``, with COOKIES as
aiohttp's own JSON jar writes them (``"domain|path": {name: {value, attributes...,
"expires_timestamp"}}``) and HOST ``"*"`` for the shared jar. Never pickle: aiohttp
dropped it for the same reason (aio-libs/aiohttp PR #12091, #12111). It is written with
mode 0600 (session tokens), to a temporary file renamed over the old one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from http.cookies import BaseCookie, Morsel, SimpleCookie
from pathlib import Path
from types import MappingProxyType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractCookieJar, ClearCookiePredicate
from yarl import URL

from corral.http.web._urls import host_key

SHARED = "*"  # the key of the jar of a browser's cookies.txt
_FORMAT = "corral_cookie_jar"
_ATTRIBUTES = ("path", "domain", "secure", "httponly", "samesite")
_NO_URL = URL()


class CookieFileError(ValueError):
    """A cookie jar file that is neither a corral JSON jar nor a Netscape cookies.txt."""


class HostJars(AbstractCookieJar):
    """An aiohttp cookie jar that keeps one ``CookieJar`` per host key."""

    def __init__(self) -> None:
        super().__init__()
        self.jars: dict[str, aiohttp.CookieJar] = {}
        self.version = 0  # counts the changes: responses' cookies and jars replaced
        self.changed: set[str] = set()  # host keys a response set cookies of, since taken
        # each host's jar as the file's JSON, made again only when it changed: the file is
        # written every few seconds, and dumping every jar each time cost 0.6 s of the loop
        # at 10,000 hosts (bench/cookie_jar.py)
        self._texts: dict[str, str] = {}  # host key -> its line of the file ("": no cookies)
        self._order: list[str] = []  # the host keys, sorted (the file's order)

    def jar(self, key: str) -> aiohttp.CookieJar:
        """Return the jar of host key ``key`` (``"*"``: the shared one), made on first use."""
        jar = self.jars.get(key)
        if jar is None:  # unsafe: cookies of IP-address hosts too (a local site, a test)
            jar = self.jars[key] = aiohttp.CookieJar(unsafe=True, loop=self._loop)
        return jar

    # --- aiohttp's interface --------------------------------------------------------------

    @property
    def unsafe(self) -> bool:
        return True

    @property
    def quote_cookie(self) -> bool:
        return True

    @property
    def cookies(self) -> MappingProxyType[tuple[str, str], SimpleCookie]:
        merged: dict[tuple[str, str], SimpleCookie] = {}
        for jar in self.jars.values():
            for key, cookie in jar.cookies.items():
                merged.setdefault(key, SimpleCookie()).update(cookie)
        return MappingProxyType(merged)

    @property
    def host_only_cookies(self) -> frozenset[tuple[str, str, str]]:
        return frozenset().union(*(jar.host_only_cookies for jar in self.jars.values()))

    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        for jar in self.jars.values():
            jar.clear(predicate)
        self._texts.clear()
        self.version += 1

    def clear_domain(self, domain: str) -> None:
        for jar in self.jars.values():
            jar.clear_domain(domain)
        self._texts.clear()
        self.version += 1

    def update_cookies(self, cookies: Any, response_url: URL = _NO_URL) -> None:
        if response_url.host:  # (aiohttp calls it for a response with Set-Cookie only)
            key = _key(response_url)
            self.jar(key).update_cookies(cookies, response_url)
            self.changed.add(key)
            self._texts.pop(key, None)
            self.version += 1

    def filter_cookies(self, request_url: URL) -> BaseCookie[str]:
        found: BaseCookie[str] = SimpleCookie()
        shared = self.jars.get(SHARED)
        if shared is not None:
            found.update(shared.filter_cookies(request_url))
        own = self.jars.get(_key(request_url)) if request_url.host else None
        if own is not None:
            found.update(own.filter_cookies(request_url))  # the host's own win a clash
        return found

    def __iter__(self) -> Iterator[Morsel[str]]:
        for jar in list(self.jars.values()):
            yield from jar

    def __len__(self) -> int:
        return sum(len(jar) for jar in self.jars.values())

    # --- the file -------------------------------------------------------------------------

    def add(self, cookies: Iterable[Loaded]) -> None:
        """Put cookies read by ``read_jar`` into their jars."""
        for key, name, morsel, url in cookies:
            self.jar(key).update_cookies({name: morsel}, url)
            self._texts.pop(key, None)

    def dumps(self) -> str:
        """Return every jar as the JSON of a jar file (a host a line)."""
        texts = self._texts
        if len(self._order) != len(self.jars):  # (a new host: sorted again, else kept)
            self._order = sorted(self.jars)
        for key in self._order:  # each host's line made again only when its jar changed
            if key not in texts:
                jar = self.jars[key]
                text = json.dumps(_dumped(jar), sort_keys=True) if len(jar) else ""
                texts[key] = f"{json.dumps(key)}: {text}" if text else ""
        lines = [line for key in self._order if (line := texts[key])]
        return f'{{"{_FORMAT}": 1, "hosts": {{\n' + ",\n".join(lines) + "\n}}\n"

    def export(self) -> dict[str, Dumped]:
        """Return every jar that holds cookies, by host key, as a jar file holds them."""
        return {key: _dumped(jar) for key, jar in self.jars.items() if len(jar)}

    def take_changed(self) -> dict[str, Dumped]:
        """Return the jars responses changed since the last call (emptied ones too), by host
        key, as a jar file holds them; forget that they changed."""
        changed, self.changed = self.changed, set()
        return {key: _dumped(self.jars[key]) for key in changed}

    def replace(self, hosts: dict[str, Dumped], *, unless_changed: bool = False) -> None:
        """Replace the jars of ``hosts`` (by host key, as ``export`` returns them) with those
        cookies: another process's newer jars. ``unless_changed``: keep a jar a response
        changed since the last ``take_changed`` (it is newer, and on its way to the others)."""
        for key, cookies in hosts.items():
            if unless_changed and key in self.changed:
                continue
            jar = self.jars[key] = aiohttp.CookieJar(unsafe=True, loop=self._loop)
            for _, name, morsel, url in _loaded(key, cookies):
                jar.update_cookies({name: morsel}, url)
            self._texts.pop(key, None)
            self.version += 1


Loaded = tuple[str, str, "Morsel[str]", URL]  # (jar key, cookie name, cookie, its site)
Dumped = dict[str, dict[str, dict[str, Any]]]  # one host's cookies: {"domain|path": {name: ...}}


def read_jar(path: str) -> tuple[list[Loaded], bool]:
    """Return the cookies of a jar file, a corral JSON jar or a Netscape cookies.txt (none
    when it does not exist yet or is empty), and whether the jar may be saved to it: not
    over a cookies.txt, which stays as the browser exported it.

    Raises:
        CookieFileError: the file is neither (the message says where).
        OSError: it exists and cannot be read.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # (Notepad writes a BOM)
    except FileNotFoundError:
        return [], True
    except UnicodeDecodeError:
        raise CookieFileError(f"{path}: not a cookie jar (not UTF-8 text)") from None
    if not text.strip():  # a user's ``touch jar.json``: a new jar (taken for an empty
        return [], True  # cookies.txt, it was never written, and the login was lost)
    if text.lstrip().startswith(("{", "[")):
        hosts = _jar_hosts(text, path)
        try:
            return [c for key, cookies in hosts.items() for c in _loaded(key, cookies)], True
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CookieFileError(f"{path}: not a corral cookie jar (a cookie: {exc})") from None
    return _netscape(text, path), False


def _jar_hosts(text: str, path: str) -> dict[str, Dumped]:
    """Return the hosts of a corral JSON jar, checked down to each cookie's entry.

    Raises:
        CookieFileError: not JSON, not a jar, a newer one, or a part that is not an object
            (the message names the host).
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CookieFileError(f"{path}: not a corral cookie jar (not JSON: {exc})") from None
    version = data.get(_FORMAT) if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > 1:
        raise CookieFileError(
            f'{path}: a cookie jar made by a newer corral ("{_FORMAT}": {version}; this one '
            "reads 1): upgrade corral to load it"
        )
    if version != 1:
        raise CookieFileError(f'{path}: not a corral cookie jar (no "{_FORMAT}": 1)')
    hosts = data.get("hosts")
    if not isinstance(hosts, dict):
        raise CookieFileError(f'{path}: a corral cookie jar whose "hosts": not an object')
    for host, cookies in hosts.items():
        if not isinstance(cookies, dict) or not all(
            isinstance(named, dict) and all(isinstance(e, dict) for e in named.values())
            for named in cookies.values()
        ):
            raise CookieFileError(
                f'{path}: a corral cookie jar whose host "{host}": not an object of '
                '{"DOMAIN|PATH": {NAME: {...}}}'
            )
    return hosts


def write_jar(path: str, text: str) -> None:
    """Write a jar's JSON to ``path``: mode 0600, replacing the old file atomically."""
    temporary = f"{path}.tmp{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)


def _key(url: URL) -> str:
    return host_key(url)


def _dumped(jar: aiohttp.CookieJar) -> Dumped:
    """Return a jar's cookies as aiohttp's JSON jar writes them (with absolute expiry)."""
    host_only = jar.host_only_cookies
    now = time.time()
    data: Dumped = {}
    for (domain, path), cookie in jar.cookies.items():
        for name, morsel in cookie.items():
            entry: dict[str, Any] = {
                "key": morsel.key,
                "value": morsel.value,
                "coded_value": morsel.coded_value,
            }
            entry.update({a: morsel[a] for a in _ATTRIBUTES if morsel[a]})
            if (domain, path, name) in host_only:
                entry["host_only"] = True
            expires = _expiry(morsel, now)
            if expires is not None:
                entry["expires_timestamp"] = expires
            data.setdefault(f"{domain}|{path}", {})[name] = entry
    return data


def _expiry(morsel: Morsel[str], now: float) -> float | None:
    """Return when a cookie expires (epoch seconds), or None for a session cookie.

    A Max-Age is counted from now (the save), not from when it was set: the cookie may
    live a run's length longer in the file than at the site; never shorter.
    """
    if morsel["max-age"]:
        try:
            return now + int(morsel["max-age"])
        except ValueError:
            return None
    if morsel["expires"]:
        import email.utils

        try:
            return email.utils.parsedate_to_datetime(morsel["expires"]).timestamp()
        except (TypeError, ValueError, IndexError):
            return None
    return None


def _loaded(key: str, cookies: Dumped) -> Iterator[Loaded]:
    now = time.time()
    for compound, named in cookies.items():
        domain, _, path = compound.partition("|")
        for name, entry in named.items():
            expires = entry.get("expires_timestamp")
            if expires is not None and float(expires) <= now:
                continue  # expired while on disk
            morsel: Morsel[str] = Morsel()
            morsel.set(name, str(entry["value"]), str(entry.get("coded_value", entry["value"])))
            for attribute in _ATTRIBUTES:
                if entry.get(attribute):
                    morsel[attribute] = entry[attribute]
            morsel["path"] = path or "/"
            if entry.get("host_only"):
                morsel["domain"] = ""  # set by the URL below: host-only again
            if expires is not None:
                morsel["max-age"] = str(max(1, int(float(expires) - now)))
            yield key, name, morsel, URL.build(scheme="http", host=domain)


def _netscape(text: str, path: str) -> list[Loaded]:
    """Return the cookies of a Netscape cookies.txt: a line a cookie, seven fields apart by
    tabs (domain, subdomains too, path, secure, expiry, name, value); ``#HttpOnly_`` before
    the domain marks an HttpOnly cookie, other ``#`` lines are comments.

    Raises:
        CookieFileError: a line that is not such a cookie.
    """
    now, cookies = time.time(), []
    for number, line in enumerate(text.splitlines(), 1):
        httponly = line.startswith("#HttpOnly_")
        if httponly:
            line = line[len("#HttpOnly_") :]
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 7 or not fields[4].strip().lstrip("-").isdigit():
            raise CookieFileError(
                f"{path}, line {number}: neither a corral JSON cookie jar nor a Netscape "
                "cookies.txt (expected 7 fields apart by tabs)"
            )
        domain, subdomains, cookie_path, secure, expiry, name, value = fields
        expires = int(expiry)
        if 0 < expires <= now:
            continue  # expired
        morsel: Morsel[str] = Morsel()
        morsel.set(name, value, value)
        morsel["path"] = cookie_path or "/"
        host = domain.lstrip(".")
        if subdomains.upper() == "TRUE" or domain.startswith("."):
            morsel["domain"] = host
        if secure.upper() == "TRUE":
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if expires > 0:
            morsel["max-age"] = str(max(1, int(expires - now)))
        cookies.append((SHARED, name, morsel, URL.build(scheme="http", host=host)))
    return cookies
