"""Anomaly alerts: stream health, engagement, commerce and pipeline signals → ``alerts``.

Inputs: audio chunks (silence, ingest gaps, timestamp jumps, ingest lag), frames (black,
frozen, gaps), room metrics (viewers, chat rate, orders, payment failures), chat windows
(negative-sentiment share), and the latency of outputs (transcripts, recommendations, clips)
and dead letters for pipeline health. The detectors are :class:`models.anomaly.RoomAnomalyMonitor`.

Detector state is per worker, in memory: after a failover a room's detectors warm up again
(their windows are seconds to minutes long); alerts already open stay open in Redis until the
new worker resolves them. Wall-clock detectors (ingest gaps) are driven by a 250 ms timer.
"""

from __future__ import annotations

import time

import numpy as np
from prometheus_client import Counter, Gauge

from models.anomaly import AlertPolicy, AnomalyConfig, RoomAnomalyMonitor
from models.anomaly.frames import gray_thumbnail, luma_and_diff
from models.anomaly.messages import alert_message_zh
from models.anomaly.monitor import rms_dbfs
from processors.runtime import Input, Output, RoomProcessor, attach
from streams.app import AppContext
from streams.schemas import (
    MAX_STREAM_MS, Alert, AudioChunk, ChatWindow, Clip, DeadLetter, Event, Recommendation, RoomMetrics, StreamMarker,
    Transcript, VideoFrame,
)

ALERTS = Counter("livelens_alerts_total", "Alert lifecycle changes", ["alert_type", "state", "severity"])
ALERTS_OPEN = Gauge("livelens_alerts_open", "Alerts open now (this worker)", ["alert_type"])


class RoomWatch:
    """What the processor keeps per room beside the monitor."""

    def __init__(self, room_id: str, config: AnomalyConfig):
        self.monitor = RoomAnomalyMonitor(room_id, config)
        self.last_gray: np.ndarray | None = None
        self.lag_offset_ms: float | None = None  # min(wall − stream) seen: the room's start
        self.last_stream_ms = 0
        self.ended: set[str] = set()
        self.done = False  # audio and frames both ended: the room is forgotten


class AnomalyProcessor(RoomProcessor):
    name = "anomaly"
    budget = "anomaly"
    #: topics this processor reads, and which event kinds may arrive on each
    inputs = {
        "audio": (AudioChunk, StreamMarker), "frames": (VideoFrame, StreamMarker),
        "room_metrics": (RoomMetrics,), "chat_windows": (ChatWindow,), "transcripts": (Transcript,),
        "recommendations": (Recommendation,), "clips": (Clip,), "dead_letters": (DeadLetter,),
    }

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.config = AnomalyConfig(
            policy=AlertPolicy(int(settings.anomaly.cooldown_s * 1000), int(settings.anomaly.update_interval_s * 1000)),
            stage_budgets_ms=settings.budgets.model_dump())

    def new_state(self, room_id: str) -> RoomWatch:
        return RoomWatch(room_id, self.config)

    def forget_room(self, inp: Input, w: RoomWatch) -> bool:
        return w.done

    def handle(self, inp: Input, w: RoomWatch) -> list[Output]:
        if inp.room_id == "unknown":  # a dead letter of unreadable input: no room to watch
            return []
        return self.alerts(inp.room_id, w, self.observe(inp, w), inp.event)

    def tick(self, rooms: dict[str, RoomWatch], now_ms: int) -> list[Output]:
        """Wall-clock detectors (ingest gaps, stalls), every room; driven by a timer."""
        return [out for room_id, w in list(rooms.items()) for out in self.alerts(room_id, w, w.monitor.tick(now_ms), None)]

    def alerts(self, room_id: str, w: RoomWatch, changes, cause: Event | None) -> list[Output]:
        outputs = []
        for ch in changes:
            # arrival/pipeline detectors run on the wall clock: stamp those with the room's stream time
            stream_ms = int(ch.t_ms) if 0 <= ch.t_ms <= MAX_STREAM_MS else w.last_stream_ms
            outputs.append(Output("alerts", Alert(
                room_id=room_id, event_id=f"{room_id}:alert:{ch.dedup_key}:{ch.state}:{ch.t_ms}",
                stream_ms=stream_ms,
                ingested_at=cause.ingested_at if cause is not None else time.time(),
                alert_type=ch.alert_type, state=ch.state, severity=ch.severity, dedup_key=ch.dedup_key,
                message=ch.message,
                # a clock-raised alert (a gap, a stall) has no triggering input: its latency is not a hop's
                evidence={**ch.evidence, **({} if cause is not None else {"raised_by": "clock"}),
                          # Chinese rooms' operators read this one (the early warnings carry theirs the same way)
                          "message_zh": alert_message_zh(ch.alert_type, ch.state, ch.dedup_key, ch.evidence)})))
            ALERTS.labels(ch.alert_type, ch.state, ch.severity).inc()
            if ch.state == "open":
                ALERTS_OPEN.labels(ch.alert_type).inc()
            elif ch.state == "resolved":
                ALERTS_OPEN.labels(ch.alert_type).dec()
        return outputs

    def observe(self, inp: Input, w: RoomWatch) -> list:
        ev, topic = inp.event, inp.topic
        m = w.monitor
        w.last_stream_ms = max(w.last_stream_ms, ev.stream_ms)
        wall_ms = int(inp.received_at * 1000)
        out: list = []
        if isinstance(ev, StreamMarker):
            if ev.marker == "end":
                w.ended.add(topic)
                if {"audio", "frames"} <= w.ended:
                    out += m.end(ev.stream_ms)
                    w.done = True
            return out
        if isinstance(ev, (AudioChunk, VideoFrame)):
            offset = ev.ingested_at * 1000 - ev.stream_ms
            w.lag_offset_ms = offset if w.lag_offset_ms is None else min(w.lag_offset_ms, offset)
            out += m.observe("ingest_lag_ms", ev.stream_ms, offset - w.lag_offset_ms)
        if isinstance(ev, AudioChunk):
            pcm = np.frombuffer(ev.pcm[: len(ev.pcm) // 2 * 2], dtype="<i2")
            out += m.observe("audio_rms_db", ev.stream_ms, rms_dbfs(pcm))
            out += m.observe("audio_arrival", wall_ms, ev.stream_ms)
        elif isinstance(ev, VideoFrame):
            gray = gray_thumbnail(ev.jpeg)
            if gray is not None:
                luma, diff = luma_and_diff(w.last_gray, gray)
                w.last_gray = gray
                out += m.observe("video_luma", ev.stream_ms, luma)
                if diff is not None:
                    out += m.observe("video_frame_diff", ev.stream_ms, diff)
            out += m.observe("video_arrival", wall_ms, ev.stream_ms)
        elif isinstance(ev, RoomMetrics):
            t = ev.window_start_ms + ev.window_ms
            if ev.viewers is not None:
                out += m.observe("viewers", t, ev.viewers)
            out += m.observe("chat_messages", t, ev.messages)
            out += m.observe("orders", t, ev.orders)
            out += m.observe("payment_failures", t, ev.payment_failures)
        elif isinstance(ev, ChatWindow):
            out += m.observe_chat_sentiment(ev.end_ms, ev.sentiment_mix.get("negative", 0.0), ev.messages)
        elif isinstance(ev, DeadLetter):
            out += m.observe("dead_letters", wall_ms, 1)
        elif isinstance(ev, Clip) and ev.revision > 0:
            pass  # a clip's later revisions (vertical variant, platform renders) follow by design: ready is revision 0
        else:  # an output of another stage: its latency
            out += m.observe(f"stage_latency_ms:{ev.processor or ev.kind}", wall_ms, ev.latency_ms)
        return out


def register(ctx: AppContext) -> None:
    processor = AnomalyProcessor(ctx.settings)
    attached = attach(ctx, processor)

    @ctx.app.timer(interval=0.25)
    async def tick():
        await attached.emit(processor.tick(attached.rooms, int(time.time() * 1000)))
