"""``livelens clips render``: a platform-ready clip (MP4, cover, meta.json) from any local video.

    livelens clips render room.mp4 --start 8.5 --end 23 --platform douyin --out out/ --lang zh
    livelens clips render talk.mp4 --start 0 --end 5 --platform tiktok --out out/ --transcript words.json
    livelens clips export --room demo-zh --platform douyin --out exports/ --approved

Without ``--transcript`` the span is transcribed here with the packaged Whisper models (zh: the
multilingual base model, en: tiny.en). ``--transcript`` takes a JSON list of words
(``[{"start": s, "end": s, "text": ...}]``, or ``start_ms``/``end_ms``), an object with ``words``,
the JSON lines of ``livelens transcribe --json``, or a sample room ``script.json`` (sentence
times; its words are spread over each sentence, and its product names the product).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from models.clips.subtitles import TimedWord


class TranscriptError(ValueError):
    pass


def _spread(text: str, start_s: float, end_s: float) -> list[TimedWord]:
    """A sentence with only its own times: its tokens (CJK characters, or words) evenly over it."""
    from models.clips.subtitles import is_cjk

    tokens = [c for c in text if not c.isspace()] if is_cjk(text) else text.split()
    if not tokens:
        return []
    start, end = int(round(start_s * 1000)), int(round(end_s * 1000))
    step = max(1, (end - start) // len(tokens))
    return [TimedWord(start + k * step, min(end, start + (k + 1) * step), t) for k, t in enumerate(tokens)]


def _word(item: dict) -> TimedWord:
    if "start_ms" in item:
        return TimedWord(int(item["start_ms"]), int(item["end_ms"]), str(item["text"]))
    return TimedWord(int(round(float(item["start"]) * 1000)), int(round(float(item["end"]) * 1000)), str(item["text"]))


def read_transcript(path: Path) -> tuple[list[TimedWord], dict[str, Any]]:
    """Words (source time) and extras (``product`` names from a sample room script) from a transcript file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot read: {exc.strerror or exc}") from None
    extras: dict[str, Any] = {}
    try:
        try:
            docs = [json.loads(raw)]
        except json.JSONDecodeError:
            docs = [json.loads(line) for line in raw.splitlines() if line.strip()]  # JSON lines
        words: list[TimedWord] = []
        for doc in docs:
            if isinstance(doc, list):
                words += [_word(w) for w in doc]
            elif isinstance(doc, dict) and "sentences" in doc:
                for s in doc["sentences"]:
                    words += _spread(str(s["text"]), float(s["start"]), float(s["end"]))
                if isinstance(doc.get("product"), dict):
                    extras["product"] = doc["product"]
            elif isinstance(doc, dict) and "words" in doc:
                words += [_word(w) for w in doc["words"]]
            else:
                raise TranscriptError(f"{path}: expected a list of words, or an object with 'words' or 'sentences'")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, TranscriptError):
            raise
        raise TranscriptError(f"{path}: not a transcript: {str(exc).splitlines()[0][:120]}") from None
    return sorted(words, key=lambda w: (w.start_ms, w.end_ms)), extras


def transcribe_span(video: Path, start_s: float, end_s: float, lang: str) -> list[TimedWord]:
    """Words of ``[start_s, end_s)`` (source time), with the packaged Whisper model for ``lang``."""
    from livelens.commands.asr import engine_for, session_config
    from models.asr import StreamingAsrSession, load_media

    audio = load_media(str(video), start_s=start_s, max_s=end_s - start_s)
    if not len(audio):
        return []
    session = StreamingAsrSession(engine_for(lang, None), lang, session_config())
    session.insert_audio_chunk(audio, 0)
    offset = int(round(start_s * 1000))
    return [TimedWord(int(w[0]) + offset, int(w[1]) + offset, str(w[2]))
            for seg in session.finish().finals for w in seg.words]


def register(app: typer.Typer) -> None:
    clips_app = typer.Typer(no_args_is_help=True, help="Clips ready to post: render per platform.")
    app.add_typer(clips_app, name="clips")

    @clips_app.command("render")
    def render(
        video: Path = typer.Argument(..., help="a local video file (anything PyAV decodes)"),
        start: float = typer.Option(..., "--start", help="clip start, seconds into the video"),
        end: float = typer.Option(..., "--end", help="clip end, seconds into the video"),
        platform: str = typer.Option(..., "--platform", help="a profile in media/profiles (douyin, tiktok, ...)"),
        out: Path = typer.Option(..., "--out", help="folder for clip.mp4, cover.jpg and meta.json"),
        transcript: Optional[Path] = typer.Option(None, "--transcript", help="words JSON (default: run ASR)"),
        lang: str = typer.Option("zh", "--lang", help="zh or en: the room's language"),
        product: Optional[str] = typer.Option(None, "--product", help="product name for the title"),
        selling_point: Optional[str] = typer.Option(None, "--selling-point", help="selling point name, e.g. 面料材质"),
    ) -> None:
        """Render one span of VIDEO for one platform: reframed 9:16, subtitles, loudness, cover, title."""
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from media.platforms import ProfileError, load_profile
        from media.render import RenderError, render_clip
        from media.text import FontMissing, cjk_font_path

        console = Console(stderr=True, soft_wrap=True)

        def fail(message: str) -> None:
            typer.echo(f"error: {message}", err=True)  # one line, whatever the terminal width
            raise typer.Exit(1)

        if lang not in ("zh", "en"):
            fail(f"--lang must be zh or en, not {lang!r}")
        try:
            profile = load_profile(platform)
            cjk_font_path()
        except (ProfileError, FontMissing) as exc:
            fail(str(exc))
        if not video.is_file():
            fail(f"{video}: no such file")
        words: list[TimedWord] = []
        extras: dict[str, Any] = {}
        try:
            if transcript is not None:
                words, extras = read_transcript(transcript)
            else:
                with console.status(f"transcribing {start:g}-{end:g} s ({'base' if lang == 'zh' else 'tiny.en'})"):
                    words = transcribe_span(video, start, end, lang)
        except TranscriptError as exc:
            fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - ASR on a file without audio etc.: say it, render without
            console.print(f"[yellow]warning:[/yellow] no transcript ({type(exc).__name__}: {str(exc)[:120]})")
        if product is None and extras.get("product"):
            product = extras["product"].get(f"name_{lang}")

        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def on_progress(stage: str, done: float, total: float) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task({"analyse": "analysing (subject, cover, audio)",
                                                 "render": f"rendering {profile.name}"}.get(stage, stage), total=total)
                bar.update(tasks[stage], completed=done, total=total)

            try:
                result = render_clip(video, start, end, profile, out, words=words, lang=lang, product=product,
                                     selling_point=selling_point, progress=on_progress)
            except (RenderError, FontMissing) as exc:
                fail(str(exc))
        meta = result.meta
        for warning in meta["warnings"]:
            console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
        console.print(f"title: {meta['title']}", highlight=False, markup=False)
        console.print(f"reframe: {meta['reframe']} ({meta['reframe_reason']})", highlight=False, markup=False)
        console.print(f"loudness: {meta['loudness_lufs']} LUFS (target {profile.loudness.integrated_lufs:g}), "
                      f"true peak {meta['true_peak_db']} dBTP; {len(meta['subtitles'])} subtitle cues; "
                      f"render {meta['render_s']:.1f} s ({meta['render_rtf']:.2f} s per clip second)", highlight=False)
        typer.echo(str(result.video))
        typer.echo(str(result.cover))
        typer.echo(str(result.meta_path))

    @clips_app.command("export")
    def export(
        room: str = typer.Option(..., "--room", help="room id (a folder under the clip folder)"),
        platform: str = typer.Option(..., "--platform", help="a profile in media/profiles"),
        out: Path = typer.Option(..., "--out", help="folder for <room>-<platform>.zip"),
        approved: bool = typer.Option(False, "--approved", help="only clips an editor approved"),
        clips_dir: Optional[Path] = typer.Option(None, "--clips-dir", help="default: settings clips_dir"),
    ) -> None:
        """Zip a room's platform renders (made now where missing) with a metadata CSV; rejected clips never."""
        from rich.console import Console

        from media.desk import Desk, DeskError
        from media.platforms import ProfileError, load_profile
        from media.text import FontMissing
        from streams.settings import get_settings

        console = Console(stderr=True, soft_wrap=True)
        try:
            profile = load_profile(platform)
            desk = Desk(clips_dir or get_settings().clips_dir)
            with console.status("exporting") as status:
                def on_clip(entry, i, n):
                    status.update(f"clip {i + 1}/{n}: {entry.clip_id} ({entry.status}) -> {profile.name}")

                path, rows = desk.export(room, profile, out, approved_only=approved, on_clip=on_clip)
        except (DeskError, ProfileError, FontMissing) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1)
        console.print(f"{len(rows)} clips ({sum(r['decision'] == 'approved' for r in rows)} approved) for "
                      f"{profile.name}", highlight=False)
        typer.echo(str(path))
