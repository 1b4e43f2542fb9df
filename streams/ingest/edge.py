"""The ingest edge: how an event from outside becomes an event on an input topic, once for all edges.

Every way in — a replay file (``livelens ingest --replay``), HTTP (``POST /ingest/{room}``), media
ingest, and producers writing straight to the input topics — goes through the same rules:

- one strict parser for chat and commerce lines (:func:`parse_edge_object`): types are checked,
  not coerced (``"count": "1"`` is a data error everywhere, also on Kafka: ``decode_event`` is
  strict); NaN/Infinity, unknown kinds and out-of-range times are rejected with a reason;
- one table of which input topic each kind goes to (:data:`TOPIC_FOR_KIND`);
- ``ingested_at`` stamped in one place, right before the event enters Kafka (:func:`stamp_ingested`,
  called by :meth:`streams.ingest.publisher.Publisher.publish`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Union

from pydantic import ValidationError

from streams.schemas import MAX_STREAM_MS, SCHEMA_VERSION, ChatMessage, CommerceEvent, Event, loads_strict

EdgeEvent = Union[ChatMessage, CommerceEvent]

#: event kind -> the input topic it goes to (``streams.topics.TOPICS`` keys)
TOPIC_FOR_KIND = {"audio": "audio", "frame": "frames", "segment": "segments", "chat": "chat", "commerce": "commerce"}

#: kinds a line may carry, and the fields taken from it (room_id and ingested_at are never taken
#: from outside: the room comes from the caller, ingested_at is stamped on the way into Kafka). An
#: ``event_id`` is kept when given (a producer's retry is then deduplicated), else one is made.
EDGE_FIELDS: dict[str, tuple[type[EdgeEvent], tuple[str, ...]]] = {
    "chat": (ChatMessage, ("event_id", "user_id", "user_name", "text")),
    "commerce": (CommerceEvent, ("event_id", "type", "user_id", "product_id", "count", "amount")),
}


class EdgeReject(ValueError):
    """A line that cannot enter the pipeline; ``str()`` is the one-line reason."""


def stamp_ingested(event: Event) -> Event:
    """Set ``ingested_at`` to now: called once, right before the event enters Kafka."""
    event.ingested_at = time.time()
    return event


def parse_edge_line(raw: bytes, room_id: str, default_stream_ms: Callable[[], int] | None = None) -> EdgeEvent | None:
    """One JSON line → an event (None for a blank line); :class:`EdgeReject` with the reason otherwise."""
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EdgeReject(f"invalid UTF-8 at byte {exc.start}") from None
    try:
        obj = loads_strict(text)
    except (ValueError, RecursionError) as exc:
        raise EdgeReject(f"bad JSON: {str(exc)[:120]}") from None
    return parse_edge_object(obj, room_id, default_stream_ms)


def parse_edge_object(obj: Any, room_id: str, default_stream_ms: Callable[[], int] | None = None) -> EdgeEvent:
    """A decoded JSON value → a chat or commerce event of ``room_id``, strictly typed.

    Its time: ``t`` (seconds since the stream start, replay files) or ``stream_ms``; else
    ``default_stream_ms()`` (HTTP: since the room's start call), else it is rejected.
    """
    if not isinstance(obj, dict):
        raise EdgeReject("not a JSON object")
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in EDGE_FIELDS:  # a list/dict kind is unhashable
        raise EdgeReject(f"unknown kind: {str(kind)[:40]!r} (chat or commerce)")
    if obj.get("version", SCHEMA_VERSION) != SCHEMA_VERSION or isinstance(obj.get("version"), bool):
        raise EdgeReject(f"unsupported version: {str(obj.get('version'))[:20]} (this is version {SCHEMA_VERSION})")
    stream_ms = _stream_ms(obj, default_stream_ms)
    cls, fields = EDGE_FIELDS[kind]
    data = {k: obj[k] for k in fields if k in obj and not (k == "event_id" and obj[k] in ("", None))}
    try:
        # strict: "count": "1" or "text": 5 are data errors, not something to coerce silently
        return cls.model_validate({**data, "room_id": room_id, "stream_ms": stream_ms}, strict=True)
    except ValidationError as exc:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]]
        raise EdgeReject("schema: " + "; ".join(parts)[:300]) from None


def _stream_ms(obj: dict, default_stream_ms: Callable[[], int] | None) -> int:
    if "t" in obj and "stream_ms" in obj:
        raise EdgeReject("give t (seconds) or stream_ms, not both")
    if "t" in obj:
        t = obj["t"]
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise EdgeReject("t: must be a number of seconds")
        if not math.isfinite(t) or t < 0 or t * 1000 > MAX_STREAM_MS:
            raise EdgeReject(f"t: out of range (0..{MAX_STREAM_MS // 1000} s): {t!r}")
        return int(round(t * 1000))
    if "stream_ms" in obj:
        ms = obj["stream_ms"]
        if isinstance(ms, bool) or not isinstance(ms, int):
            raise EdgeReject("stream_ms: must be an integer number of milliseconds")
        if not 0 <= ms <= MAX_STREAM_MS:
            raise EdgeReject(f"stream_ms: out of range (0..{MAX_STREAM_MS}): {ms!r}")
        return ms
    if default_stream_ms is None:
        raise EdgeReject("t: must be a number of seconds")
    return default_stream_ms()
