"""Fusion: sliding windows of every modality per room → highlight score, conversion forecast and
per-modality attention on ``fused``; the room's own next-window orders teach it online.

Clock: the room's commerce topic (orders/carts/likes/viewers and ingest's watermarks) — a window
``[end − window_ms, end)`` closes when the commerce watermark passes ``end``; windows hop by
``hop_ms``. Modalities computed upstream (transcripts, prosody, vision, chat insights) arrive
with their own stage's delay: what has arrived when the window closes is fused, a modality with
nothing in the window is masked (never zero-filled), so fusion never waits on ASR.

Learning: when the window starting at a closed window's end has closed too, its orders and carts
are the outcome for the earlier one (``OnlineFusionLearner.observe``, every ``fusion.learn_every``-th
window, since a training step costs several predictions). Each room checkpoints
every ``fusion.checkpoint_every`` updates to ``fusion.checkpoint_dir``; after a restart the room
resumes from its checkpoint, a new room warm-starts from ``fusion.shared_checkpoint`` if set,
and until a model has learned enough it answers with the documented prior (models/fusion/prior.py).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import torch

from models.fusion import FusionConfig, OnlineFusionLearner
from models.fusion.learner import _safe as checkpoint_name  # the learner's own file naming
from processors.runtime import Input, Output, RoomProcessor, attach
from streams.app import AppContext
from streams.observability import DROPPED
from streams.schemas import (
    ChatInsight, ChatInsights, CommerceEvent, FusedWindow, Prosody, SellingPoint, StreamMarker, Transcript, VisionFeatures,
    unbatched,
)

log = logging.getLogger(__name__)
INPUTS = {
    "commerce": (CommerceEvent, StreamMarker), "transcripts": (Transcript,), "selling_points": (SellingPoint,),
    "prosody": (Prosody,), "vision": (VisionFeatures,), "chat_insights": (ChatInsight, ChatInsights),
}
#: understanding's chat intents → the fusion model's intent slots
INTENT_SLOTS = {"purchase_signal": "purchase", "asks_price": "price", "asks_size_fit": "size",
                "asks_stock_shipping_returns": "stock", "asks_attribute": "question", "praise": "praise"}


@dataclass
class RoomWindows:
    learner: OnlineFusionLearner
    next_end_ms: int
    events: dict[str, deque] = field(default_factory=lambda: {m: deque() for m in INPUTS})
    pending: dict[int, object] = field(default_factory=dict)  # window end -> its features (awaiting outcome)
    closed: int = 0  # windows closed so far
    to_learn: list = field(default_factory=list)  # (start, end, raw, features) of windows fused, not yet learned from


def window_dict(room: RoomWindows, start: int, end: int) -> dict:
    """The raw window (models/fusion/features.py format) from the events buffered for it."""
    inside = {m: [e for e in q if start <= e.stream_ms < end] for m, q in room.events.items()}
    raw: dict = {"start_ms": start, "end_ms": end}
    finals = [t for t in inside["transcripts"] if t.is_final]
    if finals or inside["selling_points"]:
        raw["transcript"] = {
            "selling_points": [{"label": p.label, "confidence": p.confidence} for p in inside["selling_points"]],
            "words": sum(len(t.words) or len(t.text.split()) for t in finals)}
    if inside["prosody"]:
        p = inside["prosody"][-1]
        raw["prosody"] = {"energy_db": p.energy_db, "pitch_hz": p.pitch_hz, "pitch_std_hz": p.pitch_std_hz,
                          "speaking_rate": p.speaking_rate, "voiced_ratio": p.voiced_ratio}
    if inside["vision"]:
        raw["vision"] = {"frames": [{"faces": v.faces, "motion": v.motion, "closeup": v.closeup,
                                     "scene_cut": v.scene_cut, "black": v.black, "frozen": v.frozen}
                                    for v in inside["vision"]]}
    if inside["chat_insights"]:
        chat = inside["chat_insights"]
        mix = {k: sum(c.sentiment == k for c in chat) / len(chat) for k in ("positive", "neutral", "negative")}
        intents: dict[str, int] = {}
        for c in chat:
            slot = INTENT_SLOTS.get(c.intent, "other")
            intents[slot] = intents.get(slot, 0) + 1
        raw["chat"] = {"messages": len(chat), "sentiment_mix": mix, "intent_counts": intents}
    commerce = [c for c in inside["commerce"] if isinstance(c, CommerceEvent)]
    viewers = [c.count for c in commerce if c.type == "viewers"]
    raw["commerce"] = {"orders": sum(c.type == "order" for c in commerce),
                       "carts": sum(c.count for c in commerce if c.type == "cart"),
                       "likes": sum(c.count for c in commerce if c.type == "like"),
                       "viewers": viewers[-1] if viewers else 0}
    return raw


class FusionProcessor(RoomProcessor):
    name = "fusion"
    budget = "fusion"
    inputs = INPUTS
    # a room's learner loads from its checkpoint (torch.load, tens of ms): in a thread, not on the
    # loop (py-spy at 50 rooms: 3.7 % of the light worker's samples when it ran on the loop)
    new_state_blocks = True

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.f = settings.fusion
        self.checkpoint_dir = Path(self.f.checkpoint_dir or settings.data_dir / "fusion")

    def load_models(self) -> None:
        torch.set_num_threads(max(1, self.f.torch_threads))
        OnlineFusionLearner("warm-up", FusionConfig(), self.checkpoint_dir)  # imports torch's modules (~1 s) once

    def new_learner(self, room_id: str) -> OnlineFusionLearner:
        f = self.f
        own = self.checkpoint_dir / f"{checkpoint_name(room_id)}.pt"
        if own.exists():
            return OnlineFusionLearner.load(own, self.checkpoint_dir)
        if f.shared_checkpoint and Path(f.shared_checkpoint).exists():
            return OnlineFusionLearner.warm_start(f.shared_checkpoint, room_id, self.checkpoint_dir)
        config = FusionConfig(learning_rate=f.learning_rate, min_updates=f.min_updates,
                              checkpoint_every=f.checkpoint_every)
        return OnlineFusionLearner(room_id, config, self.checkpoint_dir)

    def new_state(self, room_id: str) -> RoomWindows:
        return RoomWindows(self.new_learner(room_id), next_end_ms=self.f.window_ms)

    def handle(self, inp: Input, room: RoomWindows) -> list[Output]:
        ev, topic = inp.event, inp.topic
        if isinstance(ev, StreamMarker):
            return self.close_windows(inp, room, ev.stream_ms) if ev.marker in ("end", "watermark", "start") else []
        if isinstance(ev, Transcript) and not ev.is_final:
            return []
        room.events[topic].extend(unbatched(ev))
        return self.close_windows(inp, room, ev.stream_ms) if topic == "commerce" else []

    def close_windows(self, inp: Input, room: RoomWindows, clock_ms: int) -> list[Output]:
        """Fuse every window the clock has passed: featurize + predict (~0.1 ms, ~1 ms once a room's
        model answers); each window's learning step waits for ``after``."""
        f, cause, room_id = self.f, inp.event, inp.room_id
        outputs = []
        while clock_ms >= room.next_end_ms:
            end = room.next_end_ms
            start = max(0, end - f.window_ms)
            raw = window_dict(room, start, end)
            features = room.learner.featurize(raw)
            out = room.learner.predict(features, influence=True)
            room.next_end_ms += f.hop_ms
            outputs.append(Output("fused", FusedWindow(
                room_id=room_id, event_id=f"{room_id}:fused:{end}", stream_ms=end, ingested_at=cause.ingested_at,
                start_ms=start, end_ms=end, highlight_score=min(max(out.highlight, 0.0), 1.0),
                conversion_forecast=max(out.orders_forecast, 0.0), attention=out.attention,
                modalities=list(out.modalities), learned=out.learned, influence=out.influence)))
            room.to_learn.append((start, end, raw, features))
        return outputs

    def after(self, inp: Input, room: RoomWindows) -> None:
        """Learn from each window before a closed one, with the closed one's orders as its outcome
        (every ``learn_every``-th window: a step costs ~5 ms; never when the worker is behind);
        save the room's model at its end."""
        f = self.f
        may_learn = (inp.received_at - inp.event.ingested_at) * 1000.0 <= f.learn_max_lag_ms
        for start, end, raw, features in room.to_learn:
            earlier = room.pending.pop(start, None)  # the window that ended where this one starts
            room.closed += 1
            if earlier is not None and room.closed % max(1, f.learn_every) == 0:
                if may_learn:
                    room.learner.observe(earlier, raw["commerce"]["orders"], raw["commerce"]["carts"])
                else:
                    DROPPED.labels(self.name, "learning_step").inc()
            room.pending[end] = features
            horizon = end - 2 * f.window_ms
            for q in room.events.values():
                while q and q[0].stream_ms < horizon:
                    q.popleft()
            for old in [k for k in room.pending if k < horizon]:
                room.pending.pop(old, None)
        room.to_learn.clear()
        if inp.is_marker("end"):
            room.learner.save()


def register(ctx: AppContext) -> None:
    attach(ctx, FusionProcessor(ctx.settings))
