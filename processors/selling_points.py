"""Selling points: final transcript sentences → classified, merged segments on ``selling_points``.

Each final sentence is classified (:class:`models.understanding.segment_classifier.SegmentClassifier`:
sentence encoder + lexical evidence over the room's product-category taxonomy) and consecutive
sentences of one class merge into one segment (:class:`models.understanding.streaming.SellingPointSegmenter`)
with its start and end stream time and words. A segment closes when the class changes, after
``segment_max_gap_ms`` without speech (a 1 s wall-clock timer closes it when the host simply
stops talking), at ``segment_max_ms``, or at the end of the stream. Chit-chat segments are
emitted too, flagged ``chit_chat`` (the clipper skips them; dashboards may show them).

The encoder loads once per worker on the first transcript, in a thread; sentences are classified
on the event loop (``understanding.classify_on_loop``, ~2 ms each with the packaged encoder).
Segmenter state is in memory, so a transcript is acknowledged (its offset may be committed) only
once no open segment holds it: after a crash, the finals of the segment open at the time are
replayed and the segment is built again, nothing lost.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from models.taxonomy import load_taxonomy
from models.understanding.encoders import make_encoder
from models.understanding.segment_classifier import SegmentClassifier
from models.understanding.streaming import SellingPointSegmenter
from processors.base import Processor, release_held
from streams.app import AppContext
from streams.schemas import SegmentRef, SellingPoint, StreamMarker, Transcript, Word

NAME = "selling_points"


@dataclass
class RoomSegments:
    segmenter: SellingPointSegmenter
    last_final_wall: float = 0.0
    last_ingested_at: float = field(default_factory=time.time)
    unacked: deque = field(default_factory=deque)  # (sentence end ms, faust event) an open segment holds

    def ack_done(self) -> None:
        """Acknowledge the finals no open segment holds any more."""
        current = self.segmenter.current()
        held_from = current.start_ms if current is not None else None
        while self.unacked and (held_from is None or self.unacked[0][0] <= held_from):
            self.unacked.popleft()[1].ack()


def register(ctx: AppContext) -> None:
    s = ctx.settings
    u = s.understanding
    proc = Processor(ctx, NAME, s.budgets.understanding)
    rooms: dict[str, RoomSegments] = {}
    models: dict[str, SegmentClassifier] = {}
    source = ctx.topic("transcripts", "segments")

    def classifier() -> SegmentClassifier:
        if "c" not in models:
            taxonomy = load_taxonomy(u.category, u.taxonomy_dir)
            models["c"] = SegmentClassifier(taxonomy, make_encoder(u.encoder), min_score=u.min_score)
        return models["c"]

    async def room(room_id: str) -> RoomSegments:
        if room_id not in rooms:
            first = "c" not in models
            c = await asyncio.to_thread(classifier)
            if first:
                ctx.models_loaded("the sentence encoder")
            rooms[room_id] = RoomSegments(SellingPointSegmenter(c, u.segment_max_gap_ms, u.segment_max_ms))
        return rooms[room_id]

    async def emit(room_id: str, segments, ingested_at: float) -> None:
        for seg in segments:
            words = [w if isinstance(w, Word) else Word(**w) for w in seg.words]
            await proc.emit("selling_points", SellingPoint(
                room_id=room_id, event_id=f"{room_id}:sp:{seg.start_ms}:{seg.label}", stream_ms=seg.end_ms,
                ingested_at=ingested_at, segment_id=f"{room_id}:{seg.start_ms}", category=seg.category,
                label=seg.label, label_zh=seg.label_zh, label_en=seg.label_en, start_ms=seg.start_ms,
                end_ms=seg.end_ms, text=seg.text, confidence=min(max(seg.confidence, 0.0), 1.0),
                evidence=list(seg.evidence)[:20], closed=True, chit_chat=seg.is_chit_chat, words=words))

    @ctx.app.agent(source, name=f"{s.app_id}.selling_points")
    async def selling_points_agent(stream):
        # manual acks: a final's offset is committed only once no open segment holds it
        async for event in stream.noack().events():
            async with proc.guard(event, on_failure=lambda: release_held(event, rooms.values())):
                topic = ctx.topic_name(event)
                ev = await proc.decode(event.value, topic, (Transcript, SegmentRef, StreamMarker))
                if ev is None or isinstance(ev, SegmentRef):
                    event.ack()
                    continue
                if isinstance(ev, StreamMarker):  # the media ended: close the room's open segment
                    if ev.marker == "end" and ev.room_id in rooms:
                        r = rooms.pop(ev.room_id)
                        await emit(ev.room_id, r.segmenter.finish(), r.last_ingested_at)
                        r.ack_done()
                    event.ack()
                    continue
                if not ev.is_final or not ev.text.strip():
                    event.ack()
                    continue
                r = await room(ev.room_id)
                r.last_final_wall, r.last_ingested_at = time.time(), ev.ingested_at
                r.unacked.append((ev.end_ms, event))
                words = [w.model_dump() for w in ev.words]
                if u.classify_on_loop:
                    closed = r.segmenter.insert_sentence(ev.text, ev.start_ms, ev.end_ms, words)
                else:
                    closed = await asyncio.to_thread(r.segmenter.insert_sentence, ev.text, ev.start_ms, ev.end_ms, words)
                await emit(ev.room_id, closed, ev.ingested_at)
                r.ack_done()

    @ctx.app.timer(interval=1.0)
    async def close_quiet_segments():
        now = time.time()
        for room_id, r in list(rooms.items()):
            if r.last_final_wall and now - r.last_final_wall > u.segment_max_gap_ms / 1000 + 1.0:
                current = r.segmenter.current()
                if current is not None:
                    r.last_final_wall = 0.0
                    await emit(room_id, r.segmenter.finish(), r.last_ingested_at)
                    r.ack_done()
