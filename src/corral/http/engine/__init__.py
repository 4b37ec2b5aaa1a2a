"""The engine every job shares: a request in, its final record out.

Requests (``_request``) wait in per-host queues; the dispatcher (``_dispatch``) hands a worker
one whose host may start now (``_politeness``); the attempt (``_attempt``) makes it on the
aiohttp session (``_connector``), and the engine (``_engine``) retries it or hands its record
(``_result``) to the job's sink. Local faults (out of descriptors) are ``_local``'s.
"""
