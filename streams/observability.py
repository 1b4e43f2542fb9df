"""Prometheus metrics shared by processors, sinks and ingest (one registry per process).

Latency = emitted_at − ingested_at of each output event, per processor: the same fields the
benchmarks read.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)

EVENTS_IN = Counter("livelens_events_in_total", "Input events read by processors", ["processor", "kind"])
EVENTS_OUT = Counter("livelens_events_out_total", "Output events emitted", ["processor", "kind"])
LATENCY = Histogram("livelens_latency_seconds", "emitted_at - ingested_at per output event",
                    ["processor"], buckets=LATENCY_BUCKETS)
BUDGET_BREACHES = Counter("livelens_budget_breaches_total", "Output events over their stage budget", ["processor"])
DEAD_LETTERS = Counter("livelens_dead_letters_total", "Inputs rejected to the dead-letter topic",
                       ["source", "reason"])
HANDLER_ERRORS = Counter("livelens_handler_errors_total",
                         "Events a processor's handler raised on (logged; the other handlers still ran)",
                         ["processor"])
DUPLICATES = Counter("livelens_duplicates_total", "Redelivered inputs skipped (at-least-once)", ["processor"])
LATE_EVENTS = Counter("livelens_late_events_total", "Inputs for an already closed window", ["processor"])
SINK_WRITES = Counter("livelens_sink_writes_total", "Sink writes", ["sink", "result"])
SINK_RETRIES = Counter("livelens_sink_retries_total", "Sink writes retried (store unreachable)", ["sink"])
INGEST_EVENTS = Counter("livelens_ingest_events_total", "Events published by ingest", ["topic"])
STAGE_DEGRADED = Gauge("livelens_stage_degraded", "Degradation level of a stage (0 = full quality)",
                       ["processor", "room_id"])
DROPPED = Counter("livelens_dropped_total", "Work skipped to stay within budget", ["processor", "what"])


def reason_label(reason: str) -> str:
    """A low-cardinality label from a dead-letter reason ("schema: ..." -> "schema")."""
    head = reason.split(":", 1)[0].strip().lower()
    return head[:32] or "unknown"


def serve_metrics(host: str, port: int) -> None:
    """Expose /metrics (bind 127.0.0.1 by default: Settings.bind_host)."""
    start_http_server(port, addr=host)


def task_stacks() -> str:
    """Where every asyncio task of the running loop is waiting, innermost await last.

    ``Task.get_stack`` stops at the task's own coroutine; a faust agent's is ``_execute_actor``,
    which says nothing. This follows each coroutine's ``cr_await`` / ``ag_await`` chain down to
    the awaited future, so a stuck agent shows the line of its own code it is stuck on.
    """
    lines: list[str] = []
    for task in asyncio.all_tasks():
        lines.append(f"task {task.get_name()}:")
        obj, depth = task.get_coro(), 0
        while obj is not None and depth < 64:
            frame = getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None) or getattr(obj, "gi_frame", None)
            if frame is not None:
                lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
            nxt = getattr(obj, "cr_await", None) or getattr(obj, "ag_await", None) or getattr(obj, "gi_yieldfrom", None)
            if nxt is not None and type(nxt).__name__ in ("coroutine_wrapper", "async_generator_asend") and frame:
                # a wrapper hides its coroutine: a faust agent awaits its actor, which holds it as .it
                inner = [v.it for v in frame.f_locals.values() if hasattr(v, "it")]
                nxt = inner[0] if inner else nxt
            if nxt is None:
                if frame is None:
                    lines.append(f"  awaiting {obj!r}"[:300])
                break
            obj, depth = nxt, depth + 1
    return "\n".join(lines)
