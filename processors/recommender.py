"""Recommendations: the room's live state → next-best actions on ``recommendations``.

Every input (chat message, room metrics, selling point, fused window, alert, stock level)
updates the room's :class:`models.recommend.RoomState`, then the rules are evaluated (tens of
µs). Chat is read from the chat topic and analysed here (the chat processor's analyzer, shared:
once per message per worker), not from ``chat_insights``: a burst of questions is answered one
broker hop sooner. The 300 ms budget runs from the triggering input's ``ingested_at`` to the emitted
recommendation; the base processor records it (``livelens_latency_seconds{processor="recommend"}``)
and counts breaches, and the anomaly processor alerts on them.

Room state is per worker, in memory (deques of recent chat; cooldowns): after a failover a
room's state is rebuilt from new input within one window (60 s by default).
"""

from __future__ import annotations

import yaml

from models.recommend import RecommendationPolicy, RoomState
from processors.base import Processor
from processors.chat import TEXT_KEEP, shared_analysis
from streams.app import AppContext
from streams.schemas import (
    Alert, ChatMessage, CommerceEvent, Event, FusedWindow, Recommendation, RoomMetrics, SellingPoint, StreamMarker,
)

NAME = "recommend"
INPUTS = {
    "chat": (ChatMessage, StreamMarker), "room_metrics": (RoomMetrics,), "selling_points": (SellingPoint,),
    "fused": (FusedWindow,), "alerts": (Alert,), "commerce": (CommerceEvent, StreamMarker),
}


def load_policies(settings) -> tuple[RecommendationPolicy, dict, dict]:
    base = RecommendationPolicy.from_file(settings.recommend.rules_file)
    overrides = {}
    if settings.recommend.overrides_file:
        overrides = yaml.safe_load(settings.recommend.overrides_file.read_text(encoding="utf-8")) or {}
    return base, overrides.get("brands", {}) or {}, overrides.get("rooms", {}) or {}


def register(ctx: AppContext) -> None:
    s = ctx.settings
    proc = Processor(ctx, NAME, s.budgets.recommend)
    base, brand_overrides, room_overrides = load_policies(s)
    policies: dict[str, RecommendationPolicy] = {}
    states: dict[str, RoomState] = {}
    analyze = shared_analysis(ctx)

    def policy_for(room: str) -> RecommendationPolicy:
        if room not in policies:
            layers = [brand_overrides.get(s.recommend.room_brands.get(room, "")) or {},
                      room_overrides.get(room) or {}]
            layers = [x for x in layers if x]
            policies[room] = base.with_overrides(*layers) if layers else base
        return policies[room]

    def observe(state: RoomState, ev: Event) -> None:
        if isinstance(ev, ChatMessage):
            analysis = analyze(ev)
            state.observe_chat_insight(ev.stream_ms, analysis.intent.label, analysis.sentiment.label,
                                       text=ev.text[:TEXT_KEEP])
        elif isinstance(ev, RoomMetrics):
            state.observe_metrics(ev.window_start_ms + ev.window_ms, messages_per_s=ev.messages_per_s,
                                  viewers=ev.viewers, orders=ev.orders, orders_per_min=ev.orders_per_min)
        elif isinstance(ev, SellingPoint):
            if ev.closed:
                state.observe_selling_point(ev.label, ev.start_ms, ev.end_ms, text=ev.text)
        elif isinstance(ev, FusedWindow):
            state.observe_fused(ev.end_ms, ev.highlight_score)
        elif isinstance(ev, Alert):
            state.observe_alert(ev.dedup_key, ev.alert_type, ev.state)
        elif isinstance(ev, CommerceEvent) and ev.type == "stock":
            state.observe_stock(ev.product_id or "product", ev.count)

    async def on_input(event) -> None:
        topic = ctx.topic_name(event)
        ev = await proc.decode(event.value, topic, INPUTS.get(topic, ()))
        if ev is None or isinstance(ev, StreamMarker):
            if ev is not None and ev.marker == "end":
                states.pop(ev.room_id, None)
            return
        if isinstance(ev, CommerceEvent) and ev.type != "stock":
            return  # orders arrive aggregated through room_metrics
        room = ev.room_id
        state = states.get(room) or states.setdefault(room, RoomState(room))
        observe(state, ev)
        for rec in policy_for(room).evaluate(state, ev.stream_ms):
            out = Recommendation(
                room_id=room, event_id=f"{room}:rec:{rec.dedup_key}:{rec.created_ms}",
                stream_ms=ev.stream_ms, ingested_at=ev.ingested_at, rec_type=rec.rec_type,
                message_zh=rec.message_zh, message_en=rec.message_en, reason=rec.reason,
                evidence=rec.evidence, priority=rec.priority, expires_ms=rec.expires_ms,
                dedup_key=rec.dedup_key)
            await proc.emit("recommendations", out)

    ctx.on_event(NAME, list(INPUTS), on_input)
