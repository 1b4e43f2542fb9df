"""Speech: audio chunks → transcripts (partial + final) and host-voice prosody.

One faster-whisper engine per language family is loaded once per worker (lazily, on the first
chunk that needs it) and shared by the rooms; decoding runs in a bounded thread pool, never on
the event loop. Each room has a :class:`models.asr.StreamingAsrSession` (it degrades itself when
compute falls behind; its lag and level are exported as metrics the anomaly stage alerts on).

Restart safety: an audio chunk is acknowledged (its offset may be committed) only once the
session no longer holds its audio (``StreamingAsrSession.held_from_ms``), so after a crash the
open utterance is replayed from its first chunk and no speech is lost. The faust table
``asr_rooms`` keeps, per room, the end of the last final transcript emitted and a session epoch:
the new session gets fresh segment ids under a new epoch, and finals that end at or before the
recorded end are not emitted again. (Prosody windows open at a crash, ≤ 2 s, may be dropped.)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import Gauge

from models.asr import AsrEngine, AsrSessionConfig, BadAudio, DecodeOptions, StreamingAsrSession, decode_chunk
from models.asr.language import choose_room_language
from models.prosody import ProsodyAnalyzer
from processors.base import Processor, release_held
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


class RoomSpeech:
    """One room: its ASR session, prosody analyzer and the ingest times of recent audio."""

    def __init__(self, engine: AsrEngine, language: str, config: AsrSessionConfig, prefix: str, source: str = ""):
        self.session = StreamingAsrSession(engine, language=language, config=config, segment_prefix=prefix)
        self.language_source = source  # where the language came from (override, declared, …)
        self.alerted_unsupported = False
        self.prosody = ProsodyAnalyzer(window_ms=2000)
        self.ingested: deque[tuple[int, float]] = deque(maxlen=400)  # (chunk end ms, ingested_at)
        self.unacked: deque[tuple[int, object]] = deque()  # (chunk end ms, faust event) still held

    def ack_done(self) -> None:
        """Acknowledge the chunks whose audio the session no longer holds."""
        held = self.session.held_from_ms
        while self.unacked and self.unacked[0][0] <= held:
            self.unacked.popleft()[1].ack()

    def ack_all(self) -> None:
        while self.unacked:
            self.unacked.popleft()[1].ack()

    def ingested_at(self, audio_end_ms: int) -> float:
        """``ingested_at`` of the newest chunk the update used (the one covering ``audio_end_ms``)."""
        best = None
        for end_ms, at in self.ingested:
            if end_ms <= audio_end_ms + 1:
                best = at
            else:
                break
        return best if best is not None else (self.ingested[-1][1] if self.ingested else time.time())


def register(ctx: AppContext) -> None:
    s = ctx.settings
    proc = Processor(ctx, NAME, s.budgets.asr)
    table = ctx.app.Table(TABLE, default=None, partitions=s.partitions)
    ctx.tables.append(TABLE)
    engines = Engines(s)
    pool = ThreadPoolExecutor(max_workers=max(1, s.asr.workers), thread_name_prefix="asr")
    config = session_config(s.asr)
    rooms: dict[str, RoomSpeech] = {}
    declared: dict[str, str] = {}  # room -> language its start marker declared (HTTP start has no audio)

    async def run(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def room_for(room_id: str, state: dict, declared: str) -> RoomSpeech:
        """The room's session; a new one (after a start or a restart) gets a new epoch in
        ``state`` so its segment ids never collide with ids emitted before."""
        if room_id not in rooms:
            language, source = resolve_language(s, room_id, declared)
            engine = await run(engines.for_language, language)
            state["epoch"] += 1
            rooms[room_id] = RoomSpeech(engine, language, config, prefix=f"{room_id}:{state['epoch']}:", source=source)
            log.info("room %s: transcribing in %s (%s)", room_id, language, source)
        return rooms[room_id]

    async def alert_unsupported(room_id: str, speech: RoomSpeech, update) -> None:
        """``auto`` heard neither zh nor en: say so once, instead of transcribing nonsense."""
        if not update.unsupported_language or speech.alerted_unsupported:
            return
        speech.alerted_unsupported = True
        heard = update.unsupported_language
        await proc.emit("alerts", Alert(
            room_id=room_id, event_id=f"{room_id}:unsupported_language:{speech.session.language}:{heard}",
            stream_ms=update.audio_end_ms, ingested_at=speech.ingested_at(update.audio_end_ms),
            alert_type="unsupported_language", state="open", severity="warning",
            dedup_key=f"{room_id}:unsupported_language",
            message=(f"the host speaks {heard!r}, neither Chinese nor English: no transcripts for this room "
                     f"(declare its language, or set LIVELENS_ASR__ROOM_LANGUAGES)"),
            evidence={"heard": heard, "language_setting": speech.session.language,
                      "source": speech.language_source}))

    async def emit_update(room_id: str, speech: RoomSpeech, update, state: dict) -> dict:
        ingested_at = speech.ingested_at(update.audio_end_ms)
        for seg in update.finals:
            if seg.end_ms <= state["last_final_end_ms"]:
                continue  # emitted before a restart: finals never change, never repeat
            await proc.emit("transcripts", _transcript(room_id, seg, True, ingested_at))
            state["last_final_end_ms"] = seg.end_ms
        for seg in update.partials:
            await proc.emit("transcripts", _transcript(room_id, seg, False, ingested_at))
        ASR_LAG.labels(room_id).set(update.lag_ms)
        STAGE_DEGRADED.labels(NAME, room_id).set(update.degraded_level)
        return state

    async def emit_prosody(room_id: str, speech: RoomSpeech, windows) -> None:
        for w in windows:
            f = w.features
            await proc.emit("prosody", Prosody(
                room_id=room_id, event_id=f"{room_id}:prosody:{w.start_ms}", stream_ms=w.end_ms,
                ingested_at=speech.ingested_at(w.end_ms), start_ms=w.start_ms, end_ms=w.end_ms,
                energy_db=f.energy_db, pitch_hz=f.pitch_hz, pitch_std_hz=f.pitch_std_hz,
                voiced_ratio=min(max(f.voiced_ratio, 0.0), 1.0), speaking_rate=f.speaking_rate))

    @ctx.app.agent(ctx.topic("audio"), name=f"{s.app_id}.asr")
    async def asr_agent(stream):
        # manual acks: a chunk's offset is committed only once its audio is out of the session
        async for event in stream.noack().events():
            async with proc.guard(event, on_failure=lambda: release_held(event, (r.unacked for r in rooms.values()))):
                ev = await proc.decode(event.value, "audio", (AudioChunk, StreamMarker))
                if ev is None:
                    event.ack()
                    continue
                room_id = ev.room_id
                state = dict(table.get(room_id) or {"last_final_end_ms": -1, "epoch": 0})
                if isinstance(ev, StreamMarker):
                    if ev.marker == "start" and ev.language:
                        declared[room_id] = ev.language
                    if ev.marker == "end":
                        declared.pop(room_id, None)
                    if ev.marker == "end" and room_id in rooms:
                        speech = rooms.pop(room_id)
                        state = await emit_update(room_id, speech, await run(speech.session.finish), state)
                        await emit_prosody(room_id, speech, await run(speech.prosody.finish))
                        table[room_id] = state
                        speech.ack_all()
                    event.ack()
                    continue
                try:
                    pcm = decode_chunk(ev.pcm, ev.sample_rate, ev.channels)
                except BadAudio as exc:
                    await proc.reject(event.value, f"audio: {exc.reason}", "audio", room_id)
                    event.ack()
                    continue
                before = dict(state)
                speech = await room_for(room_id, state, ev.language or declared.get(room_id, ""))
                speech.ingested.append((ev.stream_ms + ev.duration_ms, ev.ingested_at))
                speech.unacked.append((ev.stream_ms + ev.duration_ms, event))
                speech.session.insert_audio_chunk(pcm, ev.stream_ms)
                speech.prosody.insert_audio_chunk(pcm, ev.stream_ms)
                update = await run(speech.session.process_iter)
                state = await emit_update(room_id, speech, update, state)
                await alert_unsupported(room_id, speech, update)
                await emit_prosody(room_id, speech, await run(speech.prosody.process_iter))
                if state != before:
                    table[room_id] = state
                speech.ack_done()


def resolve_language(s, room_id: str, declared: str) -> tuple[str, str]:
    """A room's ASR language and where it came from (models/asr/language.py has the precedence)."""
    return choose_room_language(override=s.asr.room_languages.get(room_id), declared=declared,
                                room_config=room_language(s.rooms_file, room_id), default=s.asr.language)


def session_config(a, policy: str | None = None) -> AsrSessionConfig:
    """The session settings of a room from ``Settings.asr`` (the ASR benchmark uses this too)."""
    return AsrSessionConfig(policy=policy or a.policy, update_interval_ms=int(a.update_interval_s * 1000),
                            end_silence_ms=a.end_silence_ms, spec_silence_ms=a.spec_silence_ms,
                            lead_in_ms=a.lead_in_ms, vad_keep_ms=a.vad_keep_ms, partial_window_s=a.partial_window_s,
                            max_utterance_s=a.max_utterance_s, lag_budget_ms=a.lag_budget_ms,
                            language_id_speech_ms=a.language_id_speech_ms)


def _transcript(room_id: str, seg, is_final: bool, ingested_at: float) -> Transcript:
    words = [Word(start_ms=max(0, int(w[0])), end_ms=max(0, int(w[1])), text=w[2],
                  probability=min(max(float(w[3]), 0.0), 1.0)) for w in seg.words]
    return Transcript(
        room_id=room_id,
        # finals: the segment id (stable); partials: one event per revision
        event_id=f"{seg.segment_id}:final" if is_final else f"{seg.segment_id}:partial:{seg.end_ms}:{time.time_ns()}",
        stream_ms=seg.end_ms, ingested_at=ingested_at, segment_id=seg.segment_id, is_final=is_final,
        start_ms=seg.start_ms, end_ms=seg.end_ms, text=seg.text, language=seg.language or "", words=words)
