"""Room metrics: chat + commerce in, tumbling-window metrics out (topic ``room_metrics``).

State per room lives in the faust table ``room_metrics`` (restored from its changelog after a
crash), written at each offset commit rather than per input (:class:`streams.state.RoomStates`,
done by the runtime for every table-backed processor); the windowing itself is the pure
:class:`models.room_metrics.TumblingRoomMetrics`. Output event ids are deterministic (room +
window), so a re-emission after a crash is deduplicated by the sinks.
"""

from __future__ import annotations

import json
import time

from models.room_metrics import TumblingRoomMetrics
from processors.runtime import Input, Output, RoomProcessor, attach
from processors.shared import WINDOW_SOURCES, observe_windows
from streams.app import AppContext
from streams.observability import DUPLICATES, LATE_EVENTS
from streams.schemas import ChatMessage, CommerceEvent, RoomMetrics, StreamMarker


def _copy(state: dict | None) -> dict | None:
    return json.loads(json.dumps(state)) if state is not None else None


class MetricsProcessor(RoomProcessor):
    name = "metrics"
    budget = "metrics"
    table = "room_metrics"
    inputs = {"chat": (ChatMessage, StreamMarker), "commerce": (CommerceEvent, StreamMarker)}

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.window_ms = settings.metrics_window_ms
        self.last_seen: dict[str, float] = {}  # room -> wall clock of its last input (the idle flush)

    # the model mutates its state dict in place: it works on a copy of the table's value, and the
    # table gets a copy of the live state (a snapshot at the commit)
    def load_state(self, saved: dict | None) -> TumblingRoomMetrics:
        return TumblingRoomMetrics(self.window_ms, WINDOW_SOURCES, state=_copy(saved))

    def dump_state(self, model: TumblingRoomMetrics) -> dict:
        return _copy(model.state)

    def handle(self, inp: Input, model: TumblingRoomMetrics) -> list[Output]:
        ev, room = inp.event, inp.room_id
        if not inp.is_marker() and model.is_duplicate(inp.topic, inp.offset):
            DUPLICATES.labels(self.name).inc()  # redelivered after a crash: already in the state
            return []
        late_before = model.late_events
        closed = observe_windows(model, inp.topic, inp.offset, ev)
        if inp.is_marker("end"):
            self.last_seen.pop(room, None)
        elif not inp.is_marker("flush"):
            self.last_seen[room] = inp.received_at
        if model.late_events > late_before:
            LATE_EVENTS.labels(self.name).inc()
        return [Output("room_metrics", RoomMetrics(
            room_id=room, event_id=f"{room}:metrics:{w.pop('window_index')}",
            stream_ms=w["window_start_ms"] + w["window_ms"], ingested_at=ev.ingested_at, **w)) for w in closed]


def register(ctx: AppContext) -> None:
    processor = MetricsProcessor(ctx.settings)
    attach(ctx, processor)

    @ctx.app.timer(interval=1.0)
    async def idle_flush():
        # Tables may only change inside stream processing, so the timer sends a "flush"
        # marker through the room's own partition instead of touching the table here.
        now = time.time()
        for room, seen in list(processor.last_seen.items()):
            if now - seen > ctx.settings.idle_flush_s:
                processor.last_seen.pop(room, None)
                marker = StreamMarker(room_id=room, stream_ms=0, marker="flush", source="idle")
                await ctx.topic("chat").send(key=marker.key, value=marker.to_bytes())
