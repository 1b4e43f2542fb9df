"""Room metrics: chat + commerce in, tumbling-window metrics out (topic ``room_metrics``).

State per room lives in the faust table ``room_metrics`` (restored from its changelog after a
crash), written at each offset commit rather than per input (:class:`streams.state.RoomStates`);
the windowing itself is the pure :class:`models.room_metrics.TumblingRoomMetrics`.
Output event ids are deterministic (room + window), so a re-emission after a crash is
deduplicated by the sinks.
"""

from __future__ import annotations

import json
import time

from models.room_metrics import TumblingRoomMetrics
from processors.base import Processor
from streams.app import AppContext
from streams.observability import DUPLICATES, LATE_EVENTS
from streams.schemas import ChatMessage, CommerceEvent, RoomMetrics, StreamMarker

NAME = "metrics"
TABLE = "room_metrics"
SOURCES = ("chat", "commerce")


def _copy(state: dict | None) -> dict | None:
    return json.loads(json.dumps(state)) if state is not None else None


def observe(model: TumblingRoomMetrics, source: str, position: int | None,
            ev: ChatMessage | CommerceEvent | StreamMarker) -> list[dict]:
    """Feed one input of ``source`` (its Kafka offset as ``position``) to a room's windows; the
    windows it closed. Shared with the recommender, which keeps windows of its own."""
    if isinstance(ev, StreamMarker):
        if ev.marker == "end":
            return model.end_of_input(source)
        if ev.marker == "flush":  # the idle flush below, sent through the room's chat partition
            return model.flush(final=False)
        return model.observe_watermark(source, ev.stream_ms)  # start / watermark
    if isinstance(ev, ChatMessage):
        return model.observe_chat(source, position, ev.stream_ms, ev.user_id)
    return model.observe_commerce(source, position, ev.stream_ms, ev.type, ev.count, ev.amount)


def register(ctx: AppContext) -> None:
    proc = Processor(ctx, NAME, ctx.settings.budgets.metrics)
    window_ms = ctx.settings.metrics_window_ms
    table = ctx.app.Table(TABLE, default=None, partitions=ctx.settings.partitions)
    ctx.tables.append(TABLE)
    last_seen_wall: dict[str, float] = {}  # room -> wall clock of its last input (idle flush)
    # the model mutates its state dict in place: it works on a copy of the table's value, and the
    # table gets a copy of the live state (a snapshot at the commit)
    states = ctx.room_states(table, load=lambda saved: TumblingRoomMetrics(window_ms, SOURCES, state=_copy(saved)),
                             dump=lambda model: _copy(model.state))

    async def emit(room_id: str, windows: list[dict], ingested_at: float) -> None:
        for w in windows:
            await proc.emit("room_metrics", RoomMetrics(
                room_id=room_id, event_id=f"{room_id}:metrics:{w.pop('window_index')}",
                stream_ms=w["window_start_ms"] + w["window_ms"], ingested_at=ingested_at, **w,
            ))

    async def on_input(event) -> None:
        topic_name = ctx.topic_name(event)
        ev = await proc.decode(event.value, topic_name, (ChatMessage, CommerceEvent, StreamMarker))
        if ev is None:
            return
        room = ev.room_id
        model = states.get(room, event.message.partition)
        late_before = model.late_events
        if not isinstance(ev, StreamMarker) and model.is_duplicate(topic_name, event.message.offset):
            DUPLICATES.labels(NAME).inc()  # redelivered after a crash: already in the state
            return
        closed = observe(model, topic_name, event.message.offset, ev)
        if isinstance(ev, StreamMarker) and ev.marker == "end":
            last_seen_wall.pop(room, None)
        elif not (isinstance(ev, StreamMarker) and ev.marker == "flush"):
            last_seen_wall[room] = time.time()
        if model.late_events > late_before:
            LATE_EVENTS.labels(NAME).inc()
        await states.applied(room, emit(room, closed, ev.ingested_at) if closed else None)

    ctx.on_event(NAME, SOURCES, on_input)

    @ctx.app.timer(interval=1.0)
    async def idle_flush():
        # Tables may only change inside stream processing, so the timer sends a "flush"
        # marker through the room's own partition instead of touching the table here.
        now = time.time()
        for room, seen in list(last_seen_wall.items()):
            if now - seen > ctx.settings.idle_flush_s:
                last_seen_wall.pop(room, None)
                marker = StreamMarker(room_id=room, stream_ms=0, marker="flush", source="idle")
                await ctx.topic("chat").send(key=marker.key, value=marker.to_bytes())
