"""One loaded Whisper model shared by every room of a worker.

``AsrEngine`` loads a faster-whisper (CTranslate2) model once and decodes short utterances
for many ``StreamingAsrSession`` objects. ``decode`` is blocking CPU/GPU work: the processor
calls it (through ``session.process_iter``) from a worker thread pool, never on the asyncio
event loop. CTranslate2 releases the GIL and is safe to call from several threads; with
``num_workers > 1`` calls run truly in parallel (each worker holds its own replica state).

Short-utterance speed-up ("fit" encoder context): faster-whisper always pads audio to Whisper's
30 s window, so the encoder costs the same for 1 s as for 30 s (tiny.en, 2 cores: ~260 ms per
call). CTranslate2 accepts a shorter mel input, so we pad only to max(10 s, utterance + 1 s)
(whisper.cpp's ``audio_ctx`` idea). Measured here on the shared English files: identical text
for tiny.en and base, 3x faster (tiny.en JFK 11 s: 507 → 169 ms; base: 917 → 344 ms). The
offline reference in the benchmark uses the full 30 s context.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import faster_whisper.transcribe as _fw_transcribe
import numpy as np

from models.asr.audio import SAMPLE_RATE
from models.asr.guards import (
    SUSPICIOUS_WHEN_UNSURE,
    cut_repetitions,
    has_repetition_loop,
    is_known_hallucination,
    normalize_text,
    to_simplified,
)
from models.asr.models import resolve_model

# --- per-thread encoder context ------------------------------------------------------------
_context = threading.local()
#: Shorter than 10 s of context and tiny.en starts looping on 0.6–3 s inputs ("And so and so
#: and", a sentence repeated 3x); at 10 s the output equals the 30 s decode (measured on JFK
#: prefixes of 0.6, 1, 1.5, 2, 3 s) and a decode costs ~135 ms instead of ~400 ms.
FIT_MIN_FRAMES = 1000
_original_pad_or_trim = _fw_transcribe.pad_or_trim


def _pad_or_trim_to_fit(array: np.ndarray, length: int = 3000, *, axis: int = -1) -> np.ndarray:
    """faster-whisper's pad_or_trim, but when the calling thread asked for a fitted context,
    pad only to max(10 s, content + 1 s) instead of 30 s."""
    if getattr(_context, "fit", False) and length == 3000:
        length = min(3000, max(FIT_MIN_FRAMES, int(math.ceil((array.shape[axis] + 100) / 100.0)) * 100))
    return _original_pad_or_trim(array, length, axis=axis)


_fw_transcribe.pad_or_trim = _pad_or_trim_to_fit  # idempotent: the original is kept above
# faster-whisper logs one INFO line per decode: a worker decoding every 500 ms per room would
# flood its log with them
logging.getLogger("faster_whisper").setLevel(logging.WARNING)


@dataclass(frozen=True)
class DecodeOptions:
    """How one utterance is decoded. Defaults are the bounded, guarded settings for live use."""

    beam_size: int = 1
    #: a single temperature: Whisper's fallback ladder (0.2 … 1.0) re-decodes up to 5 times and
    #: is what causes the ~10 s stalls on Chinese with base (docs/ARCHITECTURE.md).
    temperature: float = 0.0
    max_new_tokens: int = 160  # ~ 30 s of fast Chinese; loops stop here at the latest
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    #: a segment this unsure is dropped even when no_speech_prob is low (noise, music)
    min_avg_logprob: float = -1.5
    compression_ratio_threshold: float = 2.4
    initial_prompt: str | None = None
    #: words the room will say (product names, brands, sizes): faster-whisper's hint phrases, put
    #: before the decode like a prompt; None: no hints
    hotwords: str | None = None
    encoder_context: Literal["fit", "full"] = "fit"
    word_timestamps: bool = True


@dataclass
class DecodedWord:
    start_s: float
    end_s: float
    text: str
    probability: float


@dataclass
class DecodedSegment:
    start_s: float
    end_s: float
    text: str
    words: list[DecodedWord] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    dropped: str = ""  # why the guards dropped it ("" = kept)


@dataclass
class DecodeResult:
    segments: list[DecodedSegment]
    language: str
    language_probability: float
    compute_s: float
    #: every language's probability when the language was detected (decoded with language None)
    language_probs: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return join_texts([s.text for s in self.segments if not s.dropped])


def join_texts(texts: list[str]) -> str:
    out = ""
    for t in texts:
        t = t.strip()
        if not t:
            continue
        cjk_boundary = out and ("\u3400" <= out[-1] <= "\u9fff" or "\u3400" <= t[0] <= "\u9fff")
        out = f"{out}{'' if cjk_boundary or not out else ' '}{t}"
    return out


class AsrEngine:
    """A faster-whisper model loaded once; ``decode`` is thread-safe and blocking.

    ``model`` is "tiny.en" / "base" (packaged, offline) or any faster-whisper id or path.
    """

    def __init__(
        self,
        model: str = "tiny.en",
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 2,
        num_workers: int = 1,
        model_dir: Path | str = Path("var/models"),
        options: DecodeOptions | None = None,
    ) -> None:
        from faster_whisper import WhisperModel

        self.name = model
        self.path = resolve_model(model, model_dir)
        self.device = device
        self.options = options or DecodeOptions()
        self._model = WhisperModel(
            self.path, device=device, compute_type=compute_type, cpu_threads=cpu_threads, num_workers=num_workers
        )
        self.multilingual: bool = bool(self._model.model.is_multilingual)

    def supports(self, language: str) -> bool:
        return self.multilingual or language == "en"

    def decode(
        self, audio: np.ndarray, language: str | None, options: DecodeOptions | None = None
    ) -> DecodeResult:
        """Decode one utterance (float32 mono 16 kHz, ideally ≤ 30 s) with the guards applied.

        ``language`` None means detect. Times in the result are seconds from the audio start.
        """
        opts = options or self.options
        if language is not None and not self.supports(language):
            raise ValueError(f"model {self.name!r} is English-only; language {language!r} needs a multilingual model")
        started = time.perf_counter()
        _context.fit = opts.encoder_context == "fit"
        try:
            segments_iter, info = self._model.transcribe(
                np.ascontiguousarray(audio, dtype=np.float32),
                language=language if self.multilingual else "en",
                beam_size=opts.beam_size,
                best_of=1,
                temperature=[opts.temperature],
                compression_ratio_threshold=opts.compression_ratio_threshold,
                log_prob_threshold=opts.log_prob_threshold,
                no_speech_threshold=opts.no_speech_threshold,
                condition_on_previous_text=False,
                initial_prompt=opts.initial_prompt,
                hotwords=opts.hotwords,
                word_timestamps=opts.word_timestamps,
                vad_filter=False,  # the session runs Silero VAD itself
                max_new_tokens=opts.max_new_tokens,
                without_timestamps=False,
            )
            raw = list(segments_iter)
        finally:
            _context.fit = False
        detected = info.language or (language or "")
        duration_s = len(audio) / SAMPLE_RATE
        segments = [self._guard(s, detected, duration_s, opts) for s in raw]
        seen: set[str] = set()
        for seg in segments:
            key = normalize_text(seg.text)
            if not seg.dropped and seg.start_s >= duration_s - 0.05:
                seg.dropped = "after_audio"  # text "heard" in the padding after the audio
            elif not seg.dropped and key and key in seen:
                seg.dropped = "repeated_segment"  # the same sentence again: a decoder loop
            seen.add(key)
        probs = {lang: float(p) for lang, p in (info.all_language_probs or [])}
        return DecodeResult(segments, detected, float(info.language_probability or 0.0), time.perf_counter() - started,
                            probs)

    @staticmethod
    def _guard(seg, language: str, duration_s: float, opts: DecodeOptions) -> DecodedSegment:
        text = seg.text.strip()
        if language == "zh":
            text = to_simplified(text)
        words = [
            DecodedWord(
                float(min(max(w.start, 0.0), duration_s)),
                float(min(max(w.end, 0.0), duration_s)),
                to_simplified(w.word) if language == "zh" else w.word,
                float(min(max(w.probability, 0.0), 1.0)),
            )
            for w in (seg.words or [])
        ]
        out = DecodedSegment(float(seg.start), float(min(seg.end, duration_s)), text, words,
                             float(seg.avg_logprob), float(seg.no_speech_prob))
        unsure = seg.no_speech_prob > 0.3 or seg.avg_logprob < -0.7
        if seg.no_speech_prob > opts.no_speech_threshold and seg.avg_logprob < opts.log_prob_threshold:
            out.dropped = "no_speech"
        elif seg.avg_logprob < opts.min_avg_logprob:
            out.dropped = "low_confidence"
        elif is_known_hallucination(text):
            out.dropped = "known_hallucination"
        elif unsure and normalize_text(text) in SUSPICIOUS_WHEN_UNSURE:
            out.dropped = "unsure_filler"
        elif has_repetition_loop(text):
            # keep the text with the loop cut; words past the cut would repeat it, keep the
            # ones whose text still appears in order
            out.text = cut_repetitions(text)
            out.words = _words_within(words, out.text)
        return out


def _words_within(words: list[DecodedWord], text: str) -> list[DecodedWord]:
    """The leading words whose concatenation is still a prefix of ``text`` (after a loop cut)."""
    target = normalize_text(text)
    kept, acc = [], ""
    for w in words:
        nxt = acc + normalize_text(w.text)
        if not target.startswith(nxt):
            break
        kept.append(w)
        acc = nxt
    return kept
