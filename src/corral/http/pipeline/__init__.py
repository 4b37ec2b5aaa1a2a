"""The one job pipeline of fetch and crawl: a source of requests, the engine, the writer that
batches outcomes into store transactions, and how a run is stopped (signals)."""
