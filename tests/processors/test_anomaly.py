"""The anomaly processor through ``run_processor``: silence opens an alert that resolves when the
host speaks again; a room is forgotten once its audio and frames both ended."""

from __future__ import annotations

import numpy as np

from processors.anomaly import AnomalyProcessor
from processors.testing import ProcessorRun
from streams.schemas import AudioChunk, StreamMarker
from streams.settings import Settings

ROOM = "a-room"
T0 = 1_700_000_000.0


def _chunks(start_ms: int, seconds: float, level: float) -> list[AudioChunk]:
    rng = np.random.default_rng(start_ms)
    out = []
    for i in range(int(seconds * 4)):
        ms = start_ms + 250 * i
        pcm = (level * 32767 * rng.standard_normal(4000)).clip(-32768, 32767).astype("<i2")
        out.append(AudioChunk(room_id=ROOM, stream_ms=ms, ingested_at=T0 + ms / 1000, seq=ms // 250,
                              duration_ms=250, pcm=pcm.tobytes()))
    return out


def test_silence_opens_an_alert_and_speech_resolves_it():
    run = ProcessorRun(AnomalyProcessor(Settings(_env_file=None)))
    loud = run.feed(_chunks(0, 5, 0.1))
    assert loud == []
    silent = run.feed(_chunks(5_000, 12, 0.0))
    opened = [o.event for o in silent if o.event.alert_type == "audio_silence" and o.event.state == "open"]
    assert opened, [o.event.alert_type for o in silent]
    assert opened[0].ingested_at > T0 + 5  # caused by a silent chunk: its latency runs from that chunk
    assert opened[0].evidence["message_zh"].startswith("直播无声：直播间已 ")  # for a Chinese room's operators
    back = run.feed(_chunks(17_000, 8, 0.1))
    resolved = [o.event for o in back if o.event.alert_type == "audio_silence" and o.event.state == "resolved"]
    assert resolved and resolved[0].evidence["message_zh"].startswith("直播无声：声音已恢复")


def test_a_room_is_forgotten_once_audio_and_frames_ended():
    run = ProcessorRun(AnomalyProcessor(Settings(_env_file=None)))
    run.feed(_chunks(0, 1, 0.1))
    run.feed([("audio", StreamMarker(room_id=ROOM, stream_ms=1_000, marker="end"))])
    assert ROOM in run.states
    run.feed([("frames", StreamMarker(room_id=ROOM, stream_ms=1_000, marker="end"))])
    assert ROOM not in run.states


def test_a_clips_later_revisions_are_not_its_ready_latency():
    from streams.schemas import Clip

    def clips(revision: int, n: int = 30) -> list:
        # renders arrive a minute after the selling point closed: by design, not a slow stage
        return [("clips", Clip(room_id=ROOM, stream_ms=1_000 * i, ingested_at=T0 + i, emitted_at=T0 + i + 60,
                               processor="clipper", clip_id=f"c{i}", status="ready", start_ms=0, end_ms=1_000,
                               revision=revision)) for i in range(n)]

    def latency_alerts(outputs) -> list:
        return [o.event for o in outputs if o.event.alert_type == "stage_latency"]

    assert latency_alerts(ProcessorRun(AnomalyProcessor(Settings(_env_file=None))).feed(clips(2))) == []
    # the detector itself is live: the same delays on first announcements do alert
    assert latency_alerts(ProcessorRun(AnomalyProcessor(Settings(_env_file=None))).feed(clips(0)))
