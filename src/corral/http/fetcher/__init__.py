"""Fetching a list of URLs: the ``Fetcher`` API, the ``corral fetch`` job and its input, and
``corral demo``."""
