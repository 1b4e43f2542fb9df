"""The fusion processor through ``run_processor``: windows close on the commerce clock with the
modalities that arrived (missing ones masked), learning happens after each window is out, and a
room's model is saved at its end."""

from __future__ import annotations

from processors.fusion import FusionProcessor
from processors.testing import ProcessorRun
from streams.schemas import ChatInsight, CommerceEvent, StreamMarker
from streams.settings import FusionSettings, Settings

ROOM = "f-room"


def _settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, fusion=FusionSettings(learn_every=1, min_updates=1), _env_file=None)


def _minute_of_room(seconds: int = 40) -> list:
    events: list = []
    for s in range(seconds):
        ms = s * 1_000
        events.append(("chat_insights", ChatInsight(
            room_id=ROOM, stream_ms=ms + 100, message_id=f"m{s}", sentiment="positive", emotion="like",
            intent="purchase_signal" if s % 3 == 0 else "praise", confidence=0.8)))
        if s % 2 == 0:
            events.append(("commerce", CommerceEvent(room_id=ROOM, stream_ms=ms + 500, type="order", count=1, amount=99.0)))
        events.append(("commerce", StreamMarker(room_id=ROOM, stream_ms=ms + 999, marker="watermark")))
    return events


def test_windows_close_on_the_commerce_clock_with_what_arrived(tmp_path):
    processor = FusionProcessor(_settings(tmp_path))
    outputs = ProcessorRun(processor).feed(_minute_of_room())
    windows = [o.event for o in outputs]
    hop, length = processor.f.hop_ms, processor.f.window_ms
    assert [w.end_ms for w in windows] == list(range(length, 40_000, hop))
    assert all(w.end_ms - w.start_ms == length for w in windows)
    # only chat and commerce arrived: vision, prosody and transcript are masked, not zero-filled
    assert all(set(w.modalities) <= {"chat", "commerce"} and "chat" in w.modalities for w in windows)
    assert all(0.0 <= w.highlight_score <= 1.0 and w.conversion_forecast >= 0.0 for w in windows)
    # each window says what moved its forecast: one influence per present modality
    assert all(set(w.influence) == set(w.modalities) for w in windows)
    assert any(abs(v) > 0 for w in windows for v in w.influence.values())


def test_learning_happens_after_the_window_and_the_model_is_saved_at_the_end(tmp_path):
    processor = FusionProcessor(_settings(tmp_path))
    run = ProcessorRun(processor)
    run.feed(_minute_of_room())
    learner = run.states[ROOM].learner
    assert learner.updates >= 10  # one step per closed window after the first (learn_every=1)
    run.feed([("commerce", StreamMarker(room_id=ROOM, stream_ms=41_000, marker="end"))])
    assert ROOM not in run.states
    assert list((tmp_path / "fusion").glob("*.pt")), "the room's model was not saved at its end"
