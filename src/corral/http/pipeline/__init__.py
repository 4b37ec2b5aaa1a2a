"""The one job pipeline of fetch and crawl: the flights built from targets, input lines and
stored rows (``_flights``), the store opened (``_open``), the driver (``_drive``: source ->
engine -> sink -> writer), the batch writer (``_writer``), the end of a run and its summary
(``_end``), and how a run is stopped (signals, ``_interrupt``)."""
