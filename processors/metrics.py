"""Room metrics: chat + commerce in, tumbling-window metrics out (topic ``room_metrics``).

State per room lives in the faust table ``room_metrics`` (restored from its changelog after a
crash), written at each offset commit rather than per input (:class:`streams.state.RoomStates`,
done by the runtime for every table-backed processor); the windowing itself is the pure
:class:`models.room_metrics.TumblingRoomMetrics`. Output event ids are deterministic (room +
window), so a re-emission after a crash is deduplicated by the sinks.

Promotions: a ``promotion_start`` / ``promotion_end`` commerce event is passed on at once as a
:class:`~streams.schemas.Promotion` (``running`` with its planned end, or ``ended``) on the
``room_activity`` topic (``room_metrics``'s readers take windows only), for the prompter's
countdown; it needs no state (the start event carries its end), and its
id (room + promotion + state + time) makes a re-emission a duplicate the sinks drop.

Retention: the room's viewer counts and its closed selling points feed a
:class:`models.retention.SellingPointRetention` (state in the same table entry, key
``retention``): a :class:`~streams.schemas.Retention` once the commerce clock (viewer counts,
watermarks) has reached a closed selling point's end (viewers at its start and end, joined / left)
and a final one ``metrics_retention_after_ms`` after its end.
"""

from __future__ import annotations

import json
import time

from models.retention import SellingPointRetention
from models.room_metrics import TumblingRoomMetrics
from processors.runtime import Input, Output, RoomProcessor, attach
from processors.shared import WINDOW_SOURCES, observe_windows
from streams.app import AppContext
from streams.observability import DUPLICATES, LATE_EVENTS
from streams.schemas import ChatMessage, CommerceEvent, Promotion, Retention, RoomMetrics, SellingPoint, StreamMarker

PROMOTION_STATES = {"promotion_start": "running", "promotion_end": "ended"}


def _copy(state: dict | None) -> dict | None:
    return json.loads(json.dumps(state)) if state is not None else None


class MetricsProcessor(RoomProcessor):
    name = "metrics"
    budget = "metrics"
    table = "room_metrics"
    inputs = {"chat": (ChatMessage, StreamMarker), "commerce": (CommerceEvent, StreamMarker), "selling_points": (SellingPoint,)}

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

    def retention(self, model: TumblingRoomMetrics) -> SellingPointRetention:
        return SellingPointRetention(model.state.setdefault("retention", {"samples": [], "waiting": []}),
                                     after_ms=self.settings.metrics_retention_after_ms)

    def retention_outputs(self, inp: Input, rows: list[dict]) -> list[Output]:
        ev = inp.event
        return [Output("room_activity", Retention(
            room_id=inp.room_id, event_id=f"{inp.room_id}:retention:{r['segment_id']}:{'final' if r['final'] else 'close'}",
            stream_ms=ev.stream_ms, ingested_at=ev.ingested_at, processor=self.name, **r)) for r in rows]

    def handle(self, inp: Input, model: TumblingRoomMetrics) -> list[Output]:
        ev, room = inp.event, inp.room_id
        if isinstance(ev, SellingPoint):  # not a window source: only the retention reads it
            if not ev.closed or ev.chit_chat or model.is_duplicate(inp.topic, inp.offset):
                return []
            model._applied(inp.topic, inp.offset)
            return self.retention_outputs(inp, self.retention(model).observe_selling_point(ev.segment_id, ev.label, ev.start_ms, ev.end_ms))
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
        outputs = [Output("room_metrics", RoomMetrics(
            room_id=room, event_id=f"{room}:metrics:{w.pop('window_index')}",
            stream_ms=w["window_start_ms"] + w["window_ms"], ingested_at=ev.ingested_at, **w)) for w in closed]
        if isinstance(ev, CommerceEvent) and ev.type in PROMOTION_STATES:
            outputs.append(Output("room_activity", promotion_of(ev)))
        if isinstance(ev, CommerceEvent) and ev.type == "viewers":
            outputs += self.retention_outputs(inp, self.retention(model).observe_viewers(ev.stream_ms, ev.count))
        elif inp.topic == "commerce" and isinstance(ev, StreamMarker) and ev.marker in ("watermark", "end"):
            outputs += self.retention_outputs(inp, self.retention(model).advance(ev.stream_ms))
        return outputs


def promotion_of(ev: CommerceEvent) -> Promotion:
    """A promotion_start / promotion_end commerce event as the room's promotion state."""
    state = PROMOTION_STATES[ev.type]
    promotion_id = ev.promotion_id or ev.product_id or "promotion"
    ends_ms = ev.ends_ms if state == "running" else ev.stream_ms
    if ends_ms is not None and ends_ms < ev.stream_ms:
        ends_ms = ev.stream_ms  # an end in the past: it is over now, never a negative countdown
    return Promotion(room_id=ev.room_id, event_id=f"{ev.room_id}:promotion:{promotion_id}:{state}:{ev.stream_ms}",
                     stream_ms=ev.stream_ms, ingested_at=ev.ingested_at, processor="metrics", promotion_id=promotion_id,
                     title=ev.title, product_id=ev.product_id, state=state, start_ms=ev.stream_ms, ends_ms=ends_ms)


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
