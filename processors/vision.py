"""Vision: sampled frames → per-frame features (host presence, face box, motion, cuts, close-up,
black/frozen) on ``vision``.

Analysis (OpenCV, ~60 ms per 320 px frame here) runs in a worker thread (``runs_on = "thread"``). When the stage falls
behind — a frame has already waited longer than the vision budget when its turn comes — the
frame is skipped rather than letting latency grow, and ``livelens_dropped_total{processor="vision"}``
says so (the anomaly stage sees the latency of what is emitted).
"""

from __future__ import annotations

from models.vision import VisionAnalyzer, VisionConfig, decode_jpeg
from processors.runtime import Input, Output, RoomProcessor, attach
from streams.app import AppContext
from streams.observability import DROPPED
from streams.schemas import StreamMarker, VideoFrame, VisionFeatures


class VisionProcessor(RoomProcessor):
    name = "vision"
    budget = "vision"
    inputs = {"frames": (VideoFrame, StreamMarker)}
    runs_on = "thread"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.config = VisionConfig(person_every=settings.vision.person_every, ocr=settings.vision.ocr)

    def new_state(self, room_id: str) -> VisionAnalyzer:
        return VisionAnalyzer(self.config)

    def handle(self, inp: Input, analyzer: VisionAnalyzer) -> list[Output]:
        ev = inp.event
        if isinstance(ev, StreamMarker):
            return []  # the runtime forgets the room at its end
        if (inp.received_at - ev.ingested_at) * 1000 > self.settings.vision.max_frame_ms:
            DROPPED.labels(self.name, "frame").inc()  # behind: skip to stay within budget
            return []
        f = analyzer.analyze(decode_jpeg(ev.jpeg), ev.stream_ms)  # ValueError on undecodable bytes: dead-lettered
        return [Output("vision", VisionFeatures(
            room_id=ev.room_id, event_id=f"{ev.room_id}:vision:{ev.seq}:{ev.stream_ms}", stream_ms=ev.stream_ms,
            ingested_at=ev.ingested_at, frame_seq=ev.seq, faces=f.faces, persons=f.persons,
            face_box=list(f.face_box) if f.face_box else None, motion=f.motion, scene_cut=f.scene_cut,
            closeup=f.closeup, black=f.black, frozen=f.frozen,
            price_text=[str(p) for p in (f.price_text or [])][:10], cost_ms=f.cost_ms))]


def register(ctx: AppContext) -> None:
    attach(ctx, VisionProcessor(ctx.settings))
