"""Where a job's URLs and records live: the ``Frontier`` protocol and its SQLite store, the
one-run lock, the runs table, output checks before anything opens a file, faults on files,
and export."""
