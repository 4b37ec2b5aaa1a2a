"""Crawling sites: the ``Crawler`` API, the ``corral crawl`` job, its configuration, what
happens to a fetched page (parsing, the callback, links), and robots.txt before fetching."""
