"""Incremental ASR for one room: insert audio chunks, process, finish (whisper_streaming shape).

Streaming policy — VAD-bounded utterances with partial re-decodes (default, ``policy="vad"``):
Silero VAD (faster-whisper's bundled ONNX) runs as audio arrives, each 512-sample frame once with
its state carried over (``models.asr.vad``: the same probabilities as one pass over the whole
stream, so an utterance's regions do not shift between calls). An utterance whose speech ended
``end_silence_ms`` ago is emitted as FINAL; the buffer is cut after it, so finals never change
and the buffer never holds more than one open utterance (≤ ``max_utterance_s``, VAD splits
longer speech at its last pause). While an utterance is still open it is re-decoded at most
every ``update_interval_ms`` and emitted as a PARTIAL with the id its final will have. Each
region is decoded with up to ``lead_in_ms`` of the audio before it (never an earlier region's):
Silero's onset misses soft first words.

Speculative final: once the open utterance's speech has been followed by ``spec_silence_ms`` of
silence, it is decoded then (its text shown as a partial) and the result kept with its audio.
When ``end_silence_ms`` closes the utterance, the final reuses that result only if the closed
utterance is exactly the same samples (same input → same decode); otherwise (speech resumed,
the region changed) it is decoded again. So a final is never emitted early nor revised, and its
latency is ≈ ``end_silence_ms`` instead of ``end_silence_ms`` + one decode.

Finals against the offline decode (BENCHMARKS.md, session 11): a final decoded with Whisper's
full 30 s encoder context (``final_encoder_context``) instead of the fitted one of the partials
(``models.asr.engine``) closes most of the streaming/offline gap, and longer utterances
(``en_end_silence_ms`` 700: a host's pauses between sentences do not close one) the rest on
English. Both are per language by default ("auto"): English rooms get them (final p95 ~1.4 s on
2 CPU cores); Chinese rooms keep fitted finals and 500 ms, because Whisper base's full-context
decode (~600 ms on 2 cores) and the longer utterances pushed the zh sample room's final p95 from
1.2 s to 6 s, over the stage budget (a GPU would not pay that: set ``full`` there). With
speculation off (``spec_silence_ms=0``: a speculative full-context decode is thrown away whenever
speech resumes, and the extra load degraded the session to fitted finals) full-context zh finals
reached the offline error (real zh 0.95×) at a final p95 of 1.75–1.94 s (session 12). Tried and dropped (measured
worse or unstable with tiny.en / base): conditioning a final on the previous finals' text
(Whisper base looped on it in Chinese), and decoding a final with the audio before it as left
context, keeping the words after its start (word timestamps of the context's last word run
past the boundary; results swung with the context length).

Why not LocalAgreement-2 (``policy="local_agreement"``, kept for comparison): it commits only
words two successive decodes agree on, so the last words of every utterance wait for one or
two more updates (whisper_streaming's paper: 3.3 s average latency), and each update re-decodes
a growing buffer. Measured with ``livelens bench asr [--policy local_agreement]`` (tiny.en,
the two shared English files, 2 shared cores at load ~7, before the streaming VAD): VAD policy WER 0.038, final latency
p50/p95 753/1369 ms; LocalAgreement-2 WER 0.250 (words cut at commit points are re-heard or
lost), final p50/p95 1266/1614 ms; same RTF (0.32). Offline WER 0.000.

Bounded latency: ``lag_ms`` = audio received but not yet covered by an update when
``process_iter`` starts + that call's compute. When lag exceeds ``lag_budget_ms`` or the
compute/audio ratio exceeds ``degrade_rtf`` the session steps down one level and steps back up
after ``recover_iters`` calm iterations:
  0 normal · 1 partials half as often · 2 partials decode only the last ``short_context_s``
  and utterances are cut at ``short_context_s`` · 3 finals only.
At level 3, audio that piled up beyond ``max_backlog_ms`` is dropped (counted in
``stats.skipped_ms``) so lag cannot grow without bound.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from models.asr.audio import SAMPLE_RATE, BadAudio, check_chunk
from models.asr.engine import DecodedSegment, DecodeOptions, DecodeResult, join_texts
from models.asr.guards import normalize_text
from models.asr.language import SUPPORTED as SUPPORTED_LANGUAGES
from models.asr.language import RoomLanguageId
from models.asr.vad import StreamingVad, segment

Word = tuple[int, int, str, float]  # (start_ms, end_ms, text, probability), stream time


@dataclass(frozen=True)
class Segment:
    segment_id: str
    start_ms: int
    end_ms: int
    text: str
    words: list[Word]
    is_final: bool
    language: str = ""


@dataclass
class AsrUpdate:
    partials: list[Segment] = field(default_factory=list)
    finals: list[Segment] = field(default_factory=list)
    lag_ms: float = 0.0
    degraded_level: int = 0
    #: stream time up to which audio was used for this update (end of newest audio seen)
    audio_end_ms: int = 0
    #: the language the session transcribes in ("" while ``auto`` has not decided yet)
    language: str = ""
    #: ``auto`` decided the room speaks neither zh nor en: the language heard ("ja", …); the
    #: session then emits no text (Whisper would hallucinate a translation or a wrong script)
    unsupported_language: str = ""

    def __bool__(self) -> bool:
        return bool(self.partials or self.finals)


@dataclass
class AsrSessionConfig:
    policy: Literal["vad", "local_agreement"] = "vad"
    update_interval_ms: int = 500
    #: silence after speech that closes an utterance (VAD); final latency ≈ this
    end_silence_ms: int = 500
    #: the same for English rooms (None: ``end_silence_ms``). 700: a host's pauses between
    #: sentences (0.3–0.6 s) no longer close an utterance, and the longer utterances lowered the
    #: error towards the offline decode's (BENCHMARKS.md, session 11); on Chinese the longer
    #: utterances cost final latency (speculative decodes thrown away when speech resumes)
    en_end_silence_ms: int | None = 700
    #: speculative final: once speech has been followed by this much silence, the utterance is
    #: decoded as its final candidate; at ``end_silence_ms`` it is emitted without a decode when
    #: the closed utterance is exactly that audio (else decoded again). 0 = off
    spec_silence_ms: int = 250
    #: audio kept while nothing is open: a new utterance's onset pad and lead-in come from it
    vad_keep_ms: int = 1_000
    #: audio before a VAD region's start that is decoded with it (never audio of an earlier
    #: region): Silero's onset misses soft first words (JFK's "ask" of "ask not")
    lead_in_ms: int = 500
    #: partials of a longer open utterance re-decode only about this much of its end, restarting
    #: after a word of the previous partial (the words before it are kept as shown), so a
    #: partial's cost stops growing with the utterance (finals always decode it whole). 0 = off
    partial_window_s: float = 4.0
    max_utterance_s: float = 15.0
    vad_threshold: float = 0.5
    speech_pad_ms: int = 200
    min_speech_ms: int = 250
    #: stream_ms jumps up to this are filled with silence; longer gaps close the utterance
    max_gap_fill_ms: int = 5_000
    #: tolerance for chunk timestamps that do not line up exactly (ms)
    jitter_ms: int = 20
    lag_budget_ms: float = 1_000.0
    degrade_rtf: float = 0.8
    recover_iters: int = 4
    short_context_s: float = 6.0
    max_backlog_ms: int = 10_000
    #: auto language: one utterance this sure of zh/en decides the room's language at once;
    #: otherwise the first ``language_id_speech_ms`` of speech vote (models/asr/language.py)
    lock_language_prob: float = 0.9
    language_id_speech_ms: int = 3_000
    #: encoder context of a final's decode (and of its speculative candidate): "full" pads to
    #: Whisper's 30 s window like the offline decode, "fit" to max(10 s, utterance + 1 s) like
    #: the partials; "auto": full for English rooms, fit otherwise. Measured (BENCHMARKS.md,
    #: session 11): "fit" finals raised the error over the offline decode (zh most), at a third
    #: of the cost; "full" with Whisper base on 2 CPU cores put zh finals over the stage budget
    final_encoder_context: Literal["fit", "full", "auto"] = "auto"


@dataclass
class SessionStats:
    chunks: int = 0
    dropped_duplicate: int = 0
    dropped_out_of_order: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    gaps_filled: int = 0
    gaps_reset: int = 0
    skipped_ms: int = 0
    decodes: int = 0
    compute_s: float = 0.0
    audio_s: float = 0.0
    dropped_segments: dict[str, int] = field(default_factory=dict)
    spec_decodes: int = 0  # speculative final decodes
    spec_hits: int = 0  # finals emitted from a speculative decode (no decode at close)


class Decoder(Protocol):
    """What a session needs from an engine (``AsrEngine`` or a test double)."""

    multilingual: bool

    def decode(self, audio: np.ndarray, language: str | None, options=None) -> DecodeResult: ...


class IncrementalModel(Protocol):
    """The incremental shape every streaming model in ``models/`` follows."""

    def insert_audio_chunk(self, pcm: np.ndarray, stream_ms: int) -> None: ...

    def process_iter(self): ...

    def finish(self): ...


class StreamingAsrSession:
    """One room's streaming recogniser. Not thread-safe: one room → one caller at a time."""

    def __init__(self, engine: Decoder, language: str = "en", config: AsrSessionConfig | None = None,
                 segment_prefix: str = "", options=None) -> None:
        if language not in ("en", "zh", "auto"):
            raise ValueError(f"language must be en, zh or auto, not {language!r}")
        if language != "en" and not engine.multilingual:
            raise ValueError(f"language {language!r} needs a multilingual model")
        self.engine = engine
        self.options = options  # this room's DecodeOptions (hotwords, prompt); None: the engine's
        self.language = language
        self.config = config or AsrSessionConfig()
        self.stats = SessionStats()
        self._prefix = segment_prefix
        self._locked_language: str | None = None if language == "auto" else language
        self._language_id = (RoomLanguageId(min_speech_ms=self.config.language_id_speech_ms,
                                            sure_prob=self.config.lock_language_prob)
                             if language == "auto" else None)
        self.unsupported_language = ""
        self._buffer = np.zeros(0, np.float32)
        self._buffer_start_ms = 0
        self._abs_start = 0  # stream position (samples) of buffer[0], for the streaming VAD
        self._vad = StreamingVad(0)
        self._expected_ms: int | None = None  # stream time the next chunk should start at
        self._processed_end_ms = 0  # audio end covered by the last process_iter
        self._detached: list[tuple[int, np.ndarray]] = []  # buffers cut off by a long gap
        self._utterance_index = 0
        self._last_partial_ms = -10**9  # stream time of the last partial decode
        self._last_partial_text = ""
        self._partial_words: list[Word] = []  # words of the last partial decode (stream time)
        self._prev_partial_words: list[Word] = []  # local_agreement: previous hypothesis
        self._committed_in_utt = 0
        self._spec: tuple[np.ndarray, DecodeOptions | None, DecodeResult] | None = None  # (audio, options, decode)
        self._level = 0
        self._calm_iters = 0
        self._rtf_ema = 0.0
        self._finished = False

    # ------------------------------------------------------------------ input
    @property
    def audio_end_ms(self) -> int:
        return self._buffer_start_ms + len(self._buffer) * 1000 // SAMPLE_RATE

    @property
    def held_from_ms(self) -> int:
        """Earliest stream time of audio still held in memory (not yet turned into finals or
        dropped). Input ending before it is done with: a processor may commit its source offsets
        up to there, and after a crash must replay from there to lose no speech."""
        return min([start for start, _buf in self._detached] + [self._buffer_start_ms])

    def insert_audio_chunk(self, pcm: np.ndarray, stream_ms: int) -> None:
        """Add mono 16 kHz float samples starting at ``stream_ms``. Cheap: no decoding here.

        Raises ``BadAudio`` (with ``.reason``) for chunks that cannot be audio; duplicates and
        out-of-order chunks are dropped and counted, gaps are filled or close the utterance.
        """
        try:
            samples = check_chunk(pcm)
            if stream_ms < 0:
                raise BadAudio("bad_stream_ms", str(stream_ms))
        except BadAudio as exc:
            self.stats.rejected[exc.reason] = self.stats.rejected.get(exc.reason, 0) + 1
            raise
        self.stats.chunks += 1
        if self._expected_ms is None:
            self._buffer_start_ms = stream_ms
            self._expected_ms = stream_ms
            self._processed_end_ms = stream_ms
        dur_ms = len(samples) * 1000 // SAMPLE_RATE
        delta = stream_ms - self._expected_ms
        if delta < -self.config.jitter_ms:
            if stream_ms + dur_ms <= self._expected_ms + self.config.jitter_ms:
                # entirely old audio: a redelivery (same start as an earlier chunk) or reordering
                if (self._expected_ms - stream_ms) % max(dur_ms, 1) == 0:
                    self.stats.dropped_duplicate += 1
                else:
                    self.stats.dropped_out_of_order += 1
                return
            samples = samples[(-delta) * SAMPLE_RATE // 1000 :]  # overlapping head already seen
        elif delta > self.config.jitter_ms:
            if delta <= self.config.max_gap_fill_ms:
                self._append(np.zeros(delta * SAMPLE_RATE // 1000, np.float32))
                self.stats.gaps_filled += 1
            else:  # a long outage: close what we have, restart the clock at the new chunk
                if len(self._buffer):
                    self._detached.append((self._buffer_start_ms, self._buffer))
                self._abs_start += len(self._buffer)
                self._vad.reset(self._abs_start)
                self._spec = None
                self._buffer = np.zeros(0, np.float32)
                self._buffer_start_ms = stream_ms
                self._processed_end_ms = stream_ms
                self.stats.gaps_reset += 1
        self._append(samples)
        self._expected_ms = self.audio_end_ms

    def _append(self, samples: np.ndarray) -> None:
        self._buffer = np.concatenate([self._buffer, samples]) if len(self._buffer) else samples.copy()
        self._vad.feed(samples)

    def _cut(self, samples: int) -> None:
        """Drop the first ``samples`` of the buffer (handled or skipped audio)."""
        self._buffer = self._buffer[samples:]
        self._buffer_start_ms += samples * 1000 // SAMPLE_RATE
        self._abs_start += samples
        self._vad.drop_before(self._abs_start)

    # ------------------------------------------------------------------ processing
    def process_iter(self) -> AsrUpdate:
        """Decode what is due; return new partials/finals. Blocking (run it off the event loop)."""
        started = time.perf_counter()
        backlog_ms = self.audio_end_ms - self._processed_end_ms
        new_audio_ms = backlog_ms
        update = AsrUpdate()
        if self._level >= 3 and backlog_ms > self.config.max_backlog_ms:
            self._skip_oldest(backlog_ms - self.config.max_backlog_ms)
            backlog_ms = self.config.max_backlog_ms  # the newest output now waits for this much
        for start_ms, audio in self._detached:
            update.finals.extend(self._finalize_all(start_ms, audio))
        self._detached.clear()
        if new_audio_ms > 0 or update.finals:
            self._step(update, force_final=False)
        compute_s = time.perf_counter() - started
        self._account(update, backlog_ms, new_audio_ms, compute_s)
        return update

    def finish(self) -> AsrUpdate:
        """End of stream: everything still open becomes final. The session is then spent."""
        started = time.perf_counter()
        backlog_ms = self.audio_end_ms - self._processed_end_ms
        update = AsrUpdate()
        for start_ms, audio in self._detached:
            update.finals.extend(self._finalize_all(start_ms, audio))
        self._detached.clear()
        self._step(update, force_final=True)
        self._finished = True
        self._account(update, backlog_ms, backlog_ms, time.perf_counter() - started)
        return update

    def _account(self, update: AsrUpdate, backlog_ms: int, new_audio_ms: int, compute_s: float) -> None:
        self._processed_end_ms = self.audio_end_ms
        update.language = self._locked_language or ""
        update.unsupported_language = self.unsupported_language
        update.audio_end_ms = self.audio_end_ms
        update.lag_ms = backlog_ms + compute_s * 1000.0
        if new_audio_ms > 0:
            rtf = compute_s * 1000.0 / new_audio_ms
            self._rtf_ema = 0.7 * self._rtf_ema + 0.3 * rtf
        behind = update.lag_ms > self.config.lag_budget_ms or self._rtf_ema > self.config.degrade_rtf
        calm = update.lag_ms < self.config.lag_budget_ms / 2 and self._rtf_ema < self.config.degrade_rtf / 2
        if behind and self._level < 3:
            self._level += 1
            self._calm_iters = 0
        elif calm and self._level > 0:
            self._calm_iters += 1
            if self._calm_iters >= self.config.recover_iters:
                self._level -= 1
                self._calm_iters = 0
        else:
            self._calm_iters = 0
        update.degraded_level = self._level

    @property
    def degraded_level(self) -> int:
        return self._level

    def _skip_oldest(self, skip_ms: int) -> None:
        skip = min(len(self._buffer), skip_ms * SAMPLE_RATE // 1000)
        self._cut(skip)
        self.stats.skipped_ms += skip * 1000 // SAMPLE_RATE
        self._reset_utterance()

    def _reset_utterance(self) -> None:
        self._spec = None
        self._partial_words = []
        self._last_partial_text = ""
        self._prev_partial_words = []
        self._committed_in_utt = 0

    def _vad_regions(self, audio: np.ndarray, max_utterance_s: float) -> list[tuple[int, int]]:
        """Regions of a standalone buffer (one cut off by a long gap): stateless VAD over it."""
        from faster_whisper.vad import get_vad_model

        if len(audio) < 512:
            return []
        whole = len(audio) // 512 * 512
        probs = np.asarray(get_vad_model()(audio[:whole]), np.float32).reshape(-1)
        return self._regions(probs, 0, whole, len(audio), max_utterance_s)

    def _buffer_regions(self, max_utterance_s: float) -> tuple[list[tuple[int, int]], int]:
        """Regions of the open buffer from the streaming VAD, and how much of it the VAD has seen."""
        offset, probs = self._vad.probs_from(self._abs_start)
        known = max(0, self._vad.known_end - self._abs_start)
        return self._regions(probs, offset, known, len(self._buffer), max_utterance_s), known

    def _regions(self, probs: np.ndarray, offset: int, known: int, n: int,
                 max_utterance_s: float) -> list[tuple[int, int]]:
        cfg = self.config
        raw = segment(probs, offset, known, threshold=cfg.vad_threshold, min_speech_ms=cfg.min_speech_ms,
                      max_speech_s=max_utterance_s, min_silence_ms=self._end_silence_ms(),
                      speech_pad_ms=cfg.speech_pad_ms)
        lead = cfg.lead_in_ms * SAMPLE_RATE // 1000
        regions: list[tuple[int, int]] = []
        floor = 0
        for s, e in raw:
            s, e = max(floor, s - lead, 0), min(e, n)
            if e > s:
                regions.append((s, e))
                floor = e
        return regions

    def _step(self, update: AsrUpdate, force_final: bool) -> None:
        cfg = self.config
        max_utt = cfg.short_context_s if self._level >= 2 else cfg.max_utterance_s
        regions, known = self._buffer_regions(max_utt)
        n = len(self._buffer)
        # a region is closed when VAD saw enough silence after it, or VAD split it for length
        closed_margin = (self._end_silence_ms() - cfg.speech_pad_ms) * SAMPLE_RATE // 1000
        spec_margin = (cfg.spec_silence_ms - cfg.speech_pad_ms) * SAMPLE_RATE // 1000
        cut = 0  # samples of the buffer fully handled
        open_region: tuple[int, int] | None = None
        speech_ended = False  # the open region's speech ended ≥ spec_silence_ms ago
        decodes_before = self.stats.decodes
        for i, (s, e) in enumerate(regions):
            is_last = i == len(regions) - 1
            if force_final or not is_last or e <= known - closed_margin:
                update.finals.extend(self._finalize(s, e))
                cut = e
            else:
                open_region = (s, e)
                speech_ended = cfg.spec_silence_ms > 0 and e <= known - max(spec_margin, 1)
        if force_final:
            cut = n
        elif open_region is None:
            # nothing open: keep only a short tail so VAD sees an utterance's onset
            keep = min(n, max(cfg.vad_keep_ms, cfg.speech_pad_ms * 2) * SAMPLE_RATE // 1000 + 512)
            cut = max(cut, n - keep)
        else:
            cut = min(cut, open_region[0])
        if cut > 0:
            self._cut(cut)
        if open_region is not None and not force_final:
            region = (open_region[0] - cut, open_region[1] - cut)
            if cfg.policy == "vad" and self.stats.decodes > decodes_before:
                # a final was decoded in this call (a length split): the partial waits for the
                # next call, so one update never costs two decodes
                partial = None
            elif speech_ended and cfg.policy == "vad" and self._level < 3:
                partial = self._speculate(region)
            else:
                partial = self._partial(region)
            if partial is not None:
                (update.finals if partial.is_final else update.partials).append(partial)

    # ------------------------------------------------------------------ decoding
    def _language(self) -> str | None:
        return self._locked_language

    def _decode(self, audio: np.ndarray, options: DecodeOptions | None = None) -> DecodeResult:
        if self.unsupported_language:
            return DecodeResult([], self.unsupported_language, 0.0, 0.0)  # nothing to transcribe in: save the CPU
        result = self.engine.decode(audio, self._language(), options or self.options)
        self.stats.decodes += 1
        self.stats.compute_s += result.compute_s
        self.stats.audio_s += len(audio) / SAMPLE_RATE
        for seg in result.segments:
            if seg.dropped:
                self.stats.dropped_segments[seg.dropped] = self.stats.dropped_segments.get(seg.dropped, 0) + 1
        return result

    def _end_silence_ms(self) -> int:
        """Silence that closes an utterance: ``en_end_silence_ms`` in an English room."""
        cfg = self.config
        if cfg.en_end_silence_ms is not None and self._language() == "en":
            return cfg.en_end_silence_ms
        return cfg.end_silence_ms

    def _final_options(self) -> DecodeOptions | None:
        """Decode options of a final (and of its speculative candidate): the room's, with the
        final's encoder context (``fit``, the cheaper one, while degraded to level 2 or more)."""
        base = self.options or getattr(self.engine, "options", None) or DecodeOptions()
        context = self.config.final_encoder_context
        if context == "auto":
            context = "full" if self._language() == "en" else "fit"
        if self._level >= 2:
            context = "fit"
        if base.encoder_context == context:
            return self.options
        return dataclasses.replace(base, encoder_context=context)

    def _segment_id(self) -> str:
        sid = f"{self._prefix}{self._utterance_index:06d}"
        if self._committed_in_utt:
            sid += f".{self._committed_in_utt}"
        return sid

    def _identify_language(self, result: DecodeResult, speech_ms: int) -> None:
        """``auto``: a final utterance's language probabilities vote until the room's language is decided."""
        if self._language_id is None or self._language_id.decision is not None or not result.text:
            return
        probs = result.language_probs or {result.language: result.language_probability}
        decision = self._language_id.observe(probs, speech_ms)
        if decision is not None:
            if decision.language:
                self._locked_language = decision.language
            else:
                self.unsupported_language = decision.unsupported

    def _to_segment(self, result: DecodeResult, offset_ms: int, end_limit_ms: int, is_final: bool) -> Segment | None:
        if self.language == "auto" and (self.unsupported_language or result.language not in SUPPORTED_LANGUAGES):
            # neither zh nor en (yet): emit nothing rather than a hallucinated transcript
            self.stats.dropped_segments["unsupported_language"] = self.stats.dropped_segments.get("unsupported_language", 0) + 1
            return None
        kept: list[DecodedSegment] = [s for s in result.segments if not s.dropped]
        text = join_texts([s.text for s in kept])
        if not normalize_text(text):
            return None
        words = _stream_words([w for s in kept for w in s.words], offset_ms, end_limit_ms)
        start = words[0][0] if words else offset_ms + int(kept[0].start_s * 1000)
        end = words[-1][1] if words else min(end_limit_ms, offset_ms + int(kept[-1].end_s * 1000))
        lang = result.language if self.language == "auto" else self.language
        return Segment(self._segment_id(), start, max(end, start), text, words, is_final, lang)

    def _finalize(self, s: int, e: int) -> list[Segment]:
        offset_ms = self._buffer_start_ms + s * 1000 // SAMPLE_RATE
        end_ms = self._buffer_start_ms + e * 1000 // SAMPLE_RATE
        audio = self._buffer[s:e]
        options = self._final_options()
        if self._spec is not None and self._spec[1] == options and np.array_equal(self._spec[0], audio):
            # the very audio decoded speculatively: same input, same (deterministic) decode
            result = self._spec[2]
            self.stats.spec_hits += 1
        else:
            result = self._decode(audio, options)
        self._identify_language(result, len(audio) * 1000 // SAMPLE_RATE)
        seg = self._to_segment(result, offset_ms, end_ms, is_final=True)
        finals = []
        if seg is not None:
            finals.append(seg)
            self._utterance_index += 1
        elif self._last_partial_text:
            # a partial was shown but the final decode found nothing: close it with empty text
            finals.append(Segment(self._segment_id(), offset_ms, end_ms, "", [], True, self._language() or ""))
            self._utterance_index += 1
        self._reset_utterance()
        self._last_partial_ms = -10**9
        return finals

    def _finalize_all(self, start_ms: int, audio: np.ndarray) -> list[Segment]:
        saved = (self._buffer, self._buffer_start_ms)
        self._buffer, self._buffer_start_ms = audio, start_ms
        finals = []
        for s, e in self._vad_regions(audio, self.config.max_utterance_s):
            finals.extend(self._finalize(s, e))
        self._buffer, self._buffer_start_ms = saved
        return finals

    def _speculate(self, region: tuple[int, int]) -> Segment | None:
        """Speech ended ``spec_silence_ms`` ago: decode the utterance now as its final candidate,
        so that the final costs no decode when ``end_silence_ms`` confirms it. Never emits a
        final itself: only ``_finalize`` does, and it uses the candidate only for identical
        audio. The candidate's text is shown as a partial."""
        s, e = region
        if (e - s) < self.config.min_speech_ms * SAMPLE_RATE // 1000:
            return None
        audio = self._buffer[s:e]
        options = self._final_options()
        if self._spec is not None and self._spec[1] == options and np.array_equal(self._spec[0], audio):
            return None  # already decoded: nothing new to show
        result = self._decode(audio, options)
        self._spec = (audio.copy(), options, result)
        self.stats.spec_decodes += 1
        self._last_partial_ms = self.audio_end_ms
        offset_ms = self._buffer_start_ms + s * 1000 // SAMPLE_RATE
        end_ms = self._buffer_start_ms + e * 1000 // SAMPLE_RATE
        seg = self._to_segment(result, offset_ms, end_ms, is_final=False)
        self._partial_words = seg.words if seg is not None else []
        if seg is None or seg.text == self._last_partial_text:
            return None
        self._last_partial_text = seg.text
        return seg

    def _partial(self, region: tuple[int, int]) -> Segment | None:
        cfg = self.config
        interval = cfg.update_interval_ms * (2 if self._level >= 1 else 1)
        if self._level >= 3 or self.audio_end_ms - self._last_partial_ms < interval:
            return None
        s, e = region
        if self._level >= 2:
            s = max(s, e - int(cfg.short_context_s * SAMPLE_RATE))
        if (e - s) < cfg.min_speech_ms * SAMPLE_RATE // 1000:
            return None
        offset_ms = self._buffer_start_ms + s * 1000 // SAMPLE_RATE
        end_ms = self._buffer_start_ms + e * 1000 // SAMPLE_RATE
        prefix: list[Word] = []
        window_ms = int(cfg.partial_window_s * 1000)
        if cfg.policy == "vad" and window_ms > 0 and self._level < 2 and end_ms - offset_ms > window_ms:
            prefix = [w for w in self._partial_words if w[1] <= end_ms - window_ms]
            if prefix:  # restart at the end of the last word kept from the previous partial
                offset_ms = prefix[-1][1]
                s = max(s, (offset_ms - self._buffer_start_ms) * SAMPLE_RATE // 1000)
        result = self._decode(self._buffer[s:e])
        self._last_partial_ms = self.audio_end_ms
        seg = self._to_segment(result, offset_ms, end_ms, is_final=False)
        if prefix:
            head = join_texts([w[2] for w in prefix])
            seg = Segment(self._segment_id(), prefix[0][0], seg.end_ms if seg else prefix[-1][1],
                          join_texts([head, seg.text]) if seg else head, prefix + (seg.words if seg else []),
                          False, seg.language if seg else (self._language() or ""))
        self._partial_words = seg.words if seg is not None else []
        if seg is None:
            return None
        if cfg.policy == "local_agreement":
            committed = self._local_agreement(seg, end_ms)
            if committed is not None:
                return committed
        if seg.text == self._last_partial_text:
            return None  # nothing new to show
        self._last_partial_text = seg.text
        return seg

    def _local_agreement(self, seg: Segment, region_end_ms: int) -> Segment | None:
        """LocalAgreement-2: commit the word prefix two successive hypotheses agree on (and that
        ends ≥ 1 s before the newest audio), cut the buffer after it; the rest stays open."""
        prev, cur = self._prev_partial_words, seg.words
        self._prev_partial_words = cur
        agreed = 0
        while (agreed < min(len(prev), len(cur)) and normalize_text(prev[agreed][2]) == normalize_text(cur[agreed][2])
               and cur[agreed][1] <= region_end_ms - 1000):
            agreed += 1
        if agreed == 0:
            return None
        words = cur[:agreed]
        text = join_texts([w[2] for w in words]) if not any("\u3400" <= c <= "\u9fff" for c in seg.text) else "".join(w[2].strip() for w in words)
        committed = Segment(self._segment_id(), words[0][0], words[-1][1], text.strip(), words, True, seg.language)
        self._committed_in_utt += 1
        self._cut(max(0, (words[-1][1] - self._buffer_start_ms) * SAMPLE_RATE // 1000))
        self._prev_partial_words = []
        self._last_partial_text = ""
        return committed


def _stream_words(words, offset_ms: int, end_limit_ms: int) -> list[Word]:
    """Decoder words → stream-time tuples, clamped inside the utterance and made monotone."""
    out: list[Word] = []
    prev_end = offset_ms
    for w in words:
        text = w.text.strip()
        if not text:
            continue
        start = min(max(offset_ms + int(round(w.start_s * 1000)), prev_end), end_limit_ms)
        end = min(max(offset_ms + int(round(w.end_s * 1000)), start), end_limit_ms)
        out.append((start, end, text, w.probability))
        prev_end = end
    return out
