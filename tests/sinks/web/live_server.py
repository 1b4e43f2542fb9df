"""Serve an ASGI app with uvicorn on a free 127.0.0.1 port in a background thread (tests only).

TestClient cannot read an endless SSE response incrementally, and a browser needs a real
socket, so the SSE and end-to-end tests use a real server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from streams.embedded import free_port


@contextmanager
def serve(app, startup_timeout: float = 20.0) -> Iterator[str]:
    """Yield the server's base URL (``http://127.0.0.1:<port>``); stop it on exit."""
    port = free_port("127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.time() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
