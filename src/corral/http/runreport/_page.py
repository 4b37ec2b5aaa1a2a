"""The report as one HTML file: the header written here, the charts and tables drawn in the
page by uPlot and a small script from the figures embedded as JSON.

Everything the page needs is inside it (uPlot, its stylesheet, the script, the data), so it
opens from ``file://`` with no network. The template is filled by ``string.Template``: the
page has four slots and a header of a dozen escaped values, which needs no template engine.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from string import Template
from typing import Any

from corral.http.report._human import (
    human_count,
    human_duration,
    human_latency,
    human_rate,
    human_size,
)

_ASSETS = resources.files("corral.http.runreport") / "assets"


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


def render_page(figures: dict[str, Any]) -> str:
    """Return the self-contained HTML page of the figures."""
    data = json.dumps(figures, separators=(",", ":"), allow_nan=False)
    # inside <script>, "</script" (or "<!--") in a URL would end the element early
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Template(_asset("report.html")).substitute(
        title=html.escape(f"corral report: {figures['store']}"),
        header=_header(figures),
        uplot_css=_asset("uPlot.min.css"),
        report_css=_asset("report.css"),
        uplot_js=_asset("uPlot.iife.min.js"),
        report_js=_asset("report.js"),
        data=data,
    )


def _figure(name: str, value: object, text: str) -> str:
    """Return one header number, marked for tests and scripts (``data-figure``)."""
    return f'<b data-figure="{name}" data-value="{html.escape(str(value))}">{html.escape(text)}</b>'


def _header(figures: dict[str, Any]) -> str:
    head = figures["header"]
    parts = [
        _figure("status", head["status"], head["status"]),
        f"{_figure('urls', head['urls'], human_count(head['urls']))} URLs",
        f"{_figure('ok', head['ok'], human_count(head['ok']))} ok",
        f"{_figure('failed', head['failed'], human_count(head['failed']))} failed",
    ]
    if head["skipped"]:
        parts.append(f"{_figure('skipped', head['skipped'], human_count(head['skipped']))} skipped")
    if head["pending"]:
        parts.append(f"{_figure('pending', head['pending'], human_count(head['pending']))} left")
    parts.append(f"in {_figure('seconds', head['seconds'], human_duration(head['seconds']))}")
    parts.append(_figure("rate", head["rate"], human_rate(head["rate"], " URLs")))
    verdict = " · ".join(parts)
    small = [
        ("received", human_size(head["bytes"])),
        ("retries", human_count(head["retries"])),
        ("hosts", human_count(head["hosts"])),
        ("runs", human_count(head["runs"])),
    ]
    for name in ("p50", "p90", "p99"):
        value = head[f"{name}_ms"]
        small.append((name, human_latency(value / 1000) if value is not None else "-"))
    tiles = "".join(
        f'<div class="tile"><span>{html.escape(label)}</span><b>{html.escape(text)}</b></div>'
        for label, text in small
    )
    command = html.escape(figures["command"] or "(no run recorded)")
    settings = ", ".join(f"{name} {value}" for name, value in figures["settings"].items())
    about = html.escape(f"corral {figures['corral']}" + (f" · {settings}" if settings else ""))
    return (
        f'<p class="verdict">{verdict}</p>{_held_back(figures.get("held_back") or [])}'
        f'<div class="tiles">{tiles}</div>'
        f'<p class="command"><code>{command}</code><br><small>{about}</small></p>'
    )


def _held_back(hosts: list[dict[str, Any]]) -> str:
    """Return the lines on the hosts the last run held back (robots.txt did not answer):
    their URLs are pending, and the same command crawls them once it answers."""
    lines = [
        f"{h['host']}: {h['urls']:,} URL{'' if h['urls'] == 1 else 's'} held back "
        f"(robots.txt did not answer, tried {h['tries']}x): {h['reason']}"
        for h in hosts
    ]
    if not lines:
        return ""
    lines.append("the same command crawls them once robots.txt answers")
    return '<p class="held">' + "<br>".join(html.escape(line) for line in lines) + "</p>"
