"""Replay files of chat and commerce events, timed relative to the stream start.

Format: JSON Lines, UTF-8, one event per line, ``t`` = seconds since the stream start::

    {"t": 12.5, "kind": "chat", "user_id": "u1", "user_name": "小王", "text": "这件有M码吗"}
    {"t": 13.0, "kind": "commerce", "type": "order", "count": 1, "amount": 199.0,
     "product_id": "p1", "user_id": "u2"}
    {"t": 15.0, "kind": "commerce", "type": "viewers", "count": 1834}

Fields per kind (types are checked strictly: ``"count": "1"`` is rejected):

* ``chat``: ``user_id`` (required), ``user_name``, ``text`` (required);
* ``commerce``: ``type`` (order, cart, viewers, like, gift, payment_failed, stock; required),
  ``user_id``, ``product_id``, ``count``, ``amount`` — as in ``schemas.CommerceEvent``.

Other keys are ignored (``room_id``, ``event_id``, ``stream_ms`` and ``ingested_at`` in a line
are ignored too: the room comes from the caller, ``stream_ms = round(t * 1000)``, a fresh
``event_id`` is made, and ``ingested_at`` is stamped when the event is released). Blank lines
are skipped. Lines need not be sorted: events are released in order of ``t`` (stable).

A bad line never raises: it becomes a :class:`ReplayReject` ``(line_no, raw, reason)`` (bad
JSON, invalid UTF-8, not an object, unknown kind, missing/wrong-typed fields, NaN/Infinity,
negative or absurd ``t``, oversized line) for the caller's dead-letter topic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from streams.ingest.edge import EdgeEvent, EdgeReject, parse_edge_line
from streams.ingest.pacing import Pacer

ReplayEvent = EdgeEvent

MAX_LINE_BYTES = 64 * 1024


class ReplayReject(NamedTuple):
    line_no: int  # 1-based
    raw: bytes  # the line as read (truncated to the limit if oversized), without the newline
    reason: str


def parse_replay_line(raw: bytes, line_no: int, room_id: str) -> ReplayEvent | ReplayReject | None:
    """One line → an event, a reject with its reason, or ``None`` for a blank line (the edge's
    one strict parser: :func:`streams.ingest.edge.parse_edge_line`; a replay line needs ``t``)."""
    try:
        return parse_edge_line(raw, room_id)
    except EdgeReject as exc:
        return ReplayReject(line_no, raw, str(exc))


def _read_lines(stream: BinaryIO, max_line_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """Yield (line without newline, oversized) without ever holding more than the limit."""
    while True:
        line = stream.readline(max_line_bytes + 1)
        if not line:
            return
        if line.endswith(b"\n"):
            yield line[:-1].rstrip(b"\r"), False
            continue
        if len(line) <= max_line_bytes:  # last line without a newline
            yield line.rstrip(b"\r"), False
            continue
        head = line[:max_line_bytes]
        while line and not line.endswith(b"\n"):  # skip the rest of the oversized line
            line = stream.readline(max_line_bytes + 1)
        yield head, True


def load_replay(path: Path | str, room_id: str, max_line_bytes: int = MAX_LINE_BYTES
                ) -> tuple[list[ReplayEvent], list[ReplayReject]]:
    """Parse a whole replay file: events (stably sorted by stream time) and rejects."""
    events: list[ReplayEvent] = []
    rejects: list[ReplayReject] = []
    with open(path, "rb") as stream:
        for line_no, (raw, oversized) in enumerate(_read_lines(stream, max_line_bytes), start=1):
            if oversized:
                rejects.append(ReplayReject(line_no, raw, f"oversized: line > {max_line_bytes} bytes"))
                continue
            parsed = parse_replay_line(raw, line_no, room_id)
            if isinstance(parsed, ReplayReject):
                rejects.append(parsed)
            elif parsed is not None:
                events.append(parsed)
    events.sort(key=lambda e: e.stream_ms)
    return events, rejects


class ReplaySource:
    """A replay file as a paced async source: ``async for event in ReplaySource(...)``.

    The file is parsed up front (replay files are small); :attr:`rejects` holds its bad lines and
    ``on_reject`` is called for each. ``ingested_at`` is stamped by whoever publishes the events
    (:func:`streams.ingest.edge.stamp_ingested`).
    """

    def __init__(self, path: Path | str, room_id: str, realtime: bool = True, speed: float = 1.0,
                 *, max_line_bytes: int = MAX_LINE_BYTES,
                 on_reject: Callable[[ReplayReject], None] | None = None):
        self.path = Path(path)
        self.room_id = room_id
        self.pacer = Pacer(realtime, speed)
        self.events, self.rejects = load_replay(self.path, room_id, max_line_bytes)
        if on_reject is not None:
            for reject in self.rejects:
                on_reject(reject)

    async def __aiter__(self) -> AsyncIterator[ReplayEvent]:
        for event in self.events:
            await self.pacer.wait(event.stream_ms)
            yield event
