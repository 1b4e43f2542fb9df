"""Vision: sampled frames → per-frame features (host presence, face box, motion, cuts, close-up,
black/frozen) on ``vision``.

Analysis (OpenCV, ~60 ms per 320 px frame here) runs in a worker thread. When the stage falls
behind — a frame has already waited longer than the vision budget when its turn comes — the
frame is skipped rather than letting latency grow, and ``livelens_dropped_total{processor="vision"}``
says so (the anomaly stage sees the latency of what is emitted).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from models.vision import VisionAnalyzer, VisionConfig, decode_jpeg
from processors.base import Processor
from streams.app import AppContext
from streams.observability import DROPPED
from streams.schemas import StreamMarker, VideoFrame, VisionFeatures

NAME = "vision"


def register(ctx: AppContext) -> None:
    s = ctx.settings
    proc = Processor(ctx, NAME, s.budgets.vision)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vision")
    config = VisionConfig(person_every=s.vision.person_every, ocr=s.vision.ocr)
    analyzers: dict[str, VisionAnalyzer] = {}

    def analyze(room_id: str, jpeg: bytes, t_ms: int):
        frame = decode_jpeg(jpeg)  # ValueError on undecodable bytes
        analyzer = analyzers.get(room_id) or analyzers.setdefault(room_id, VisionAnalyzer(config))
        return analyzer.analyze(frame, t_ms)

    @ctx.app.agent(ctx.topic("frames"), name=f"{s.app_id}.vision")
    async def vision_agent(stream):
        async for event in stream.events():
            async with proc.guard(event):
                ev = await proc.decode(event.value, "frames", (VideoFrame, StreamMarker))
                if ev is None:
                    continue
                if isinstance(ev, StreamMarker):
                    if ev.marker == "end":
                        analyzers.pop(ev.room_id, None)
                    continue
                waited_ms = (time.time() - ev.ingested_at) * 1000
                if waited_ms > s.vision.max_frame_ms:
                    DROPPED.labels(NAME, "frame").inc()  # behind: skip to stay within budget
                    continue
                try:
                    f = await asyncio.get_running_loop().run_in_executor(pool, analyze, ev.room_id, ev.jpeg, ev.stream_ms)
                except Exception as exc:  # noqa: BLE001 - a bad frame must not stop the stage
                    await proc.reject(event.value, f"vision: {type(exc).__name__}: {exc}"[:200], "frames", ev.room_id)
                    continue
                await proc.emit("vision", VisionFeatures(
                    room_id=ev.room_id, event_id=f"{ev.room_id}:vision:{ev.seq}:{ev.stream_ms}", stream_ms=ev.stream_ms,
                    ingested_at=ev.ingested_at, frame_seq=ev.seq, faces=f.faces, persons=f.persons,
                    face_box=list(f.face_box) if f.face_box else None, motion=f.motion, scene_cut=f.scene_cut,
                    closeup=f.closeup, black=f.black, frozen=f.frozen,
                    price_text=[str(p) for p in (f.price_text or [])][:10], cost_ms=f.cost_ms))
