"""The run's reporting: live counters and their snapshot, the progress bar and plain lines,
and the summary printed at the end. It imports nothing else of ``corral.http``."""
