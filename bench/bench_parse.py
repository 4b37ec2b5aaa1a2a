"""Benchmark link extraction: pages/s of ``parse_page`` against other parsers, in one run.

    python bench/bench_parse.py            # 2,000 pages, best of 5
    python bench/bench_parse.py --quick    # 300 pages, best of 2

Pages are generated (seeded, so every run sees the same ones): 5 to 20 KB of HTML shaped
like a site's article pages, with a 25-link navigation bar, inline links in the text
(relative, root-relative, ``../`` with queries, external absolute, fragments), a canonical,
stylesheets and a footer with ``nofollow`` and ``mailto:`` links.

Contenders (each skipped, with the reason, if its library is missing):

1. ``corral parse_page``: selectolax Lexbor, corral's resolver and URL normal form (what the
   crawler runs);
2. ``lexbor + urljoin``: the same parser with the plain loop's URL handling
   (``urllib.parse.urljoin`` and ``urldefrag``, no normal form, no nofollow);
3. ``modest + urljoin``: selectolax's older Modest backend, the same way (selectolax < 1.0
   only: 1.0 removed it, so run this file again with an older selectolax to see it);
4. ``lxml.html + urljoin``: lxml's HTML parser, the same way;
5. ``BeautifulSoup(lxml) + urljoin``: the usual scraping-tutorial stack;
6. each parser alone: parse, select ``a[href]``, read the attribute, no URL work: the
   parsers' own share of the time.

Then parsing through ``corral.to_thread`` and ``corral.to_process`` (one slot per CPU), a
page per call and 16 pages per call (``parse_pages``), to show what offloading costs.

The contenders take turns for several rounds and each keeps its best; the figure is pages
per second of this process's CPU time (steady on a busy machine, where wall time is not).
Ratios are against ``corral parse_page``. The offloaded runs are wall time, necessarily.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import platform
import random
import time
from collections.abc import Callable
from urllib.parse import urldefrag, urljoin

import corral
from corral.http.web._links import parse_page, parse_pages

WORDS = [
    *("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "lorem", "ipsum"),
    *("dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do", "eiusmod"),
]
SITE = "http://site.test"


def make_page(number: int, rng: random.Random) -> bytes:
    """Return one article page of about 5 to 20 KB."""
    nav = "".join(f'<li><a href="/section/{k}/">Section {k}</a></li>' for k in range(25))
    paragraphs = [_paragraph(p, rng) for p in range(rng.randint(6, 26))]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Article {number} - Example site</title>
<link rel="stylesheet" href="/static/site.css"><link rel="icon" href="/favicon.ico">
<link rel="canonical" href="/articles/{number}.html"><script src="/static/app.js"></script>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><header><nav><ul>{nav}</ul></nav></header>
<main><article><h1>Article {number}</h1>{"".join(paragraphs)}</article></main>
<footer><a href="/about">About</a> <a href="/contact" rel="nofollow">Contact</a>
<a href="mailto:editor@site.test">Write to us</a></footer></body></html>""".encode()


def _paragraph(number: int, rng: random.Random) -> str:
    words = []
    for _ in range(rng.randint(40, 90)):
        word = rng.choice(WORDS)
        if rng.random() < 0.04:
            words.append(f'<a href="{_href(number, rng)}" class="inline">{word}</a>')
        else:
            words.append(word)
    return "<p>" + " ".join(words) + "</p>\n"


def _href(paragraph: int, rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.6:
        return f"/articles/{rng.randint(0, 20_000)}.html"
    if pick < 0.8:
        return f"../tags/{rng.choice(WORDS)}?page={rng.randint(1, 9)}"
    if pick < 0.9:
        return f"https://partner{rng.randint(0, 50)}.example.org/p/{rng.randint(0, 999)}"
    return f"#section-{paragraph}"


# --- contenders: each takes (body, url) and returns the number of links found -------------


def corral_parse(body: bytes, url: str) -> int:
    return len(parse_page(body, url, "text/html; charset=utf-8").links)


def _plain(hrefs: list[str], url: str) -> int:
    """The plain loop's URL handling: join, drop the fragment, dedupe."""
    found = set()
    for href in hrefs:
        target = urldefrag(urljoin(url, href.strip()))[0]
        if target.startswith(("http://", "https://")):
            found.add(target)
    return len(found)


def lexbor_urljoin(body: bytes, url: str) -> int:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(body)
    return _plain([node.attributes.get("href") or "" for node in tree.css("a[href]")], url)


def modest_urljoin(body: bytes, url: str) -> int:
    from selectolax.parser import HTMLParser

    tree = HTMLParser(body)
    return _plain([node.attributes.get("href") or "" for node in tree.css("a[href]")], url)


def lexbor_only(body: bytes, url: str) -> int:
    """The parser's own share: parse, select, read the attribute; no URL work."""
    from selectolax.lexbor import LexborHTMLParser

    return len({node.attributes.get("href") for node in LexborHTMLParser(body).css("a[href]")})


def modest_only(body: bytes, url: str) -> int:
    from selectolax.parser import HTMLParser

    return len({node.attributes.get("href") for node in HTMLParser(body).css("a[href]")})


def lxml_only(body: bytes, url: str) -> int:
    import lxml.html

    return len({str(href) for href in lxml.html.document_fromstring(body).xpath("//a/@href")})


def bs4_only(body: bytes, url: str) -> int:
    from bs4 import BeautifulSoup

    return len({str(tag["href"]) for tag in BeautifulSoup(body, "lxml").find_all("a", href=True)})


def lxml_urljoin(body: bytes, url: str) -> int:
    import lxml.html

    tree = lxml.html.document_fromstring(body)
    return _plain([str(href) for href in tree.xpath("//a/@href")], url)


def bs4_urljoin(body: bytes, url: str) -> int:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, "lxml")
    return _plain([str(tag["href"]) for tag in soup.find_all("a", href=True)], url)


CONTENDERS: dict[str, Callable[[bytes, str], int]] = {
    "corral parse_page": corral_parse,
    "lexbor + urljoin": lexbor_urljoin,
    "modest + urljoin": modest_urljoin,
    "lxml.html + urljoin": lxml_urljoin,
    "lexbor alone (no URL work)": lexbor_only,
    "modest alone (no URL work)": modest_only,
    "lxml.html alone (no URL work)": lxml_only,
    "BeautifulSoup alone (no URL work)": bs4_only,
    "BeautifulSoup(lxml) + urljoin": bs4_urljoin,
}


def links_found(fn: Callable[[bytes, str], int], pages: list[bytes]) -> float:
    """Return the mean links per page ``fn`` finds on the first 50 pages (a sanity check)."""
    return sum(fn(body, f"{SITE}/articles/{n}.html") for n, body in enumerate(pages[:50])) / 50


def cpu_seconds(fn: Callable[[bytes, str], int], pages: list[bytes]) -> float:
    """Return the CPU time of one pass of ``fn`` over ``pages``.

    CPU time of this process, not wall time: other work on the machine delays a run but
    hardly changes what it costs, so the figures hold still on a busy machine.
    """
    urls = [f"{SITE}/articles/{n}.html" for n in range(len(pages))]
    start = time.process_time()
    for body, url in zip(pages, urls, strict=True):
        fn(body, url)
    return time.process_time() - start


def measure_all(pages: list[bytes], repeats: int) -> dict[str, float]:
    """Return the best pages/s of each usable contender; they take turns, round by round."""
    usable: dict[str, Callable[[bytes, str], int]] = {}
    for name, fn in CONTENDERS.items():
        try:
            links = links_found(fn, pages)
        except Exception as exc:  # a missing or too old library: say so and go on
            print(f"   {name:34} skipped: {type(exc).__name__}: {str(exc)[:70]}")
            continue
        usable[name] = fn
        print(f"   {name:34} {links:5.1f} links/page")
    best = dict.fromkeys(usable, float("inf"))
    for _ in range(repeats):
        for name, fn in usable.items():
            best[name] = min(best[name], cpu_seconds(fn, pages))
    return {name: len(pages) / seconds for name, seconds in best.items()}


async def offloaded(pages: list[bytes], how: str, batch: int) -> float:
    """Return pages/s of parsing through ``corral.to_thread`` or ``to_process``.

    ``batch`` 1 sends each page in its own call (``parse_page``); more sends ``batch`` pages
    a call (``parse_pages``), which spreads the round trip's cost.
    """
    offload = corral.to_thread if how == "to_thread" else corral.to_process
    items = [(body, f"{SITE}/articles/{n}.html", None, None) for n, body in enumerate(pages)]
    groups = [items[start : start + batch] for start in range(0, len(items), batch)]
    await offload(parse_pages, groups[0])  # start the workers outside the timing
    start = time.perf_counter()
    await corral.map(lambda group: offload(parse_pages, group), groups, limit=8)
    return len(pages) / (time.perf_counter() - start)


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--pages", type=int, help="number of pages (default 2,000)")
    args = parser.parse_args()
    count, repeats = (300, 2) if args.quick else (2000, 5)
    count = args.pages or count
    rng = random.Random(20261121)
    pages = [make_page(n, rng) for n in range(count)]
    sizes = sorted(len(page) for page in pages)
    packages = ("selectolax", "yarl", "lxml", "beautifulsoup4")
    print(
        f"python {platform.python_version()}, " + ", ".join(f"{p} {version(p)}" for p in packages)
    )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    median = sizes[len(sizes) // 2] / 1024
    print(
        f"{count:,} pages, {sizes[0] / 1024:.1f} to {sizes[-1] / 1024:.1f} KB "
        f"(median {median:.1f} KB), best of {repeats}\n"
    )
    figures = measure_all(pages, repeats)
    base = figures.get("corral parse_page")
    print(f"\n   pages/s per CPU second, best of {repeats} turns:")
    for name, rate in figures.items():
        ratio = f"{rate / base:6.2f}x corral" if base else ""
        print(f"   {name:34} {rate:8,.0f}   {ratio}")
    if base:
        offloading(pages)


def offloading(pages: list[bytes]) -> None:
    """Print wall-time pages/s inline and offloaded, with ratios to inline (same run)."""
    print("\n   wall time, 8 calls in flight, one slot per CPU for processes:")
    start = time.perf_counter()
    parse_pages([(body, f"{SITE}/articles/{n}.html", None, None) for n, body in enumerate(pages)])
    inline = len(pages) / (time.perf_counter() - start)
    print(f"   {'inline, on the calling thread':34} {inline:8,.0f} pages/s   1.00x")
    for how in ("to_thread", "to_process"):
        for batch in (1, 16):
            label = f"corral.{how}, {batch:2} page(s)/call"
            try:
                rate = asyncio.run(offloaded(pages, how, batch))
            except TypeError as exc:  # selectolax < 1.0: encoding detection is missing
                print(f"   {label:34} skipped: {exc}")
                continue
            print(f"   {label:34} {rate:8,.0f} pages/s   {rate / inline:5.2f}x")


if __name__ == "__main__":
    main()
