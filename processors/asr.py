"""Speech: audio chunks → transcripts (partial + final), host-voice prosody, language alerts.

:class:`AsrProcessor` is a :class:`processors.runtime.RoomProcessor` like every stage: the runtime
decodes the audio topic, dead-letters what is not audio (and chunks ``handle`` refuses with
:class:`~processors.runtime.RejectInput`: wrong sample rate or format, undecodable PCM), emits,
records latency and acks. Its pure core per room is :class:`AsrRoom`: a
:class:`models.asr.StreamingAsrSession` (it degrades itself when compute falls behind; its lag and
level are exported as metrics the anomaly stage alerts on) and a prosody analyzer. ``handle``
runs in the runtime's thread pool (``runs_on = "thread"``, ``LIVELENS_ASR__WORKERS`` threads), so
faster-whisper never blocks the event loop. One engine per language family is loaded once per
worker, on the first chunk that needs it, and shared by the rooms.

Restart safety: a chunk is acknowledged (its offset may be committed) only once the session no
longer holds its audio (``holds_inputs``; ``StreamingAsrSession.held_from_ms``), so after a crash
the open utterance is replayed from its first chunk and no speech is lost. The faust table
``asr_rooms`` keeps, per room, the end of the last final transcript emitted and a session epoch
(written before each offset commit): a new session gets fresh segment ids under a new epoch, and
finals that end at or before the recorded end are not emitted again. (Prosody windows open at a
crash, ≤ 2 s, may be dropped.)

Transcripts carry ``text`` as recognised and ``display``, the same text with spoken numbers,
prices and percentages written as digits (``models.asr.itn``): "二十九块九" → "29.9元".
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field

from prometheus_client import Gauge

from models.asr import AsrEngine, AsrSessionConfig, BadAudio, DecodeOptions, StreamingAsrSession, decode_chunk
from models.asr.bias import bias_options, catalog_terms
from models.asr.itn import to_display
from models.asr.language import choose_room_language
from models.prosody import ProsodyAnalyzer
from processors.runtime import Input, Output, RejectInput, RoomProcessor, attach
from streams.app import AppContext
from streams.observability import STAGE_DEGRADED
from streams.rooms import room_language
from streams.schemas import Alert, AudioChunk, Prosody, StreamMarker, Transcript, Word

log = logging.getLogger(__name__)
NAME = "asr"
TABLE = "asr_rooms"
ASR_LAG = Gauge("livelens_asr_lag_ms", "Audio waiting + compute behind real time, per room", ["room_id"])


class Engines:
    """The worker's shared models, loaded on first use (one per language family)."""

    def __init__(self, settings):
        self.settings = settings
        self._engines: dict[str, AsrEngine] = {}
        self._lock = threading.Lock()

    def for_language(self, language: str) -> AsrEngine:
        a = self.settings.asr
        name = a.model_en if language == "en" else a.model_multi
        with self._lock:
            if name not in self._engines:
                log.info("loading ASR model %s (%s, %s)", name, a.device, a.compute_type)
                self._engines[name] = AsrEngine(
                    name, device=a.device, compute_type=a.compute_type, cpu_threads=a.threads,
                    model_dir=a.model_dir, options=DecodeOptions(beam_size=a.beam_size))
            return self._engines[name]


@dataclass
class AsrRoom:
    """One room's state: what the table keeps (``epoch``, ``last_final_end_ms``) and, while the
    room is open in this worker, its session, prosody analyzer and recent chunks' ingest times."""

    epoch: int = 0
    last_final_end_ms: int = -1
    declared: str = ""  # the language its start marker declared (HTTP start has no audio)
    session: StreamingAsrSession | None = None
    language_source: str = ""  # where the language came from (override, declared, …)
    alerted_unsupported: bool = False
    prosody: ProsodyAnalyzer = field(default_factory=lambda: ProsodyAnalyzer(window_ms=2000))
    ingested: deque = field(default_factory=lambda: deque(maxlen=400))  # (chunk end ms, ingested_at)
    revision: int = 0  # partial revisions emitted (their event ids)
    lag_ms: float = 0.0  # the last update's, for the gauges
    degraded_level: int = 0

    def ingested_at(self, audio_end_ms: int, default: float) -> float:
        """``ingested_at`` of the newest chunk the update used (the one covering ``audio_end_ms``)."""
        best = None
        for end_ms, at in self.ingested:
            if end_ms <= audio_end_ms + 1:
                best = at
            else:
                break
        return best if best is not None else (self.ingested[-1][1] if self.ingested else default)


class AsrProcessor(RoomProcessor):
    name = NAME
    budget = "asr"
    table = TABLE
    runs_on = "thread"
    holds_inputs = True
    inputs = {"audio": (AudioChunk, StreamMarker)}

    def __init__(self, settings, engines: Engines | None = None) -> None:
        super().__init__(settings)
        self.engines = engines or Engines(settings)
        self.config = session_config(settings.asr)
        self._bias: dict[str, DecodeOptions | None] = {}  # language -> the rooms' decode options

    def decode_options(self, language: str) -> DecodeOptions | None:
        """The rooms' decode options in ``language``: biased to the catalog and category when
        ``asr.bias`` says so, for English rooms with a catalog (None: the engine's own). Chinese
        rooms are not biased: every mode raised the streaming CER of the zh sample room
        (BENCHMARKS.md)."""
        a = self.settings.asr
        if a.bias == "none" or a.catalog is None or language != "en":
            return None
        if language not in self._bias:
            names, terms = catalog_terms(a.catalog, self.settings.understanding.category, language, a.bias_max_terms)
            self._bias[language] = bias_options(a.bias, DecodeOptions(beam_size=a.beam_size), names, terms, language)
        return self._bias[language]

    def load_models(self) -> None:
        self.decode_options("en")  # a bad catalog fails before the first room, not at its first chunk

    def thread_workers(self) -> int:
        return self.settings.asr.workers

    # the table keeps two numbers per room; the session lives only in this worker's memory, so a
    # room reloaded after a crash or rebalance starts a new session (under a new epoch)
    def load_state(self, saved: dict | None) -> AsrRoom:
        saved = saved or {}
        return AsrRoom(epoch=int(saved.get("epoch", 0)), last_final_end_ms=int(saved.get("last_final_end_ms", -1)))

    def dump_state(self, room: AsrRoom) -> dict:
        return {"epoch": room.epoch, "last_final_end_ms": room.last_final_end_ms}

    def held_end_ms(self, inp: Input) -> int | None:
        ev = inp.event
        return ev.stream_ms + ev.duration_ms if isinstance(ev, AudioChunk) else None

    def held_from_ms(self, room: AsrRoom) -> int | None:
        return room.session.held_from_ms if room is not None and room.session is not None else None

    def handle(self, inp: Input, room: AsrRoom) -> list[Output]:
        ev, room_id = inp.event, inp.room_id
        if isinstance(ev, StreamMarker):
            if ev.marker == "start" and ev.language:
                room.declared = ev.language
            if ev.marker != "end":
                return []
            room.declared = ""
            if room.session is None:
                return []
            session, prosody = room.session, room.prosody
            outputs = self._updates(room_id, room, session.finish(), inp.received_at)
            outputs += self._prosody(room_id, room, prosody.finish(), inp.received_at)
            room.session, room.prosody = None, ProsodyAnalyzer(window_ms=2000)
            room.ingested.clear()
            return outputs
        try:
            pcm = decode_chunk(ev.pcm, ev.sample_rate, ev.channels)
        except BadAudio as exc:
            raise RejectInput(f"audio: {exc.reason}") from None
        if room.session is None:
            self._open(room_id, room, ev.language or room.declared)
        room.ingested.append((ev.stream_ms + ev.duration_ms, ev.ingested_at))
        room.session.insert_audio_chunk(pcm, ev.stream_ms)
        room.prosody.insert_audio_chunk(pcm, ev.stream_ms)
        update = room.session.process_iter()
        outputs = self._updates(room_id, room, update, inp.received_at)
        outputs += self._unsupported(room_id, room, update, inp.received_at)
        outputs += self._prosody(room_id, room, room.prosody.process_iter(), inp.received_at)
        return outputs

    def after(self, inp: Input, room: AsrRoom) -> None:
        ASR_LAG.labels(inp.room_id).set(room.lag_ms)
        STAGE_DEGRADED.labels(NAME, inp.room_id).set(room.degraded_level)

    def _open(self, room_id: str, room: AsrRoom, declared: str) -> None:
        """A new session (after a start or a restart) under a new epoch, so its segment ids never
        collide with ids emitted before."""
        language, source = resolve_language(self.settings, room_id, declared)
        engine = self.engines.for_language(language)
        room.epoch += 1
        room.session = StreamingAsrSession(engine, language=language, config=self.config,
                                           segment_prefix=f"{room_id}:{room.epoch}:",
                                           options=self.decode_options(language))
        room.language_source, room.alerted_unsupported = source, False
        log.info("room %s: transcribing in %s (%s)", room_id, language, source)

    def _updates(self, room_id: str, room: AsrRoom, update, now: float) -> list[Output]:
        ingested_at = room.ingested_at(update.audio_end_ms, now)
        outputs = []
        for seg in update.finals:
            if seg.end_ms <= room.last_final_end_ms:
                continue  # emitted before a restart: finals never change, never repeat
            outputs.append(Output("transcripts", _transcript(room_id, seg, True, ingested_at)))
            room.last_final_end_ms = seg.end_ms
        for seg in update.partials:
            room.revision += 1
            outputs.append(Output("transcripts", _transcript(room_id, seg, False, ingested_at, room.revision)))
        room.lag_ms, room.degraded_level = update.lag_ms, update.degraded_level
        return outputs

    def _unsupported(self, room_id: str, room: AsrRoom, update, now: float) -> list[Output]:
        """``auto`` heard neither zh nor en: say so once, instead of transcribing nonsense."""
        if not update.unsupported_language or room.alerted_unsupported:
            return []
        room.alerted_unsupported = True
        heard, setting = update.unsupported_language, room.session.language
        return [Output("alerts", Alert(
            room_id=room_id, event_id=f"{room_id}:unsupported_language:{setting}:{heard}",
            stream_ms=update.audio_end_ms, ingested_at=room.ingested_at(update.audio_end_ms, now),
            alert_type="unsupported_language", state="open", severity="warning",
            dedup_key=f"{room_id}:unsupported_language",
            message=(f"the host speaks {heard!r}, neither Chinese nor English: no transcripts for this room "
                     f"(declare its language, or set LIVELENS_ASR__ROOM_LANGUAGES)"),
            evidence={"heard": heard, "language_setting": setting, "source": room.language_source}))]

    def _prosody(self, room_id: str, room: AsrRoom, windows, now: float) -> list[Output]:
        outputs = []
        for w in windows:
            f = w.features
            outputs.append(Output("prosody", Prosody(
                room_id=room_id, event_id=f"{room_id}:prosody:{w.start_ms}", stream_ms=w.end_ms,
                ingested_at=room.ingested_at(w.end_ms, now), start_ms=w.start_ms, end_ms=w.end_ms,
                energy_db=f.energy_db, pitch_hz=f.pitch_hz, pitch_std_hz=f.pitch_std_hz,
                voiced_ratio=min(max(f.voiced_ratio, 0.0), 1.0), speaking_rate=f.speaking_rate)))
        return outputs


def register(ctx: AppContext) -> None:
    attach(ctx, AsrProcessor(ctx.settings))


def resolve_language(s, room_id: str, declared: str) -> tuple[str, str]:
    """A room's ASR language and where it came from (models/asr/language.py has the precedence)."""
    return choose_room_language(override=s.asr.room_languages.get(room_id), declared=declared,
                                room_config=room_language(s.rooms_file, room_id), default=s.asr.language)


def session_config(a, policy: str | None = None) -> AsrSessionConfig:
    """The session settings of a room from ``Settings.asr`` (the ASR benchmark uses this too)."""
    return AsrSessionConfig(policy=policy or a.policy, update_interval_ms=int(a.update_interval_s * 1000),
                            end_silence_ms=a.end_silence_ms, en_end_silence_ms=a.en_end_silence_ms,
                            spec_silence_ms=a.spec_silence_ms,
                            lead_in_ms=a.lead_in_ms, vad_keep_ms=a.vad_keep_ms, partial_window_s=a.partial_window_s,
                            max_utterance_s=a.max_utterance_s, lag_budget_ms=a.lag_budget_ms, degrade_rtf=a.degrade_rtf,
                            language_id_speech_ms=a.language_id_speech_ms,
                            final_encoder_context=a.final_encoder_context)


def _transcript(room_id: str, seg, is_final: bool, ingested_at: float, revision: int = 0) -> Transcript:
    words = [Word(start_ms=max(0, int(w[0])), end_ms=max(0, int(w[1])), text=w[2],
                  probability=min(max(float(w[3]), 0.0), 1.0)) for w in seg.words]
    language = seg.language or ""
    return Transcript(
        room_id=room_id,
        # finals: the segment id (stable); partials: one event per revision
        event_id=f"{seg.segment_id}:final" if is_final else f"{seg.segment_id}:partial:{seg.end_ms}:{revision}",
        stream_ms=seg.end_ms, ingested_at=ingested_at, segment_id=seg.segment_id, is_final=is_final,
        start_ms=seg.start_ms, end_ms=seg.end_ms, text=seg.text, display=display_text(seg.text, language),
        language=language, words=words)


def display_text(text: str, language: str) -> str:
    """``text`` with numbers as digits for people to read (never fails a transcript)."""
    try:
        return to_display(text, language if language in ("zh", "en") else None)
    except Exception:  # noqa: BLE001 - a normaliser bug must not lose the transcript: show it as heard
        log.exception("display text of %r", text[:80])
        return text
