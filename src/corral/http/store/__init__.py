"""Where a job's URLs and results live: the frontier and its SQLite store, the one-run lock,
the runs table, output checks before anything opens a file, faults on files, and export."""
