"""The ASR processor through ``run_processor``: real zh and en speech in, transcripts (text as
heard, display with digits), prosody and bad-audio rejections out, and the table round trip."""

from __future__ import annotations

import re

import numpy as np
import pytest

from models.asr import load_media
from models.asr.metrics import cer, read_kaldi_text
from processors.asr import AsrProcessor, AsrRoom
from processors.testing import ProcessorRun
from streams.schemas import AudioChunk, StreamMarker
from streams.settings import Settings

CHUNK = 4000  # 250 ms at 16 kHz


@pytest.fixture(scope="module")
def processor() -> AsrProcessor:
    # one processor (and so one engine per language) for the module: loading a model is slow
    return AsrProcessor(Settings(_env_file=None))


def _chunks(room: str, audio: np.ndarray, language: str = "", tail_s: float = 1.5) -> list:
    pcm = (np.concatenate([audio, np.zeros(int(tail_s * 16000), np.float32)]) * 32767).astype("<i2")
    return [AudioChunk(room_id=room, stream_ms=s // 16, seq=i, duration_ms=len(pcm[s:s + CHUNK]) // 16,
                       pcm=pcm[s:s + CHUNK].tobytes(), language=language)
            for i, s in enumerate(range(0, len(pcm), CHUNK))]


def _speech(shared_data, lang: str, utterance: str) -> tuple[np.ndarray, str]:
    folder = shared_data / "speech" / lang
    path = next(p for p in folder.iterdir() if p.stem == utterance)
    return load_media(str(path)), read_kaldi_text(folder / "text")[utterance]


def _finals(outputs) -> list:
    return [o.event for o in outputs if o.topic == "transcripts" and o.event.is_final]


def test_english_room_speech_becomes_final_transcripts_and_prosody(processor, shared_data):
    audio, _reference = _speech(shared_data, "en", "jfk")
    outputs = ProcessorRun(processor).feed(_chunks("en-room", audio, "en")
                                           + [StreamMarker(room_id="en-room", stream_ms=13_000, marker="end")])
    finals = _finals(outputs)
    text = re.sub(r"[^a-z ]", "", " ".join(f.text for f in finals).lower())
    assert "ask not what your country can do for you" in text, text
    assert len({f.segment_id for f in finals}) == len(finals) and all(f.language == "en" for f in finals)
    assert all(f.display for f in finals)
    assert any(o.topic == "prosody" for o in outputs)
    assert any(o.topic == "transcripts" and not o.event.is_final for o in outputs)  # partials first


def test_chinese_room_speech_is_transcribed_in_chinese_with_display_text(processor, shared_data):
    audio, reference = _speech(shared_data, "zh", "BAC009S0764W0121")
    run = ProcessorRun(processor)
    outputs = run.feed([StreamMarker(room_id="zh-room", stream_ms=0, marker="start", language="zh")]
                       + _chunks("zh-room", audio))  # the chunks say nothing: the start marker declared zh
    finals = _finals(outputs) + _finals(run.feed([StreamMarker(room_id="zh-room", stream_ms=9_000, marker="end")]))
    text = "".join(f.text for f in finals)
    assert finals and all(f.language == "zh" for f in finals)
    assert cer(reference, text) <= 0.35, text
    assert all(f.display for f in finals)


def test_display_writes_spoken_prices_as_digits_and_keeps_the_text_as_heard():
    from processors.asr import _transcript
    from models.asr.session import Segment

    seg = Segment(segment_id="r:1:0", start_ms=0, end_ms=900, text="今天只要二十九块九，拍三件", language="zh", words=[], is_final=True)
    t = _transcript("r", seg, True, 1.0)
    assert t.text == "今天只要二十九块九，拍三件" and t.display == "今天只要29.9元，拍3件"
    seg = Segment(segment_id="r:1:1", start_ms=0, end_ms=900, text="only twenty nine ninety nine today",
                  language="en", words=[], is_final=True)
    assert _transcript("r", seg, True, 1.0).display == "only 29.99 today"


@pytest.mark.parametrize("chunk, reason", [
    (dict(pcm=b"\x01\x02\x03"), "audio: truncated"),  # odd byte count: not PCM16
    (dict(pcm=b""), "audio: empty"),
    (dict(pcm=b"\x00\x00" * 4000, channels=3), "audio: truncated"),  # 4000 samples do not split in 3
])
def test_bad_audio_is_rejected_with_a_reason_and_the_room_carries_on(processor, shared_data, chunk, reason):
    audio, _reference = _speech(shared_data, "en", "jfk")
    bad = AudioChunk(room_id="bad-room", stream_ms=0, seq=0, duration_ms=250, language="en", **chunk)
    run = ProcessorRun(processor)
    assert run.feed([bad]) == []
    assert [(inp.event.seq, why) for inp, why in run.rejected] == [(0, reason)]
    assert run.states["bad-room"].session is None  # nothing opened for a chunk that is not audio
    good = _chunks("bad-room", audio[: 16000 * 4], "en")
    outputs = run.feed(good + [StreamMarker(room_id="bad-room", stream_ms=6_000, marker="end")])
    assert "fellow americans" in " ".join(f.text for f in _finals(outputs)).lower()
    assert len(run.rejected) == 1


def test_the_table_keeps_the_epoch_and_the_last_final_so_a_restart_repeats_nothing(processor):
    room = processor.load_state(None)
    assert (room.epoch, room.last_final_end_ms) == (0, -1)
    room.epoch, room.last_final_end_ms = 3, 4_200
    saved = processor.dump_state(room)
    assert saved == {"epoch": 3, "last_final_end_ms": 4_200}
    restored = processor.load_state(saved)
    assert (restored.epoch, restored.last_final_end_ms, restored.session) == (3, 4_200, None)
    assert processor.held_from_ms(restored) is None  # no session: nothing held, every chunk acked


def test_chunks_stay_held_while_the_session_holds_their_audio(processor, shared_data):
    audio, _reference = _speech(shared_data, "en", "jfk")
    run = ProcessorRun(processor)
    chunks = _chunks("held-room", audio[: 16000 * 3], "en", tail_s=0)
    run.feed(chunks)
    room: AsrRoom = run.states["held-room"]
    assert processor.held_end_ms(run._input_for(chunks[-1])) == chunks[-1].stream_ms + chunks[-1].duration_ms
    held_from = processor.held_from_ms(room)
    assert held_from is not None and held_from < chunks[-1].stream_ms  # mid-utterance: its audio is held
    run.feed([StreamMarker(room_id="held-room", stream_ms=3_000, marker="end")])
    assert processor.held_from_ms(room) is None and room.epoch == 1


def test_english_rooms_get_the_catalogs_hotwords_and_a_prompt_and_chinese_rooms_are_left_alone(monkeypatch):
    assert AsrProcessor(Settings(_env_file=None)).decode_options("en") is None  # no catalog: no biasing
    monkeypatch.setenv("LIVELENS_ASR__CATALOG", "models/understanding/catalogs/sample_room.yaml")
    biased = AsrProcessor(Settings(_env_file=None))  # default mode: both
    biased.load_models()
    en = biased.decode_options("en")
    assert en.hotwords.startswith("Mulberry Silk Midi Dress Cashmere Cardigan") and "size" in en.hotwords.split()
    assert en.initial_prompt.startswith("In this live room: Mulberry Silk Midi Dress")
    assert biased.decode_options("zh") is None  # every mode raised the zh room's streaming CER
    monkeypatch.setenv("LIVELENS_ASR__BIAS", "hotwords")
    hot = AsrProcessor(Settings(_env_file=None)).decode_options("en")
    assert hot.hotwords == en.hotwords and hot.initial_prompt is None
    monkeypatch.setenv("LIVELENS_ASR__BIAS", "none")
    assert AsrProcessor(Settings(_env_file=None)).decode_options("en") is None


def test_a_bias_mode_that_hurt_the_figures_is_not_a_setting(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("LIVELENS_ASR__BIAS", "prompt")  # a prompt alone raised the en room's WER
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_the_final_encoder_context_and_end_silence_settings_reach_the_session(monkeypatch):
    from processors.asr import session_config

    default = session_config(Settings(_env_file=None).asr)
    assert default.final_encoder_context == "auto" and default.end_silence_ms == 500
    assert default.en_end_silence_ms == 700
    monkeypatch.setenv("LIVELENS_ASR__FINAL_ENCODER_CONTEXT", "fit")
    monkeypatch.setenv("LIVELENS_ASR__END_SILENCE_MS", "500")
    chosen = session_config(Settings(_env_file=None).asr)
    assert chosen.final_encoder_context == "fit" and chosen.end_silence_ms == 500
