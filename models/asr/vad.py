"""Streaming voice activity detection: Silero (faster-whisper's bundled ONNX) run once per frame.

Why streaming: re-running the stateless ``get_speech_timestamps`` over a buffer that slides
(the session trims it while nobody speaks) restarts Silero's LSTM at a new place each time, so
the same audio gets different probabilities on every call; a soft onset was then never seen as
speech (JFK's "ask not": the buffer slid past "ask" before "not" was detected, and the 1 s
fragment lost its first word). Here each 512-sample frame's probability is computed once with
the state carried over (identical to one call over the whole stream: checked to 0.0 difference
on JFK), so the regions of an utterance do not change between calls, and each call costs only
the new frames.

``segment`` is faster-whisper's ``get_speech_timestamps`` state machine (MIT, same thresholds,
minimum silence, padding and long-speech split), run on stored probabilities.
"""

from __future__ import annotations

import math

import numpy as np

FRAME = 512


class StreamingVad:
    """Per-frame speech probabilities of one stream; frame k covers samples
    ``[base + k*512, base + (k+1)*512)`` of the stream (absolute sample positions)."""

    def __init__(self, start: int = 0) -> None:
        self.reset(start)

    def reset(self, start: int) -> None:
        """Forget everything; the next fed sample is at absolute position ``start``."""
        self.base = start
        self.probs = np.zeros(0, np.float32)
        self._first = 0  # frame index of probs[0]
        self._pending = np.zeros(0, np.float32)
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(64, np.float32)

    @property
    def known_end(self) -> int:
        """Absolute position up to which probabilities exist."""
        return self.base + (self._first + len(self.probs)) * FRAME

    def feed(self, samples: np.ndarray) -> None:
        from faster_whisper.vad import get_vad_model

        audio = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        whole = len(audio) // FRAME * FRAME
        self._pending = audio[whole:].copy()
        if not whole:
            return
        frames = audio[:whole].reshape(-1, FRAME)
        contexts = np.concatenate([self._context[None], frames[:-1, -64:]], axis=0)
        out, self._h, self._c = get_vad_model().session.run(
            None, {"input": np.concatenate([contexts, frames], axis=1).astype(np.float32), "h": self._h, "c": self._c})
        self._context = frames[-1, -64:].copy()
        self.probs = np.concatenate([self.probs, np.asarray(out, np.float32).reshape(-1)])

    def drop_before(self, position: int) -> None:
        """Forget frames that start before absolute ``position`` (audio no longer held)."""
        k = max(0, (position - self.base) // FRAME - self._first)
        if k:
            self.probs = self.probs[k:]
            self._first += k

    def probs_from(self, position: int) -> tuple[int, np.ndarray]:
        """(offset of the first whole frame at or after ``position``, relative to it; the
        probabilities from that frame on)."""
        k = max(self._first, math.ceil((position - self.base) / FRAME))
        return self.base + k * FRAME - position, self.probs[k - self._first:]


def segment(probs: np.ndarray, offset: int, known_end: int, *, threshold: float, min_speech_ms: int,
            max_speech_s: float, min_silence_ms: int, speech_pad_ms: int, sr: int = 16_000) -> list[tuple[int, int]]:
    """Speech regions (sample positions; frame i starts at ``offset + 512*i``), assuming
    silence follows the known audio (ending at ``known_end``): a region whose speech ended
    closes where it ended (+ pad) instead of running to the end. Regions may end past
    ``known_end`` (speech still going on): the caller clamps."""
    tail = (min_silence_ms + speech_pad_ms) * sr // 1000 // FRAME + 2
    probs = np.concatenate([probs, np.zeros(tail, np.float32)])
    neg_threshold = max(threshold - 0.15, 0.01)
    min_speech = sr * min_speech_ms / 1000
    pad = sr * speech_pad_ms / 1000
    max_speech = sr * max_speech_s - FRAME - 2 * pad
    min_silence = sr * min_silence_ms / 1000
    min_silence_at_max = sr * 98 / 1000
    length = offset + len(probs) * FRAME

    triggered = False
    speeches: list[dict] = []
    cur: dict = {}
    temp_end = prev_end = next_start = 0
    for i, p in enumerate(probs):
        pos = offset + FRAME * i
        if p >= threshold and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = pos
        if p >= threshold and not triggered:
            triggered = True
            cur["start"] = pos
            continue
        if triggered and pos - cur["start"] > max_speech:
            if prev_end:
                cur["end"] = prev_end
                speeches.append(cur)
                cur = {}
                if next_start < prev_end:
                    triggered = False
                else:
                    cur["start"] = next_start
                prev_end = next_start = temp_end = 0
            else:
                cur["end"] = pos
                speeches.append(cur)
                cur = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue
        if p < neg_threshold and triggered:
            if not temp_end:
                temp_end = pos
            if pos - temp_end > min_silence_at_max:
                prev_end = temp_end
            if pos - temp_end < min_silence:
                continue
            cur["end"] = temp_end
            if cur["end"] - cur["start"] > min_speech:
                speeches.append(cur)
            cur = {}
            prev_end = next_start = temp_end = 0
            triggered = False
    if cur and length - cur["start"] > min_speech:
        cur["end"] = length
        speeches.append(cur)

    for i, sp in enumerate(speeches):
        if i == 0:
            sp["start"] = int(max(0, sp["start"] - pad))
        if i != len(speeches) - 1:
            gap = speeches[i + 1]["start"] - sp["end"]
            if gap < 2 * pad:
                sp["end"] += int(gap // 2)
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - gap // 2))
            else:
                sp["end"] = int(min(length, sp["end"] + pad))
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - pad))
        else:
            sp["end"] = int(min(length, sp["end"] + pad))
    return [(sp["start"], sp["end"]) for sp in speeches if sp["start"] < known_end]
