"""Recommendations: the room's live state → next-best actions on ``recommendations``.

Every input (chat message, commerce event, selling point, fused window, alert) updates the
room's :class:`models.recommend.RoomState`, then the rules are evaluated (tens of µs). Two inputs
are read at the source, one broker hop sooner than the processors that publish them:

- chat is read from the chat topic and analysed here (the chat processor's analyzer, shared:
  once per message per worker), not from ``chat_insights``: a burst of questions is answered
  sooner;
- the rate rules (chat or viewers falling, orders after a selling point) take their windows from
  a :class:`models.room_metrics.TumblingRoomMetrics` per room fed here with chat and commerce,
  the same pure model and window (``metrics_window_ms``) the metrics processor publishes on
  ``room_metrics``. Through that topic they were the slowest recommendations under load (all
  rooms' windows close at once, then one hop more: p99 ~390 vs ~240 ms at 50 rooms,
  BENCHMARKS.md); counting here costs ~2 µs an input.

The 300 ms budget runs from the triggering input's ``ingested_at`` to the emitted
recommendation; the base processor records it (``livelens_latency_seconds{processor="recommend"}``)
and counts breaches, and the anomaly processor alerts on them.

Room state is per worker, in memory (deques of recent chat; cooldowns; open windows): after a
failover a room's state is rebuilt from new input within one window (60 s by default).
"""

from __future__ import annotations

import yaml

from models.recommend import RecommendationPolicy, RoomState
from models.room_metrics import TumblingRoomMetrics
from processors.runtime import Input, Output, RoomProcessor, attach
from processors.shared import TEXT_KEEP, WINDOW_SOURCES, SharedChatAnalysis, observe_windows, shared_chat_analysis
from streams.app import AppContext
from streams.schemas import (
    Alert, ChatMessage, CommerceEvent, Event, FusedWindow, Recommendation, SellingPoint, StreamMarker,
)


def load_policies(settings) -> tuple[RecommendationPolicy, dict, dict]:
    base = RecommendationPolicy.from_file(settings.recommend.rules_file)
    overrides = {}
    if settings.recommend.overrides_file:
        overrides = yaml.safe_load(settings.recommend.overrides_file.read_text(encoding="utf-8")) or {}
    return base, overrides.get("brands", {}) or {}, overrides.get("rooms", {}) or {}


class RoomRecommendations:
    """A room's state for the rules, and its own rate windows over chat and commerce."""

    def __init__(self, room_id: str, window_ms: int):
        self.state = RoomState(room_id)
        self.windows = TumblingRoomMetrics(window_ms, WINDOW_SOURCES)


class RecommenderProcessor(RoomProcessor):
    name = "recommend"
    budget = "recommend"
    inputs = {
        "chat": (ChatMessage, StreamMarker), "commerce": (CommerceEvent, StreamMarker),
        "selling_points": (SellingPoint,), "fused": (FusedWindow,), "alerts": (Alert,),
    }

    def __init__(self, settings, analysis: SharedChatAnalysis) -> None:
        super().__init__(settings)
        self.analyze = analysis
        self.base, self.brand_overrides, self.room_overrides = load_policies(settings)
        self.policies: dict[str, RecommendationPolicy] = {}

    def new_state(self, room_id: str) -> RoomRecommendations:
        return RoomRecommendations(room_id, self.settings.metrics_window_ms)

    def policy_for(self, room: str) -> RecommendationPolicy:
        if room not in self.policies:
            layers = [self.brand_overrides.get(self.settings.recommend.room_brands.get(room, "")) or {},
                      self.room_overrides.get(room) or {}]
            layers = [x for x in layers if x]
            self.policies[room] = self.base.with_overrides(*layers) if layers else self.base
        return self.policies[room]

    def observe(self, state: RoomState, ev: Event) -> None:
        if isinstance(ev, ChatMessage):
            analysis = self.analyze(ev)
            state.observe_chat_insight(ev.stream_ms, analysis.intent.label, analysis.sentiment.label,
                                       text=ev.text[:TEXT_KEEP])
        elif isinstance(ev, SellingPoint):
            if ev.closed:
                state.observe_selling_point(ev.label, ev.start_ms, ev.end_ms, text=ev.text)
        elif isinstance(ev, FusedWindow):
            state.observe_fused(ev.end_ms, ev.highlight_score)
        elif isinstance(ev, Alert):
            state.observe_alert(ev.dedup_key, ev.alert_type, ev.state)
        elif isinstance(ev, CommerceEvent) and ev.type == "stock":
            state.observe_stock(ev.product_id or "product", ev.count)

    def handle(self, inp: Input, room: RoomRecommendations) -> list[Output]:
        ev, room_id = inp.event, inp.room_id
        if inp.is_marker("end"):
            return []  # the runtime forgets the room
        state = room.state
        closed = observe_windows(room.windows, inp.topic, inp.offset, ev) if inp.topic in WINDOW_SOURCES else ()
        for w in closed:
            state.observe_metrics(w["window_start_ms"] + w["window_ms"], messages_per_s=w["messages_per_s"],
                                  viewers=w["viewers"], orders=w["orders"], orders_per_min=w["orders_per_min"])
        if isinstance(ev, StreamMarker) or (isinstance(ev, CommerceEvent) and ev.type != "stock"):
            if not closed:
                return []  # only counted: nothing a rule reads changed
        else:
            self.observe(state, ev)
        return [Output("recommendations", Recommendation(
            room_id=room_id, event_id=f"{room_id}:rec:{rec.dedup_key}:{rec.created_ms}",
            stream_ms=ev.stream_ms, ingested_at=ev.ingested_at, rec_type=rec.rec_type,
            message_zh=rec.message_zh, message_en=rec.message_en, reason=rec.reason,
            evidence=rec.evidence, priority=rec.priority, expires_ms=rec.expires_ms,
            dedup_key=rec.dedup_key)) for rec in self.policy_for(room_id).evaluate(state, ev.stream_ms)]


def register(ctx: AppContext) -> None:
    attach(ctx, RecommenderProcessor(ctx.settings, shared_chat_analysis(ctx.extras, ctx.settings)))
