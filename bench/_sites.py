"""Generate the static content nginx serves to the benchmarks, and the URL lists.

Everything is deterministic (a seeded ``random.Random``) and cached under ``bench/.work/``: a
directory is written once, with a stamp file naming what it holds, and reused while the stamp
matches. Nothing here links off this machine: every href is a path on the same server.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

_VOCABULARY = (
    "asyncio bulk fetch crawl polite resume frontier session connector semaphore gather queue "
    "worker backoff retry timeout deadline scope cancel stream window budget latency throughput "
    "host robots sitemap parser selector anchor store record outcome status error digest body "
    "header cookie redirect proxy socket buffer event loop thread executor pool lease journal"
)
_WORDS = _VOCABULARY.split()
_FILES_PER_DIR = 1000


def _stamped(directory: Path, stamp: str) -> bool:
    marker = directory / ".complete"
    return marker.exists() and marker.read_text() == stamp


def _restart(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def fetch_path(index: int) -> str:
    """Return the URL path of small file number ``index`` of the fetch site."""
    return f"/f{index // _FILES_PER_DIR:03d}/{index:06d}.html"


def fetch_site(root: Path, files: int) -> Path:
    """Write ``files`` small HTML files (about 1 KB each) under ``root``; return ``root``."""
    stamp = f"fetch files={files}"
    if _stamped(root, stamp):
        return root
    _restart(root)
    rng = random.Random(files)
    for index in range(files):
        path = root / fetch_path(index).lstrip("/")
        path.parent.mkdir(exist_ok=True)
        body = f"<p>{_text(rng, 120)}</p>"
        path.write_text(f"<!doctype html><title>file {index}</title>{body}\n")
    (root / ".complete").write_text(stamp)
    return root


def url_list(target: Path, base_url: str, *, count: int, files: int) -> Path:
    """Write ``count`` distinct URLs, one a line, over ``files`` files of the fetch site.

    Past ``files`` the same files are reused with a distinct query string (nginx ignores it),
    so every URL is distinct and answers 200.
    """
    with target.open("w") as out:
        for index in range(count):
            query = "" if index < files else f"?n={index}"
            out.write(f"{base_url}{fetch_path(index % files)}{query}\n")
    return target


def page_path(index: int) -> str:
    """Return the URL path of page ``index`` of the crawl site (page 0 is ``/``)."""
    if index == 0:
        return "/"
    return f"/s{index // _FILES_PER_DIR:03d}/p{index:06d}.html"


def _links(rng: random.Random, index: int, pages: int) -> list[int]:
    # The next page makes every page reachable from / by a chain; the parent and six random
    # pages make the graph shallow (depth about log N) and the frontier grow as in real sites.
    picks = {(index + 1) % pages, index // 2}
    picks.update(rng.randrange(pages) for _ in range(6))
    picks.discard(index)
    return sorted(picks)


def _page(rng: random.Random, index: int, pages: int) -> str:
    links = "\n".join(
        f'<li><a href="{page_path(target)}">{_text(rng, 3)}</a></li>'
        for target in _links(rng, index, pages)
    )
    paragraphs = "\n".join(f"<p>{_text(rng, 70)}</p>" for _ in range(6))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>Page {index}: {_text(rng, 4)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<style>body{font-family:sans-serif;max-width:50em;margin:auto}</style></head>\n"
        '<body><header><nav><a href="/">Home</a></nav></header>\n'
        f"<main><h1>Page {index}</h1>\n{paragraphs}\n"
        f'<h2>Related</h2><ul class="related">\n{links}\n</ul></main>\n'
        f"<footer><p>{_text(rng, 12)}</p></footer></body></html>\n"
    )


def crawl_site(root: Path, pages: int) -> Path:
    """Write a site of ``pages`` interlinked HTML pages (about 4 KB each) under ``root``.

    Every page is reachable from ``/``; each links to about eight others and to ``/``.
    """
    stamp = f"crawl pages={pages}"
    if _stamped(root, stamp):
        return root
    _restart(root)
    rng = random.Random(pages)
    for index, path in _page_files(root, pages):
        path.write_text(_page(rng, index, pages))
    (root / ".complete").write_text(stamp)
    return root


def _page_files(root: Path, pages: int) -> Iterator[tuple[int, Path]]:
    for index in range(pages):
        relative = page_path(index).lstrip("/") or "index.html"
        path = root / relative
        path.parent.mkdir(exist_ok=True)
        yield index, path


def chain_site(root: Path, length: int) -> Path:
    """Write a "next page" chain of ``length`` pages under ``root``; return ``root``.

    ``/chain/0.html`` links only to ``/chain/1.html``, and so on: pagination, where each
    page is found only once the one before it has been fetched and parsed.
    """
    stamp = f"chain length={length}"
    if _stamped(root, stamp):
        return root
    _restart(root)
    (root / "chain").mkdir()
    rng = random.Random(length)
    for index in range(length):
        following = f'<a rel="next" href="/chain/{index + 1}.html">next</a>'
        body = f"<p>{_text(rng, 60)}</p>" + (following if index + 1 < length else "")
        (root / "chain" / f"{index}.html").write_text(
            f"<!doctype html><title>Listing page {index}</title>{body}\n"
        )
    (root / ".complete").write_text(stamp)
    return root
