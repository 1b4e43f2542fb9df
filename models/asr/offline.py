"""Offline transcription of any length: the streaming session run as an offline decoder.

Why the session: it already bounds utterances with Silero VAD (≤ ``max_utterance_s``), applies the
decoding guards and identifies an ``auto`` language, so a file gets exactly the finals the live
pipeline would get, without its live-only work: no partials, no speculative decodes, and no
degradation (the session would otherwise read "a whole file arrived at once" as falling behind).
Memory stays bounded by the open utterance, whatever the file's length.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from models.asr.audio import SAMPLE_RATE
from models.asr.session import AsrSessionConfig, Decoder, Segment, StreamingAsrSession

#: audio fed per step (well under the session's 30 s chunk limit)
STEP_S = 10.0


def offline_config(base: AsrSessionConfig | None = None) -> AsrSessionConfig:
    """``base`` with the live-only behaviour switched off."""
    return dataclasses.replace(base or AsrSessionConfig(), update_interval_ms=10**9, spec_silence_ms=0,
                               lag_budget_ms=float("inf"), degrade_rtf=float("inf"))


def transcribe_offline(engine: Decoder, audio: np.ndarray, language: str = "en",
                       config: AsrSessionConfig | None = None,
                       on_progress: Callable[[float, float], None] | None = None,
                       options=None) -> tuple[list[Segment], StreamingAsrSession]:
    """Final segments of ``audio`` (float32 mono 16 kHz) and the spent session (its language
    decision and stats). ``on_progress(done_s, total_s)`` is called after each step; ``options``:
    the decode options (hotwords, prompt), None for the engine's."""
    session = StreamingAsrSession(engine, language, offline_config(config), options=options)
    step = int(STEP_S * SAMPLE_RATE)
    total_s = len(audio) / SAMPLE_RATE
    finals: list[Segment] = []
    for start in range(0, len(audio), step):
        session.insert_audio_chunk(audio[start:start + step], start * 1000 // SAMPLE_RATE)
        finals.extend(session.process_iter().finals)
        if on_progress is not None:
            on_progress(min(total_s, (start + step) / SAMPLE_RATE), total_s)
    if len(audio):
        finals.extend(session.finish().finals)
    return [f for f in finals if f.text], session
