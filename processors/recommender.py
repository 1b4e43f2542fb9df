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

Explain next (docs/FORECASTING.md): each room also keeps an
:class:`models.attribution.UpliftAttribution`. Closed selling points are its explanations (the
taxonomy class as label; ``PROMOTION_LABELS`` count as promotions); its windows are one-minute
windows summed from the recommender's own rate windows (orders, carts, viewers, and the positive
chat messages counted as they are analysed), so ``observe_window`` (~1-2 ms) runs once per room
per minute, never per chat message. When a rate window or a selling point closes (not per chat
message), :func:`models.recommend.explain_next.rank_explain_next` ranks what to explain next and
:func:`explain_next_recommendations` adds ``explain_next`` / ``run_promotion`` recommendations with
evidence (uplift and interval, minutes since last explained, the viewers' top question), under the
room state's dedup and a cooldown of their TTL, ranked with the rules by priority.

Room state is per worker, in memory (deques of recent chat; cooldowns; open windows; the
attribution): after a failover a room's rule state is rebuilt from new input within one window
(60 s by default). Its attribution starts from its category's prior
(:class:`models.attribution.CategoryPriorStore` under ``recommend.prior_dir``; the category is the
rooms file's, else ``understanding.category``), and a room that ends adds its estimates to that
prior (one small JSON file per category, renamed into place), so the next room starts warm.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import yaml

from models.attribution import CategoryPriorStore, PriorStoreError, UpliftAttribution
from models.attribution.scenario import PROMOTION_CLASSES
from models.fusion.why import why_text
from models.recommend import RecommendationPolicy, RoomState
from models.recommend.explain_next import explain_next_recommendations, load_explain_next_config, rank_explain_next
from models.recommend.policy import Recommendation as Rec
from models.taxonomy import load_taxonomy
from models.room_metrics import TumblingRoomMetrics
from processors.runtime import Input, Output, RoomProcessor, attach
from processors.shared import TEXT_KEEP, WINDOW_SOURCES, SharedChatAnalysis, observe_windows, shared_chat_analysis
from streams.app import AppContext
from streams.rooms import load_rooms
from streams.schemas import (
    Alert, ChatMessage, CommerceEvent, Event, FusedWindow, Recommendation, SellingPoint, StreamMarker,
)


def load_policies(settings) -> tuple[RecommendationPolicy, dict, dict]:
    base = RecommendationPolicy.from_file(settings.recommend.rules_file)
    overrides = {}
    if settings.recommend.overrides_file:
        overrides = yaml.safe_load(settings.recommend.overrides_file.read_text(encoding="utf-8")) or {}
    return base, overrides.get("brands", {}) or {}, overrides.get("rooms", {}) or {}


#: selling-point classes that are promotions (the attribution ranks them apart: ``run_promotion``)
PROMOTION_LABELS = frozenset(PROMOTION_CLASSES)
MINUTE_MS = 60_000
log = logging.getLogger(__name__)


class RoomRecommendations:
    """A room's state for the rules, its own rate windows over chat and commerce, and its
    attribution fed one-minute windows summed from those."""

    def __init__(self, room_id: str, window_ms: int, category: str = "", prior: dict | None = None):
        self.state = RoomState(room_id)
        self.windows = TumblingRoomMetrics(window_ms, WINDOW_SOURCES)
        self.category = category
        self.attribution = UpliftAttribution.warm(room_id, prior or {})
        self.minute: dict | None = None  # the open one-minute window: start_ms, orders, carts, positive, viewers
        self.positive_chat = 0  # positive chat messages since the last rate window closed
        self.fusion_influence: dict[str, float] = {}  # the latest fused window's per-modality influence
        self.fusion_end_ms = -1  # and its end

    def add_window(self, w: dict) -> None:
        """One closed rate window into the open minute; a window of a later minute closes it first."""
        start = w["window_start_ms"] // MINUTE_MS * MINUTE_MS
        if self.minute is not None and self.minute["start_ms"] != start:
            self.close_minute()
        if self.minute is None:
            self.minute = {"start_ms": start, "orders": 0, "carts": 0, "positive": 0, "viewers": None}
        m = self.minute
        m["orders"] += w["orders"]
        m["carts"] += w["carts"]
        m["positive"] += self.positive_chat
        self.positive_chat = 0
        if w["viewers"] is not None:
            m["viewers"] = w["viewers"]

    def close_minute(self) -> None:
        m, self.minute = self.minute, None
        if m is not None:
            self.attribution.observe_window(m["start_ms"], MINUTE_MS, m["viewers"], m["orders"], m["carts"], m["positive"])


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
        self.explain_config = load_explain_next_config()
        self.taxonomy = load_taxonomy(settings.understanding.category, settings.understanding.taxonomy_dir)
        self.prior_store = CategoryPriorStore(settings.recommend.prior_dir or settings.data_dir / "attribution")

    def category_of(self, room_id: str) -> str:
        declared = load_rooms(self.settings.rooms_file).get(room_id)
        return (declared.category if declared else "") or self.settings.understanding.category

    def new_state(self, room_id: str) -> RoomRecommendations:
        category = self.category_of(room_id)
        try:
            prior = self.prior_store.prior(category)
        except PriorStoreError as exc:  # a damaged prior file: start cold, say so, keep the file
            log.warning("%s; room %s starts without a category prior", exc, room_id)
            prior = {}
        return RoomRecommendations(room_id, self.settings.metrics_window_ms, category, prior)

    def end_room(self, room: RoomRecommendations) -> None:
        """The room's last minute into its attribution, then its estimates into the category prior."""
        room.close_minute()
        try:
            self.prior_store.add_room(room.category, room.attribution)
        except (PriorStoreError, OSError) as exc:
            log.warning("room %s: its attribution was not added to the %r prior: %s", room.state.room_id, room.category, exc)

    def policy_for(self, room: str) -> RecommendationPolicy:
        if room not in self.policies:
            layers = [self.brand_overrides.get(self.settings.recommend.room_brands.get(room, "")) or {},
                      self.room_overrides.get(room) or {}]
            layers = [x for x in layers if x]
            self.policies[room] = self.base.with_overrides(*layers) if layers else self.base
        return self.policies[room]

    def observe(self, room: RoomRecommendations, ev: Event) -> None:
        state = room.state
        if isinstance(ev, ChatMessage):
            analysis = self.analyze(ev)
            state.observe_chat_insight(ev.stream_ms, analysis.intent.label, analysis.sentiment.label,
                                       text=ev.text[:TEXT_KEEP])
            room.positive_chat += analysis.sentiment.label == "positive"
        elif isinstance(ev, SellingPoint):
            if ev.closed:
                state.observe_selling_point(ev.label, ev.start_ms, ev.end_ms, text=ev.text)
                if not ev.chit_chat and ev.label not in ("chit_chat", "call_to_action"):
                    kind = "promotion" if ev.label in PROMOTION_LABELS else "selling_point"
                    room.attribution.observe_explanation(ev.start_ms, ev.end_ms, ev.label, kind)
        elif isinstance(ev, FusedWindow):
            state.observe_fused(ev.end_ms, ev.highlight_score)
            room.fusion_influence, room.fusion_end_ms = dict(ev.influence), ev.end_ms
        elif isinstance(ev, Alert):
            state.observe_alert(ev.dedup_key, ev.alert_type, ev.state)
        elif isinstance(ev, CommerceEvent) and ev.type == "stock":
            state.observe_stock(ev.product_id or "product", ev.count)

    def handle(self, inp: Input, room: RoomRecommendations) -> list[Output]:
        ev, room_id = inp.event, inp.room_id
        if inp.is_marker("end"):
            self.end_room(room)
            return []  # the runtime forgets the room (its attribution is in the category prior)
        state = room.state
        closed = observe_windows(room.windows, inp.topic, inp.offset, ev) if inp.topic in WINDOW_SOURCES else ()
        for w in closed:
            state.observe_metrics(w["window_start_ms"] + w["window_ms"], messages_per_s=w["messages_per_s"],
                                  viewers=w["viewers"], orders=w["orders"], orders_per_min=w["orders_per_min"])
            room.add_window(w)
        if isinstance(ev, StreamMarker) or (isinstance(ev, CommerceEvent) and ev.type != "stock"):
            if not closed:
                return []  # only counted: nothing a rule reads changed
        else:
            self.observe(room, ev)
        recs = self.policy_for(room_id).evaluate(state, ev.stream_ms)
        if closed or (isinstance(ev, SellingPoint) and ev.closed):
            recs = sorted(recs + self.explain_next(room, ev.stream_ms), key=lambda r: -r.priority)
        return [Output("recommendations", Recommendation(
            room_id=room_id, event_id=f"{room_id}:rec:{rec.dedup_key}:{rec.created_ms}",
            stream_ms=ev.stream_ms, ingested_at=ev.ingested_at, rec_type=rec.rec_type,
            message_zh=rec.message_zh, message_en=rec.message_en, reason=rec.reason,
            evidence=rec.evidence, priority=rec.priority, expires_ms=rec.expires_ms,
            dedup_key=rec.dedup_key)) for rec in recs]

    def explain_next(self, room: RoomRecommendations, now_ms: int) -> list[Rec]:
        """What to explain (and which promotion to run) next, under the room's dedup and a
        cooldown of the recommendation's TTL per kind (``evaluate`` already dropped expired keys)."""
        state = room.state
        ttl_ms = int(self.explain_config.ttl_s * 1000)
        kinds = [k for k in ("selling_point", "promotion")
                 if now_ms - state.last_fired_ms.get(f"explain_next.{k}", -ttl_ms) >= ttl_ms]
        if not kinds:
            return []
        ranking = rank_explain_next(room.attribution, now_ms, state.intent_counts, state.top_question_by_intent(),
                                    self.explain_config, self.taxonomy)
        out = []
        top_question = state.context(now_ms).get("top_question", "") if state.question_counts else ""
        for rec in explain_next_recommendations(state.room_id, ranking, now_ms, self.explain_config, self.taxonomy):
            kind = rec.rule.rsplit(".", 1)[-1]
            if kind not in kinds or rec.dedup_key in state.live_dedup:
                continue
            evidence = {**rec.evidence, "room_top_question": top_question, **fusion_why(room, now_ms)}
            out.append(replace(rec, evidence=evidence))
            state.last_fired_ms[rec.rule] = now_ms
            state.live_dedup[rec.dedup_key] = rec.expires_ms
        return out


#: a fused window older than this says nothing about now (they come every hop, 2 s by default)
FUSION_WHY_MAX_AGE_MS = 30_000


def fusion_why(room: RoomRecommendations, now_ms: int) -> dict[str, str]:
    """The host's "why" from the latest fused window, if recent: what moves the orders forecast (zh, en)."""
    if not room.fusion_influence or now_ms - room.fusion_end_ms > FUSION_WHY_MAX_AGE_MS:
        return {}
    return {"fusion_why_zh": why_text(room.fusion_influence, "zh"), "fusion_why_en": why_text(room.fusion_influence, "en")}


def register(ctx: AppContext) -> None:
    attach(ctx, RecommenderProcessor(ctx.settings, shared_chat_analysis(ctx.extras, ctx.settings)))
