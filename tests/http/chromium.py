"""A real headless Chromium, driven through the DevTools protocol over aiohttp's websocket
client (a helper module for the report's tests: ``from chromium import open_chromium``).

It opens a page from ``file://`` and tells what a person (and a careful reviewer) would see:
errors on the console or uncaught, every request the page made, whether each chart's canvas
has anything drawn on it, the header's figures, and a screenshot of the whole page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")
# Per chart: its pixels drawn (alpha > 0), and those of each colour asked about (within a
# small distance, for antialiasing).
_CANVASES = """
(colors => JSON.stringify(Array.from(document.querySelectorAll('[data-chart]')).map(holder => {
  const canvas = holder.querySelector('canvas');
  if (!canvas) return {name: holder.dataset.chart, drawn: 0, colors: {}};
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const found = {}; let drawn = 0;
  for (const c of colors) found[c] = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (!px[i + 3]) continue;
    drawn++;
    for (const c of colors) {
      const r = parseInt(c.slice(1, 3), 16), g = parseInt(c.slice(3, 5), 16),
            b = parseInt(c.slice(5, 7), 16);
      if (Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) + Math.abs(px[i + 2] - b) < 40) found[c]++;
    }
  }
  return {name: holder.dataset.chart, drawn: drawn, colors: found};
})))(COLORS)
"""
_FIGURES = """JSON.stringify(Object.fromEntries(Array.from(
  document.querySelectorAll('[data-figure]')).map(e => [e.dataset.figure, e.dataset.value])))"""


@dataclass
class PageView:
    """What a page showed."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    canvases: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)
    ready: str | None = None
    screenshot: bytes = b""

    def chart(self, name: str) -> dict[str, Any]:
        """Return the canvas figures of the chart called ``name``."""
        return next(c for c in self.canvases if c["name"] == name)


class Chromium:
    """One browser, talked to over its DevTools websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: list[dict[str, Any]] = []
        self._event = asyncio.Event()

    async def read(self) -> None:
        """Hand each answer to its caller and keep every event (until the socket closes)."""
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self._answers.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                self._events.append(data)
                self._event.set()

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        """Send one command and return its result (an error answer fails the test)."""
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self._ws.send_str(json.dumps(message))
        async with asyncio.timeout(30):
            answer = await future
        assert "error" not in answer, f"{method}: {answer['error']}"
        return answer.get("result", {})

    async def _until(self, method: str, session: str) -> None:
        async with asyncio.timeout(30):
            while not any(
                e["method"] == method and e.get("sessionId") == session for e in self._events
            ):
                self._event.clear()
                await self._event.wait()

    async def view(self, page: Path, colors: Sequence[str] = ()) -> PageView:
        """Open ``page`` in a new tab and return what it showed."""
        target = (await self.call("Target.createTarget", url="about:blank"))["targetId"]
        session = (await self.call("Target.attachToTarget", targetId=target, flatten=True))[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            await self.call(f"{domain}.enable", session)
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        await self.call("Page.navigate", session, url=page.resolve().as_uri())
        await self._until("Page.loadEventFired", session)
        view = PageView()
        view.ready = await self._value(session, "document.body.getAttribute('data-ready')")
        canvases = _CANVASES.replace("COLORS", json.dumps(list(colors)))
        view.canvases = json.loads(await self._value(session, canvases))
        view.figures = json.loads(await self._value(session, _FIGURES))
        height = await self._value(session, "document.documentElement.scrollHeight")
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=1280,
            height=int(height),
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = await self.call("Page.captureScreenshot", session, format="png")
        view.screenshot = base64.b64decode(shot["data"])
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            _note(view, event["method"], event["params"])
        await self.call("Target.closeTarget", targetId=target)
        return view

    async def _value(self, session: str, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", session, expression=expression, returnByValue=True
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")


def _note(view: PageView, method: str, params: dict[str, Any]) -> None:
    if method == "Network.requestWillBeSent":
        view.requests.append(params["request"]["url"])
    elif method == "Runtime.exceptionThrown":
        view.errors.append(json.dumps(params["exceptionDetails"])[:500])
    elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert", "warning"):
        view.errors.append(json.dumps(params["args"])[:500])
    elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
        view.errors.append(params["entry"].get("text", "")[:500])


def chromium_binary() -> str:
    """Return the Chromium to run (Debian's package: ``.ci/run`` installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found is not None, "chromium is not installed (apt-get install chromium)"
    return found


@contextlib.asynccontextmanager
async def open_chromium(profile: Path) -> AsyncIterator[Chromium]:
    """Start a headless Chromium with its profile in ``profile``; stop it on leaving."""
    process = await asyncio.create_subprocess_exec(
        chromium_binary(),
        "--headless",
        "--no-sandbox",  # (root in CI)
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        async with asyncio.timeout(30):
            while True:
                line = await process.stderr.readline()
                assert line, "chromium exited before it listened"
                match = _LISTENING.search(line.decode())
                if match is not None:
                    break
        drain = asyncio.create_task(_drain(process.stderr))
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(match.group(1), max_msg_size=0) as ws,
        ):
            browser = Chromium(ws)
            reader = asyncio.create_task(browser.read())
            try:
                yield browser
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    """Read the browser's stderr to its end, so that it never blocks writing to it."""
    while await stream.read(65536):
        pass
