"""How fast this machine runs interpreter-bound code right now: one figure printed beside benchmark
results so runs from different hours can be compared.

Why: the virtual machines here change speed by 3-4x within a day (BENCHMARKS.md, sessions 6-7), so
the same code's latency and CPU figures move more than most code changes do. The reference is a
fixed workload that touches no project code (so optimising livelens never moves it): JSON
round trips, dict and string work and small numpy calls, the kinds of work a worker's event loop
does per event. Lower is faster.
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np

_EVENT = {"room_id": "ref-room", "event_id": "ref-room:m1", "stream_ms": 123_456, "user_id": "u42",
          "text": "这件衣服多少钱 what size for 165cm", "ingested_at": 1_700_000_000.5}
_WEIGHTS = np.arange(4096 * 2, dtype=np.float32).reshape(4096, 2)


def _workload(n: int = 2000) -> int:
    total = 0
    idx = np.array([3, 17, 400, 2048], dtype=np.int64)
    for i in range(n):
        event = json.loads(json.dumps({**_EVENT, "stream_ms": i}, ensure_ascii=False))
        words = {w: len(w) for w in event["text"].split()}
        total += len(words) + int(_WEIGHTS.take(idx + (i & 1023), axis=0).sum())
    return total


def reference_ms(repeats: int = 5) -> float:
    """Median CPU milliseconds of the fixed workload (this thread, ``time.thread_time``: a
    process's CPU time would also count OpenBLAS's threads, which spin after numpy work and
    doubled the figure in a plain ``python -c`` while the host was quiet)."""
    _workload(200)  # warm up imports and caches
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        _workload()
        times.append((time.thread_time() - start) * 1000.0)
    return round(statistics.median(times), 1)
