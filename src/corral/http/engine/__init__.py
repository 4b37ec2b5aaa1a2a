"""The engine every job shares: a request in flight in, its final record out.

Requests in flight (``_flight``, built from ``_request``) wait in per-host queues; the
dispatcher (``_dispatch``) hands a worker one whose host may start now (``_politeness``);
the attempt (``_attempt``) makes it on the aiohttp session (``_connector``), and the engine
(``_engine``) retries it or hands its record (``_result``) to the job's sink. Local faults
(out of descriptors) are ``_local``'s. ``_runtime`` owns one session with its politeness,
counters and engine, for a fetcher, a crawler or a job.
"""
